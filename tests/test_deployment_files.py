"""The production deployment files, checked without a Docker engine: Dockerfile, .dockerignore,
docker-compose.yml, docker-compose-realtime.yml, deploy/prometheus and the Grafana provisioning in
deploy/grafana (tests/test_observability.py runs the rules and the dashboard's queries for real).

The compose files are interpolated the way Compose does it (`${VAR:-default}`, `${VAR:?error}`),
the real-time file's `extends` is resolved against the standard file, and both are validated against
the official compose-spec JSON schema.

tests/data/compose-spec.json is that schema vendored unchanged from the PyPI package
check-jsonschema 0.39.0 (check_jsonschema/builtin_schemas/vendor/compose-spec.json, its copy of
compose-spec/compose-spec's schema, Apache-2.0), so the test needs no network and no extra
dependency. To refresh it, take the same file from a newer check-jsonschema wheel and update
COMPOSE_SPEC_SHA256."""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from router_plugins.config import _ENV_OVERRIDES

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
STANDARD = REPO / "docker-compose.yml"
REALTIME = REPO / "docker-compose-realtime.yml"
PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = REPO / "deploy" / "grafana"
LITELLM_CONFIG = REPO / "litellm_config.yaml"
COMPOSE_SPEC = Path(__file__).resolve().parent / "data" / "compose-spec.json"
COMPOSE_SPEC_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"

# What an operator must provide (the files refuse to start without them), with made-up values.
REQUIRED_ENV = {
    "LITELLM_MASTER_KEY": "sk-deployment-test-key",
    "POSTGRES_PASSWORD": "deployment-test-password",
    "GRAFANA_ADMIN_PASSWORD": "deployment-test-grafana",
}
VLLM_SERVICES = ("vllm-agent", "vllm-vision", "vllm-audio")
COMPOSE_FILES = {"standard": STANDARD, "realtime": REALTIME}


# --- Compose, as far as these files need it -------------------------------------------------------

class MissingVariable(KeyError):
    pass


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env
        set_and_nonempty = bool(env.get(name))
        if op in (":-", "-"):
            return env[name] if (set_and_nonempty if op == ":-" else present) else arg
        if op in (":?", "?"):
            if not (set_and_nonempty if op == ":?" else present):
                raise MissingVariable(f"{name}: {arg}")
            return env[name]
        if op in (":+", "+"):
            return arg if (set_and_nonempty if op == ":+" else present) else ""
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


def load_compose(path: Path, env: Mapping[str, str] = REQUIRED_ENV) -> dict[str, Any]:
    """One compose file, parsed (YAML merge keys included) and interpolated; `extends` left as written."""
    return interpolate(yaml.safe_load(path.read_text(encoding="utf-8")), env)


