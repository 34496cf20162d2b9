"""The Helm chart in deploy/helm/vllm-usecase-router, checked without a cluster.

The chart is rendered by Helm itself (Helm v4's Go SDK, through the `helm-python-sdk` wheel: no helm
binary) and every object is validated against the Kubernetes JSON schemas that `kubernetes-validate`
bundles, in their strict form (unknown fields are errors), for the oldest Kubernetes the chart claims
(Chart.yaml's kubeVersion) and the newest the package knows. The rest checks that the objects fit the
router and each other: the config is litellm_config.yaml byte for byte and sits where the image reads
it, every variable the router reads is set and accepted by the router's own config parser, a real
router process started with the manifest's environment answers the probes without a key (and refuses
keyless requests elsewhere), each model's api_base reaches the vLLM server of that model, and the PDB
and the HPA act on the router's pods and nothing else."""

from __future__ import annotations

import hashlib
import re
import tarfile
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import helm_python as helm
import kubernetes_validate
import pytest
import redis
import requests
import yaml
from kubernetes_validate.utils import latest_version

from router_plugins.config import _ENV_OVERRIDES, RoutingConfig, parse_routing_config
from router_plugins.core.types import RoutingMode

from .conftest import DEAD_PORT_BASE, Router, start_router, stop_router
from .test_deployment_files import (
    LITELLM_CONFIG,
    REPO,
    REQUIRED_ENV,
    STANDARD,
    VLLM_SERVICES,
    MissingVariable,
    command_option,
    dockerfile_cmd,
    dockerfile_port,
    instruction_args,
    resolve_extends,
)

CHART = REPO / "deploy" / "helm" / "vllm-usecase-router"
CONFIG_IN_CHART = "files/litellm_config.yaml"
RELEASE, NAMESPACE = "prod", "llm"
COMPONENT = "app.kubernetes.io/component"

helm.disable_logging()  # Helm logs every symlink it follows; the config link is deliberate.


# --- Rendering ------------------------------------------------------------------------------------

def render(values: Mapping[str, Any] | None = None, chart: Path = CHART) -> list[dict[str, Any]]:
    """The objects `helm install prod <chart> -n llm --set ...` would create."""
    with helm.Chart.load(chart) as loaded:
        manifests = loaded.render(dict(values or {}), name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects = []
    for template, text in sorted(manifests.items()):
        if template.endswith("NOTES.txt"):
            continue
        objects += [document for document in yaml.safe_load_all(text) if document]
    return objects


def chart_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def pod_labels(workload: Mapping[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def selected(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def only_container(workload: Mapping[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container


def component(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (obj,) = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["labels"][COMPONENT] == name]
    return obj


def router_deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return component(objects, "Deployment", "router")


def env_of(container: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    names = [item["name"] for item in container.get("env", [])]
    # Kubernetes accepts a repeated name and keeps the last one: a silent override.
    assert len(names) == len(set(names)), f"{container['name']}: repeated env names {names}"
    return {item["name"]: item for item in container.get("env", [])}


def literal_env(container: Mapping[str, Any]) -> dict[str, str]:
    """Environment values as the process sees them; Secret references become placeholders."""
    return {
        name: item["value"] if "value" in item else f"<from {item['valueFrom']}>"
        for name, item in env_of(container).items()
    }


def container_port(container: Mapping[str, Any], port: int | str) -> int:
    """A probe's or Service's target port (a number or a port name) as the container's port number."""
    ports = container.get("ports", [])
    if isinstance(port, str):
        (number,) = [item["containerPort"] for item in ports if item.get("name") == port]
        return number
    assert port in [item["containerPort"] for item in ports], f"{port} is not a port of {container['name']}"
    return port


def workload_behind(objects: list[dict[str, Any]], service: Mapping[str, Any]) -> dict[str, Any]:
    """The one Deployment whose pods a Service selects."""
    selector = service["spec"]["selector"]
    matches = [obj for obj in of_kind(objects, "Deployment").values() if selected(selector, pod_labels(obj))]
    assert len(matches) == 1, f"Service {service['metadata']['name']} selects {len(matches)} Deployments"
    return matches[0]


def service_for_url(objects: list[dict[str, Any]], url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Service, its port entry) a cluster URL such as http://name:8000/v1 reaches from the release's namespace."""
    parts = urlsplit(url)
    name, *rest = (parts.hostname or "").split(".")
    assert not rest or rest[0] == NAMESPACE, f"{url}: another namespace"
    services = of_kind(objects, "Service")
    assert name in services, f"{url}: no Service {name} in the chart ({sorted(services)})"
    service = services[name]
    (port,) = [item for item in service["spec"]["ports"] if item["port"] == parts.port]
    return service, port


_VARIABLE_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(argument: str, env: Mapping[str, str]) -> str:
    """The kubelet's $(VAR) expansion of args: only variables the container defines are replaced."""
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VARIABLE_REFERENCE.sub(substitute, argument)


def option(argv: list[str], name: str) -> str:
    assert argv.count(name) == 1, f"{name} appears {argv.count(name)} times in {argv}"
    return argv[argv.index(name) + 1]


def config_environment_variables() -> set[str]:
    """Every os.environ/NAME that litellm_config.yaml reads."""
    def references(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for value in node.values():
                yield from references(value)
        elif isinstance(node, list):
            for value in node:
                yield from references(value)
        elif isinstance(node, str) and node.startswith("os.environ/"):
            yield node.removeprefix("os.environ/")

    return set(references(yaml.safe_load(LITELLM_CONFIG.read_text(encoding="utf-8"))))


def compose_vllm_services() -> dict[str, dict[str, Any]]:
    """docker-compose.yml's vLLM services with its defaults applied. The variables compose insists on
    (${VAR:?...}, none of them the vLLM servers') get placeholders."""
    env = dict(REQUIRED_ENV)
    while True:
        try:
            services = resolve_extends(STANDARD, env)["services"]
            break
        except MissingVariable as missing:
            name = str(missing.args[0]).split(":")[0]
            assert name not in env, missing
            env[name] = "placeholder"
    return {name: services[name] for name in VLLM_SERVICES}


def seconds(duration: str) -> int:
    """A compose duration such as 30m, 2m30s or 90s."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([hms])", duration)
    assert "".join(number + unit for number, unit in parts) == duration, duration
    return sum(int(number) * units[unit] for number, unit in parts)


# Values that switch on every optional branch of the templates.
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "external-redis-url": {"redis": {"enabled": False, "externalUrl": "rediss://:secret@cache.example.com:6380/2"}},
    "external-redis-secret": {"redis": {"enabled": False, "externalUrlSecret": {"name": "redis-url"}}},
    "fixed-replicas": {"router": {"autoscaling": {"enabled": False}, "podDisruptionBudget": {"enabled": False},
                                  "replicas": 2}},
    "external-audio-model": {"vllm": {"models": {"audio": {"externalUrl": "http://audio.gpu-pool:8000/v1"}}}},
    "everything-optional": {
        "router": {
            "databaseUrlSecret": {"name": "litellm-db"},
            "extraEnv": [{"name": "LITELLM_LOG", "value": "INFO"}],
            "imagePullSecrets": [{"name": "registry"}],
            "nodeSelector": {"pool": "cpu"},
            "podAnnotations": {"example.com/team": "llm"},
            "service": {"type": "LoadBalancer", "annotations": {"example.com/lb": "internal"}},
        },
        "vllm": {"hfTokenSecret": {"name": "hf"}, "cache": {"existingClaim": "hf-cache"},
                 "nodeSelector": {"gpu": "a100"}},
    },
}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render()


# --- Schemas and Helm's own checks ----------------------------------------------------------------

def kubernetes_versions() -> list[str]:
    """The oldest release Chart.yaml accepts and the newest kubernetes-validate has schemas for."""
    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["kubeVersion"]
    oldest = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", constraint)
    assert oldest, f"kubeVersion {constraint!r}: expected a plain lower bound"
    return [oldest.group(1), latest_version()]


@pytest.mark.parametrize("version", kubernetes_versions())
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_is_valid_kubernetes(variant: str, version: str) -> None:
    rendered = render(VARIANTS[variant])
    assert rendered
    problems = []
    for obj in rendered:
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{where}: {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            # Not a warning: an object whose kind the cluster does not know fails the install.
            problems.append(f"{where}: {error.message}")
    assert not problems, f"{variant} against Kubernetes {version}:\n" + "\n".join(problems)


def test_object_names_are_unique_and_in_the_release_namespace() -> None:
    for variant in VARIANTS.values():
        rendered = render(variant)
        keys = [(obj["kind"], obj["metadata"]["name"]) for obj in rendered]
        assert len(keys) == len(set(keys)), keys
        for obj in rendered:
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]
            # DNS labels: Services longer than 63 characters are rejected by the API server.
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", obj["metadata"]["name"]), obj["metadata"]


@pytest.mark.parametrize("version", kubernetes_versions())
def test_helm_lint_finds_nothing(version: str) -> None:
    report = helm.lint(CHART, strict=True, kube_version=f"v{version}.0")
    assert report["errors"] == []
    # Severity 1 is informational ("icon is recommended"); 2 and 3 are warnings and errors.
    assert [message for message in report["messages"] if message["severity"] >= 2] == []


def test_the_default_install_creates_the_guides_deployment(objects: list[dict[str, Any]]) -> None:
    kinds = sorted((obj["kind"], obj["metadata"]["labels"][COMPONENT]) for obj in objects)
    assert kinds == sorted([
        ("ConfigMap", "router"), ("Deployment", "router"), ("Service", "router"),
        ("PodDisruptionBudget", "router"), ("HorizontalPodAutoscaler", "router"),
        ("Deployment", "redis"), ("Service", "redis"),
        *[(kind, f"vllm-{model}") for model in ("agent", "vision", "audio") for kind in ("Deployment", "Service")],
    ])


def test_values_schema_rejects_what_the_router_would_refuse_at_startup() -> None:
    for values, complaint in (
        ({"router": {"routingMode": "fast"}}, "routingMode"),
        ({"router": {"sessionTimeout": 0}}, "sessionTimeout"),
        ({"vllm": {"gpuMemoryUtilization": "90%"}}, "gpuMemoryUtilization"),
        ({"vllm": {"models": {"extra": {"model": "x/y", "apiBaseEnv": "extra-base"}}}}, "apiBaseEnv"),
    ):
        with pytest.raises(helm.HelmValuesError, match=complaint):
            render(values)


# --- The config -----------------------------------------------------------------------------------

def test_the_configmap_is_litellm_config_verbatim(objects: list[dict[str, Any]]) -> None:
    (config_map,) = of_kind(objects, "ConfigMap").values()
    assert config_map["data"] == {"litellm_config.yaml": LITELLM_CONFIG.read_text(encoding="utf-8")}


def test_the_packaged_chart_carries_the_config_not_a_link(tmp_path: Path) -> None:
    # A chart pushed to a repository is its .tgz: the link must be resolved into a real file there.
    archive = Path(helm.package(CHART, destination=tmp_path))
    with tarfile.open(archive) as tar:
        member = tar.getmember(f"{CHART.name}/{CONFIG_IN_CHART}")
        assert member.isfile()
        assert tar.extractfile(member).read() == LITELLM_CONFIG.read_bytes()
    (config_map,) = of_kind(render(chart=archive), "ConfigMap").values()
    assert config_map["data"]["litellm_config.yaml"] == LITELLM_CONFIG.read_text(encoding="utf-8")


def test_the_config_is_mounted_where_the_image_reads_it(objects: list[dict[str, Any]]) -> None:
    deployment = router_deployment(objects)
    container = only_container(deployment)
    assert "command" not in container and "args" not in container, "the image's CMD names the config path"
    cmd = dockerfile_cmd()
    config_path = PurePosixPath(option(cmd, "--config"))
    (mount,) = [item for item in container["volumeMounts"] if PurePosixPath(item["mountPath"]) == config_path]
    (volume,) = [item for item in deployment["spec"]["template"]["spec"]["volumes"] if item["name"] == mount["name"]]
    (config_map,) = of_kind(objects, "ConfigMap").values()
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert mount["subPath"] in config_map["data"] and mount.get("readOnly") is True
    # The config's example globs are relative to it: it must sit beside the files the image copies
    # with it (eval/, router_plugins/), not in a directory of its own.
    (copy,) = [args.split() for args in instruction_args("COPY") if "litellm_config.yaml" in args.split()[:-1]]
    assert config_path == PurePosixPath(copy[-1]) / "litellm_config.yaml"


def test_a_config_change_rolls_the_router_pods(objects: list[dict[str, Any]]) -> None:
    # subPath mounts never see a ConfigMap update; only a changed pod template restarts the router.
    annotations = router_deployment(objects)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/config"] == hashlib.sha256(LITELLM_CONFIG.read_bytes()).hexdigest()


# --- The router -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def router_as_deployed(objects: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    """A real router process with the manifest's environment. What only a cluster has is swapped for
    local stand-ins: Redis on 127.0.0.1, a made-up master key, and model servers that are down (the
    probes must answer without them). One worker: which paths need a key does not depend on the count."""
    env = literal_env(only_container(router_deployment(objects)))
    cluster_bound = {"LITELLM_MASTER_KEY", "REDIS_URL"} | {
        variable for variable in config_environment_variables() if variable.endswith("_API_BASE")
    }
    local_env = {name: value for name, value in env.items() if name not in cluster_bound}
    assert local_env["ROUTER_ALLOW_UNAUTHENTICATED_LOOPBACK"] == "false"  # so loopback needs the key too
    router = start_router(tmp_path_factory.mktemp("k8s-router"), DEAD_PORT_BASE, env=local_env)
    yield router
    stop_router(router)


def test_router_probes_answer_the_kubelet_without_a_key(
    objects: list[dict[str, Any]], router_as_deployed: Router
) -> None:
    container = only_container(router_deployment(objects))
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    for kind, probe in probes.items():
        assert container_port(container, probe["port"]) == dockerfile_port(), kind
        assert probe.get("scheme", "HTTP") == "HTTP" and "httpHeaders" not in probe, kind
        # The kubelet sends no key.
        response = requests.get(router_as_deployed.url + probe["path"], timeout=10)
        assert response.status_code == 200, f"{kind} {probe['path']}: {response.status_code} {response.text[:200]}"
    # The same process does refuse a keyless request elsewhere: the 200s above are not an open door.
    assert requests.get(router_as_deployed.url + "/stats", timeout=10).status_code == 401
    assert router_as_deployed.get("/stats").status_code == 200
    assert probes["livenessProbe"]["path"] != probes["readinessProbe"]["path"], (
        "liveness on readiness would restart every router whose warm-up is slow"
    )


def test_router_port_is_the_images(objects: list[dict[str, Any]]) -> None:
    deployment = router_deployment(objects)
    container = only_container(deployment)
    assert [port["containerPort"] for port in container["ports"]] == [dockerfile_port()]
    service = component(objects, "Service", "router")
    assert workload_behind(objects, service) is deployment
    (port,) = service["spec"]["ports"]
    assert container_port(container, port["targetPort"]) == dockerfile_port()
    assert port["port"] == chart_values()["router"]["service"]["port"]


def test_router_image_is_this_projects_version(objects: list[dict[str, Any]]) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["appVersion"] == version
    repository = chart_values()["router"]["image"]["repository"]
    assert only_container(router_deployment(objects))["image"] == f"{repository}:{version}"
    pinned = only_container(router_deployment(render({"router": {"image": {"tag": "2024-06-01"}}})))
    assert pinned["image"] == f"{repository}:2024-06-01"


def test_router_environment_sets_every_variable_the_router_reads(objects: list[dict[str, Any]]) -> None:
    container = only_container(router_deployment(objects))
    env = env_of(container)
    needed = config_environment_variables() | set(_ENV_OVERRIDES)
    assert {"AGENT_API_BASE", "VISION_API_BASE", "AUDIO_API_BASE", "LITELLM_MASTER_KEY", "REDIS_URL"} <= needed
    missing = needed - set(env)
    assert not missing, f"router environment lacks {sorted(missing)}"
    # The key comes from a Secret, never from a value in the manifest.
    master_key = env["LITELLM_MASTER_KEY"]
    assert "value" not in master_key
    assert master_key["valueFrom"]["secretKeyRef"] == chart_values()["router"]["masterKeySecret"]
    assert env["ROUTER_ALLOW_UNAUTHENTICATED_LOOPBACK"]["value"] == "false"


@pytest.mark.parametrize("mode", [mode.value for mode in RoutingMode])
def test_the_router_accepts_the_environment_it_gets(mode: str) -> None:
    values = {"router": {"routingMode": mode, "sessionTimeout": 600, "modelSwitchTimeout": 25}}
    env = literal_env(only_container(router_deployment(render(values))))
    document = yaml.safe_load(LITELLM_CONFIG.read_text(encoding="utf-8"))
    # router_plugins' own startup validation, fed the manifest's environment.
    config = parse_routing_config(document, environ=env)
    assert config.mode.value == mode
    assert config.session_timeout == 600 and config.model_timeout == 25
    assert config.allow_unauthenticated_loopback is False
    assert config.redis_url == env["REDIS_URL"]


def test_router_runs_as_the_images_user_with_a_writable_cache(objects: list[dict[str, Any]]) -> None:
    (useradd,) = [args for args in instruction_args("RUN") if "useradd" in args]
    uid = int(re.search(r"--uid (\d+)", useradd).group(1))
    home = PurePosixPath(re.search(r"--home-dir (\S+)", useradd).group(1))
    pod = router_deployment(objects)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The image's USER is a name; without a numeric runAsUser the kubelet refuses runAsNonRoot.
    assert pod["securityContext"]["runAsUser"] == uid
    container = only_container(router_deployment(objects))
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # The encoder's ONNX graph and the example embeddings go to routing.cache_dir on first start.
    cache_dir = PurePosixPath(RoutingConfig.model_fields["cache_dir"].default.replace("~", str(home), 1))
    mounts = {PurePosixPath(mount["mountPath"]): mount["name"] for mount in container["volumeMounts"]}
    (cache_mount,) = [path for path in mounts if cache_dir.is_relative_to(path)]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts[cache_mount]]


# --- Redis ----------------------------------------------------------------------------------------

def test_redis_url_reaches_the_redis_service(objects: list[dict[str, Any]]) -> None:
    url = env_of(only_container(router_deployment(objects)))["REDIS_URL"]["value"]
    client = redis.Redis.from_url(url)  # parses only; connects on first command
    kwargs = client.connection_pool.connection_kwargs
    service, port = service_for_url(objects, f"redis://{kwargs['host']}:{kwargs['port']}")
    assert service["metadata"]["labels"][COMPONENT] == "redis"
    workload = workload_behind(objects, service)
    container = only_container(workload)
    assert container_port(container, port["targetPort"]) == 6379
    # One Redis: replicas behind one Service would each hold different sessions.
    assert workload["spec"]["replicas"] == 1
    # Sessions are short-lived and hold no query text: nothing is written to disk.
    args = container["args"]
    assert option(args, "--save") == "" and option(args, "--appendonly") == "no"
    assert "volumeMounts" not in container
    assert container["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]


def test_external_redis_replaces_the_bundled_one() -> None:
    url = VARIANTS["external-redis-url"]["redis"]["externalUrl"]
    rendered = render(VARIANTS["external-redis-url"])
    assert not [obj for obj in rendered if obj["metadata"]["labels"][COMPONENT] == "redis"]
    assert env_of(only_container(router_deployment(rendered)))["REDIS_URL"] == {"name": "REDIS_URL", "value": url}

    rendered = render(VARIANTS["external-redis-secret"])
    assert not [obj for obj in rendered if obj["metadata"]["labels"][COMPONENT] == "redis"]
    reference = env_of(only_container(router_deployment(rendered)))["REDIS_URL"]["valueFrom"]["secretKeyRef"]
    assert reference == {"name": "redis-url", "key": "redis-url"}

    with pytest.raises(helm.HelmRenderError, match="redis.externalUrl"):
        render({"redis": {"enabled": False}})


# --- vLLM -----------------------------------------------------------------------------------------

def vllm_deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Model name -> the Deployment serving it."""
    served = {}
    for deployment in of_kind(objects, "Deployment").values():
        if deployment["metadata"]["labels"][COMPONENT].startswith("vllm-"):
            model = option(only_container(deployment)["args"], "--model")
            assert model not in served, f"{model} is served twice"
            served[model] = deployment
    return served


def test_each_api_base_reaches_the_vllm_server_of_its_model(objects: list[dict[str, Any]]) -> None:
    env = env_of(only_container(router_deployment(objects)))
    model_list = yaml.safe_load(LITELLM_CONFIG.read_text(encoding="utf-8"))["model_list"]
    reached = set()
    for entry in model_list:
        params = entry["litellm_params"]
        url = env[params["api_base"].removeprefix("os.environ/")]["value"]
        assert urlsplit(url).scheme == "http" and urlsplit(url).path == "/v1", url
        service, port = service_for_url(objects, url)
        deployment = workload_behind(objects, service)
        container = only_container(deployment)
        assert option(container["args"], "--model") == params["model"].removeprefix("hosted_vllm/")
        # The server listens where the Service sends traffic.
        assert container_port(container, port["targetPort"]) == int(option(container["args"], "--port"))
        reached.add(deployment["metadata"]["name"])
    assert reached == {deployment["metadata"]["name"] for deployment in vllm_deployments(objects).values()}


def test_a_model_can_have_several_servers_behind_its_service() -> None:
    rendered = render({"vllm": {"models": {"vision": {"replicas": 2}}}})
    replicas = {model: deployment["spec"]["replicas"] for model, deployment in vllm_deployments(rendered).items()}
    assert replicas == {"Qwen/Qwen2.5-7B-Instruct": 1, "Qwen/Qwen2.5-VL-7B-Instruct": 2, "Qwen/Qwen2-Audio-7B-Instruct": 1}
    with pytest.raises(helm.HelmValuesError, match="replicas"):
        render({"vllm": {"models": {"vision": {"replicas": 0}}}})


def test_a_model_served_elsewhere_gets_no_server() -> None:
    url = VARIANTS["external-audio-model"]["vllm"]["models"]["audio"]["externalUrl"]
    rendered = render(VARIANTS["external-audio-model"])
    assert "Qwen/Qwen2-Audio-7B-Instruct" not in vllm_deployments(rendered)
    assert not [obj for obj in rendered if obj["metadata"]["labels"][COMPONENT] == "vllm-audio"]
    env = env_of(only_container(router_deployment(rendered)))
    assert env["AUDIO_API_BASE"]["value"] == url
    # The other two still run here.
    assert set(vllm_deployments(rendered)) == {"Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"}


def test_vllm_servers_match_docker_compose(objects: list[dict[str, Any]]) -> None:
    compose = compose_vllm_services()
    deployments = vllm_deployments(objects)
    assert set(deployments) == {command_option(service, "--model") for service in compose.values()}
    for name, service in compose.items():
        model = command_option(service, "--model")
        container = only_container(deployments[model])
        assert container["image"] == service["image"], model
        env = literal_env(container)
        argv = [expand(argument, env) for argument in container["args"]]
        assert not [argument for argument in argv if "$(" in argument], f"{model}: unexpanded variable in {argv}"
        # Every flag compose passes, with the value it resolves to (compose's defaults included).
        compose_argv = [str(argument) for argument in service["command"]]
        for flag in [argument for argument in compose_argv if argument.startswith("--")]:
            assert option(argv, flag) == command_option(service, flag), f"{name} {flag}"
        assert set(env) >= {"VLLM_GPU_MEMORY_UTILIZATION", "VLLM_USE_TRITON_KERNEL"}
        assert env["VLLM_USE_TRITON_KERNEL"] == compose[name]["environment"]["VLLM_USE_TRITON_KERNEL"]
        # The same Hugging Face cache path as compose's volume.
        (compose_cache,) = [volume.split(":")[1] for volume in service["volumes"]]
        assert compose_cache in [mount["mountPath"] for mount in container["volumeMounts"]]


def test_vllm_gpu_memory_is_set_once_through_the_guides_variable() -> None:
    rendered = render({"vllm": {"gpuMemoryUtilization": 0.3}})
    for model, deployment in vllm_deployments(rendered).items():
        container = only_container(deployment)
        env = literal_env(container)
        assert env["VLLM_GPU_MEMORY_UTILIZATION"] == "0.3"
        argv = [expand(argument, env) for argument in container["args"]]
        assert option(argv, "--gpu-memory-utilization") == "0.3", model


def test_vllm_servers_get_a_gpu_shared_memory_and_time_to_load(objects: list[dict[str, Any]]) -> None:
    compose = compose_vllm_services()
    start_period = max(seconds(service["healthcheck"]["start_period"]) for service in compose.values())
    for model, deployment in vllm_deployments(objects).items():
        spec = deployment["spec"]
        pod = spec["template"]["spec"]
        container = only_container(deployment)
        resources = container["resources"]
        # Extended resources: requests must equal limits, and one GPU per server.
        assert int(resources["limits"]["nvidia.com/gpu"]) == 1, model
        assert int(resources["requests"]["nvidia.com/gpu"]) == 1, model
        # A second pod during a rolling update would wait for a GPU that is not there.
        assert spec["strategy"]["type"] == "Recreate" and spec["replicas"] == 1
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        (shm,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/dev/shm"]
        assert volumes[shm["name"]]["emptyDir"]["medium"] == "Memory"
        port = int(option(container["args"], "--port"))
        startup = container["startupProbe"]
        assert startup["httpGet"]["path"] == "/health"
        assert container_port(container, startup["httpGet"]["port"]) == port
        # Downloading and loading 8-16 GB of weights: at least compose's start_period.
        assert startup["periodSeconds"] * startup["failureThreshold"] >= start_period, model
        readiness = container["readinessProbe"]["httpGet"]
        assert readiness["path"] == "/health" and container_port(container, readiness["port"]) == port


def test_one_vllm_server_per_model_of_the_config(objects: list[dict[str, Any]]) -> None:
    model_list = yaml.safe_load(LITELLM_CONFIG.read_text(encoding="utf-8"))["model_list"]
    expected = {entry["litellm_params"]["model"].removeprefix("hosted_vllm/") for entry in model_list}
    assert set(vllm_deployments(objects)) == expected
    api_base_variables = {entry["litellm_params"]["api_base"].removeprefix("os.environ/") for entry in model_list}
    assert {model["apiBaseEnv"] for model in chart_values()["vllm"]["models"].values()} == api_base_variables


# --- Availability and scaling ---------------------------------------------------------------------

def test_every_service_selects_exactly_one_workload() -> None:
    for variant in VARIANTS.values():
        rendered = render(variant)
        for service in of_kind(rendered, "Service").values():
            container = only_container(workload_behind(rendered, service))
            for port in service["spec"]["ports"]:
                container_port(container, port["targetPort"])


def test_pdb_covers_the_router_pods_only(objects: list[dict[str, Any]]) -> None:
    (pdb,) = of_kind(objects, "PodDisruptionBudget").values()
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert set(pdb["spec"]["selector"]) == {"matchLabels"}
    for deployment in of_kind(objects, "Deployment").values():
        is_router = deployment["metadata"]["labels"][COMPONENT] == "router"
        assert selected(selector, pod_labels(deployment)) is is_router, deployment["metadata"]["name"]
    # maxUnavailable keeps node drains possible at any replica count; minAvailable equal to the
    # replica count would block them forever.
    assert "minAvailable" not in pdb["spec"] and pdb["spec"]["maxUnavailable"] >= 1


def test_hpa_scales_the_router_deployment(objects: list[dict[str, Any]]) -> None:
    (hpa,) = of_kind(objects, "HorizontalPodAutoscaler").values()
    deployment = router_deployment(objects)
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"], deployment["kind"], deployment["metadata"]["name"],
    )
    # With a replica count in the Deployment, every `helm upgrade` would undo the HPA's choice.
    assert "replicas" not in deployment["spec"]
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["target"]["type"] == "Utilization"
    # Utilization is relative to the request: without one the HPA cannot compute it and never scales.
    resource = metric["resource"]["name"]
    assert only_container(deployment)["resources"]["requests"][resource]
    # The PDB still lets one router go at the HPA's minimum.
    (pdb,) = of_kind(objects, "PodDisruptionBudget").values()
    assert hpa["spec"]["minReplicas"] - pdb["spec"]["maxUnavailable"] >= 1


def test_without_autoscaling_the_deployment_holds_the_replica_count() -> None:
    rendered = render(VARIANTS["fixed-replicas"])
    assert not of_kind(rendered, "HorizontalPodAutoscaler") and not of_kind(rendered, "PodDisruptionBudget")
    assert router_deployment(rendered)["spec"]["replicas"] == 2


def test_router_rolls_out_without_losing_capacity(objects: list[dict[str, Any]]) -> None:
    strategy = router_deployment(objects)["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0