def _merge(base: Any, override: Any, where: str) -> Any:
    """Compose's merge for the shapes these files override: mappings merge key by key, scalars replace.
    Sequences (ports, volumes, ...) have per-key rules in Compose that are not modelled here."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value, f"{where}.{key}") if key in base else value
        return merged
    if isinstance(base, list) or isinstance(override, list):
        raise NotImplementedError(f"{where}: merging sequences is not modelled; override a mapping instead")
    return override


def resolve_extends(path: Path, env: Mapping[str, str] = REQUIRED_ENV) -> dict[str, Any]:
    """The effective model of a compose file: every service's `extends` applied, as Compose does."""
    document = load_compose(path, env)
    services = document.get("services", {})

    def resolve(name: str, services: dict[str, Any], origin: Path) -> dict[str, Any]:
        service = copy.deepcopy(services[name])
        extends = service.pop("extends", None)
        if extends is None:
            return service
        if isinstance(extends, str):
            extends = {"service": extends}
        if "file" in extends:
            base_path = (origin.parent / extends["file"]).resolve()
            base_services = load_compose(base_path, env)["services"]
        else:
            base_path, base_services = origin, services
        base = resolve(extends["service"], base_services, base_path)
        return _merge(base, service, f"services.{name}")

    document["services"] = {name: resolve(name, services, path) for name in services}
    return document


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def published_ports(service: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(host port, container port) pairs from the short "HOST:CONTAINER" syntax."""
    pairs = []
    for port in service.get("ports", []):
        assert isinstance(port, str) and port.count(":") == 1, f"use quoted HOST:CONTAINER ports: {port!r}"
        host, container = port.split(":")
        pairs.append((host, container.split("/")[0]))
    return pairs


def command_option(service: Mapping[str, Any], option: str) -> str:
    command = service["command"]
    argv = shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]
    return argv[argv.index(option) + 1]


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    return json.loads(COMPOSE_SPEC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=sorted(COMPOSE_FILES))
def effective(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """(kind, effective compose model) for the standard and the real-time file."""
    return request.param, resolve_extends(COMPOSE_FILES[request.param])


# --- Dockerfile -----------------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and line continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a line continuation"
    return instructions


def instruction_args(keyword: str) -> list[str]:
    return [arguments for name, arguments in dockerfile_instructions() if name == keyword]


def dockerfile_cmd() -> list[str]:
    (cmd,) = instruction_args("CMD")
    return json.loads(cmd)


def dockerfile_port() -> int:
    cmd = dockerfile_cmd()
    return int(cmd[cmd.index("--port") + 1])


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip().lstrip("/") for line in lines if line.strip() and not line.strip().startswith("#")]


def dockerignored(relative: str) -> bool:
    """Whether .dockerignore drops `relative`, by Docker's rule: the last pattern that matches the path
    or one of its parent directories decides, and a `!` pattern takes the path back in."""
    parts = Path(relative).parts
    candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    ignored = False
    for pattern in dockerignore_patterns():
        negated = pattern.startswith("!")
        glob = pattern[1:] if negated else pattern
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, glob) or (
                glob.startswith("**/") and fnmatch.fnmatchcase(Path(candidate).name, glob[3:])
            ):
                ignored = not negated
                break
    return ignored


def test_dockerfile_builds_the_production_image() -> None:
    (base,) = instruction_args("FROM")
    assert base == "python:3.11-slim"
    runs = " ".join(instruction_args("RUN"))
    assert "pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in runs
    # No extras: vLLM serves the models in production, and tests do not run in the image.
    assert re.search(r"pip install /app(\s|$)", runs), runs
    assert "/app[" not in runs and "[local" not in runs and "[test" not in runs
    envs = " ".join(instruction_args("ENV"))
    assert re.search(r"\bLITELLM_LOCAL_MODEL_COST_MAP=True\b", envs)


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = instruction_args("USER")
    assert users, "no USER instruction: the router would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_cmd_expose_and_healthcheck_agree() -> None:
    assert dockerfile_cmd() == [
        "litellm", "--config", "/app/litellm_config.yaml", "--host", "0.0.0.0", "--port", "8001", "--num_workers", "2",
    ]
    assert instruction_args("EXPOSE") == [str(dockerfile_port())]
    (healthcheck,) = instruction_args("HEALTHCHECK")
    assert f"127.0.0.1:{dockerfile_port()}/health/liveliness" in healthcheck


def copied_sources(arguments: str) -> list[str]:
    """The repo paths one COPY instruction takes, wildcards expanded as Docker expands them."""
    *sources, _ = shlex.split(arguments)
    matched = []
    for source in sources:
        if any(char in source for char in "*?["):
            # Docker accepts a wildcard that matches nothing beside other sources (an optional file).
            matched += [str(path.relative_to(REPO)) for path in REPO.glob(source)]
        else:
            assert (REPO / source).exists(), f"COPY {source}: no such file in the repo"
            matched.append(source.rstrip("/"))
    return matched


def test_dockerfile_copies_files_that_exist_and_are_not_dockerignored() -> None:
    copies = instruction_args("COPY")
    assert copies
    copied: set[str] = set()
    for arguments in copies:
        words = shlex.split(arguments)
        assert not any(word.startswith("--") for word in words), f"unexpected COPY flags: {arguments}"
        matched = copied_sources(arguments)
        assert matched, f"COPY {arguments}: copies nothing"
        for source in matched:
            assert not dockerignored(source), f"COPY {source}: excluded by .dockerignore"
        copied.update(matched)
        assert words[-1].startswith("/app"), arguments
    # What `pip install /app` and the CMD need.
    assert {"pyproject.toml", "router_plugins", "litellm_config.yaml"} <= copied


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    for path in (".venv", ".git", ".run", "eval/queries_holdout.jsonl", "tests", "router_plugins/__pycache__",
                 ".pytest_cache"):
        assert dockerignored(path), f"{path} would be sent to the build context"


# --- Compose --------------------------------------------------------------------------------------

def test_vendored_compose_schema_is_unchanged() -> None:
    assert hashlib.sha256(COMPOSE_SPEC.read_bytes()).hexdigest() == COMPOSE_SPEC_SHA256


@pytest.mark.parametrize("kind", sorted(COMPOSE_FILES))
def test_compose_file_is_valid_compose_spec(kind: str, compose_schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(compose_schema)
    as_written = load_compose(COMPOSE_FILES[kind])
    effective = resolve_extends(COMPOSE_FILES[kind])
    for label, document in (("as written", as_written), ("with extends applied", effective)):
        errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
        assert not errors, f"{kind} ({label}): " + "; ".join(
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors
        )


@pytest.mark.parametrize("kind", sorted(COMPOSE_FILES))
@pytest.mark.parametrize("variable", sorted(REQUIRED_ENV))
def test_compose_refuses_to_start_without_required_variables(kind: str, variable: str) -> None:
    env = {key: value for key, value in REQUIRED_ENV.items() if key != variable}
    with pytest.raises(MissingVariable, match=variable):
        resolve_extends(COMPOSE_FILES[kind], env)


def test_realtime_file_extends_every_standard_service() -> None:
    standard = load_compose(STANDARD)["services"]
    realtime = load_compose(REALTIME)["services"]
    assert set(realtime) == set(standard)
    for name, service in realtime.items():
        assert service["extends"] == {"file": STANDARD.name, "service": name}


def test_services_are_the_guides_standard_deployment(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    assert set(document["services"]) == {*VLLM_SERVICES, "redis", "postgres", "router", "prometheus", "grafana"}


def test_depends_on_names_existing_services(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    services = document["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        conditions = depends_on if isinstance(depends_on, dict) else {dep: {} for dep in depends_on}
        for dependency, spec in conditions.items():
            assert dependency in services, f"{name} depends on undefined service {dependency}"
            if (spec or {}).get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency} to be healthy"


def test_router_waits_for_redis_and_postgres(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    depends_on = document["services"]["router"]["depends_on"]
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert depends_on["postgres"]["condition"] == "service_healthy"
    for name in VLLM_SERVICES:
        assert depends_on[name]["condition"] == "service_started"


def test_named_volumes_and_secrets_are_declared(effective: tuple[str, dict[str, Any]]) -> None:
    # `extends` copies services, not top-level volumes and secrets: each file must declare its own.
    _, document = effective
    volumes = set(document.get("volumes") or {})
    secrets = set(document.get("secrets") or {})
    for name, service in document["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith((".", "/", "~")):
                assert source in volumes, f"{name}: volume {source} is not declared"
        for secret in service.get("secrets", []):
            secret_name = secret if isinstance(secret, str) else secret["source"]
            assert secret_name in secrets, f"{name}: secret {secret_name} is not declared"


def test_bind_mounted_host_files_exist(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    binds = []
    for name, service in document["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith(("/", "~")):
                pytest.fail(f"{name}: bind mount {source} depends on the host; keep it inside the repo")
            if source.startswith("."):
                binds.append(source)
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
    assert {"./deploy/prometheus/prometheus.yml", "./deploy/prometheus/rules.yml", "./deploy/grafana/provisioning",
            "./deploy/grafana/dashboards"} <= set(binds)


def test_router_is_built_here_and_published_on_the_dockerfile_port(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    router = document["services"]["router"]
    build = router["build"]
    context = build if isinstance(build, str) else build["context"]
    assert (REPO / context / "Dockerfile").resolve() == DOCKERFILE
    port = str(dockerfile_port())
    assert published_ports(router) == [(port, port)]
    assert f"127.0.0.1:{port}/health/" in " ".join(router["healthcheck"]["test"])


def test_only_the_guides_ports_are_published(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    published = {name: published_ports(service) for name, service in document["services"].items()}
    assert published == {
        "vllm-agent": [("8000", "8000")],  # the guide's "Direct vLLM API"
        "vllm-vision": [],
        "vllm-audio": [],
        "redis": [],
        "postgres": [],
        "router": [("8001", "8001")],
        "prometheus": [("9090", "9090")],
        "grafana": [("3000", "3000")],  # the guide's dashboard address
    }


def test_router_environment_covers_the_config(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    env = environment(document["services"]["router"])

    def references(node: Any) -> set[str]:
        if isinstance(node, dict):
            return set().union(*(references(value) for value in node.values()))
        if isinstance(node, list):
            return set().union(*(references(value) for value in node))
        if isinstance(node, str) and node.startswith("os.environ/"):
            return {node.removeprefix("os.environ/")}
        return set()

    config_variables = references(yaml.safe_load(LITELLM_CONFIG.read_text(encoding="utf-8")))
    assert {"AGENT_API_BASE", "VISION_API_BASE", "AUDIO_API_BASE", "LITELLM_MASTER_KEY"} <= config_variables
    # Everything the config reads from the environment, and every override router_plugins reads.
    for variable in config_variables | set(_ENV_OVERRIDES) | {"DATABASE_URL"}:
        assert env.get(variable), f"router environment lacks {variable}"
    assert env["LITELLM_MASTER_KEY"] == REQUIRED_ENV["LITELLM_MASTER_KEY"]
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["ROUTER_ALLOW_UNAUTHENTICATED_LOOPBACK"] == "false"
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    database = urlsplit(env["DATABASE_URL"])
    assert database.scheme == "postgresql" and database.hostname == "postgres"
    assert database.password == REQUIRED_ENV["POSTGRES_PASSWORD"]


def test_each_api_base_reaches_the_vllm_server_of_its_model(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    services = document["services"]
    env = environment(services["router"])
    config = yaml.safe_load(LITELLM_CONFIG.read_text(encoding="utf-8"))
    served = set()
    for deployment in config["model_list"]:
        params = deployment["litellm_params"]
        url = urlsplit(env[params["api_base"].removeprefix("os.environ/")])
        assert url.path == "/v1", url
        server = services[url.hostname]
        assert command_option(server, "--model") == params["model"].removeprefix("hosted_vllm/")
        assert str(url.port) == command_option(server, "--port")
        served.add(url.hostname)
    assert served == set(VLLM_SERVICES)


def test_vllm_servers(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    gpus = []
    for name in VLLM_SERVICES:
        service = document["services"][name]
        assert re.fullmatch(r"vllm/vllm-openai:v\d+(\.\d+)+(\.post\d+)?", service["image"]), service["image"]
        assert command_option(service, "--gpu-memory-utilization") == "0.9"
        assert "VLLM_USE_TRITON_KERNEL" in environment(service)
        assert any(volume.endswith(":/root/.cache/huggingface") for volume in service["volumes"])
        assert ":8000/health" in " ".join(service["healthcheck"]["test"])
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
        # `count` and `device_ids` exclude each other; `count: 1` would put every server on GPU 0.
        assert "count" not in device and len(device["device_ids"]) == 1
        gpus.append(device["device_ids"][0])
    assert len(set(gpus)) == len(gpus), f"the vLLM servers share a GPU by default: {gpus}"


def test_redis_keeps_nothing_on_disk(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    redis = document["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    command = " ".join(redis["command"]) if isinstance(redis["command"], list) else redis["command"]
    assert "--appendonly no" in command and "--save" in command
    assert "volumes" not in redis


def test_every_long_running_service_has_a_healthcheck(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    for name in (*VLLM_SERVICES, "redis", "postgres", "router"):
        assert document["services"][name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_routing_mode_per_file(effective: tuple[str, dict[str, Any]]) -> None:
    kind, document = effective
    assert environment(document["services"]["router"])["ROUTING_MODE"] == kind
    # An operator's ROUTING_MODE picks the standard file's mode but cannot turn the real-time file off.
    overridden = resolve_extends(COMPOSE_FILES[kind], {**REQUIRED_ENV, "ROUTING_MODE": "realtime"})
    assert environment(overridden["services"]["router"])["ROUTING_MODE"] == "realtime"
    if kind == "realtime":
        forced = resolve_extends(REALTIME, {**REQUIRED_ENV, "ROUTING_MODE": "standard"})
        assert environment(forced["services"]["router"])["ROUTING_MODE"] == "realtime"


def test_both_files_are_one_project_with_one_set_of_volumes() -> None:
    standard, realtime = load_compose(STANDARD), load_compose(REALTIME)
    assert standard["name"] == realtime["name"]
    assert set(standard["volumes"]) == set(realtime["volumes"])
    assert standard["secrets"] == realtime["secrets"]


# --- Prometheus -----------------------------------------------------------------------------------

def scrape_job(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == name]
    return job


def targets(job: Mapping[str, Any]) -> list[str]:
    return [target for static in job["static_configs"] for target in static["targets"]]


def test_prometheus_scrapes_the_router_with_the_master_key(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    job = scrape_job(config, "router")
    assert targets(job) == [f"router:{dockerfile_port()}"]
    assert job["metrics_path"] == "/metrics/"
    auth = job["authorization"]
    assert auth.get("type", "Bearer") == "Bearer" and "credentials" not in auth
    # The credentials file is the compose secret holding LITELLM_MASTER_KEY.
    prometheus = document["services"]["prometheus"]
    secret_name = auth["credentials_file"].removeprefix("/run/secrets/")
    assert secret_name in prometheus["secrets"]
    assert document["secrets"][secret_name] == {"environment": "LITELLM_MASTER_KEY"}


def test_prometheus_scrapes_every_vllm_server(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    job = scrape_job(config, "vllm")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    expected = {f"{name}:{command_option(document['services'][name], '--port')}" for name in VLLM_SERVICES}
    assert set(targets(job)) == expected


def bind_mounts(service: Mapping[str, Any]) -> dict[str, Path]:
    """Container path -> repository path of a service's bind mounts."""
    return {
        volume.split(":")[1]: (REPO / volume.split(":")[0]).resolve()
        for volume in service.get("volumes", [])
        if volume.startswith(".")
    }


def test_prometheus_service_loads_this_config_and_its_rules(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    prometheus = document["services"]["prometheus"]
    config_file = next(arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file="))
    mounts = bind_mounts(prometheus)
    assert mounts[config_file] == PROMETHEUS
    assert published_ports(prometheus) == [("9090", "9090")]
    # Prometheus reads rule_files relative to its config file: each must be mounted there from the repo.
    rule_files = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))["rule_files"]
    assert rule_files
    for rule_file in rule_files:
        assert mounts[str(Path(config_file).parent / rule_file)] == PROMETHEUS.parent / rule_file


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(effective: tuple[str, dict[str, Any]]) -> None:
    _, document = effective
    grafana = document["services"]["grafana"]
    mounts = bind_mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == GRAFANA / "provisioning"
    (datasource,) = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())["datasources"]
    url = urlsplit(datasource["url"])
    assert datasource["type"] == "prometheus" and url.hostname == "prometheus"
    assert str(url.port) in {container for _, container in published_ports(document["services"]["prometheus"])}
    (provider,) = yaml.safe_load((GRAFANA / "provisioning/dashboards/router.yml").read_text())["providers"]
    dashboards = mounts[provider["options"]["path"]]
    assert dashboards == GRAFANA / "dashboards" and list(dashboards.glob("*.json"))
    home = Path(environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (dashboards / home.relative_to(provider["options"]["path"])).is_file()
    assert environment(grafana)["GF_SECURITY_ADMIN_PASSWORD"] == REQUIRED_ENV["GRAFANA_ADMIN_PASSWORD"]


def test_the_image_holds_every_file_the_yaml_trains_on() -> None:
    copied = {source for arguments in instruction_args("COPY") for source in copied_sources(arguments)}
    routing = yaml.safe_load(LITELLM_CONFIG.read_text(encoding="utf-8"))["routing"]
    patterns = [*routing["classifier"]["examples"], *routing["session"]["conversations"]]
    for pattern in patterns:
        for path in REPO.glob(pattern):
            relative = str(path.relative_to(REPO))
            assert any(relative == source or relative.startswith(source + "/") for source in copied), (
                f"{relative} (routing data) is not copied into the image"
            )
