"""Observability end to end: promtool accepts the Prometheus config and rules (and their unit tests
in deploy/prometheus/rules_test.yml pass), the Grafana dashboard and the rules ask only for metrics a
running router exports, and a real Prometheus (Debian's binary) scraping a real router in real-time
mode records the bypass and error rates GET /stats reports and raises the alerts the traffic calls for.

promtool and prometheus come from Debian's `prometheus` package (`make test` installs it)."""

from __future__ import annotations

import concurrent.futures
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from router_plugins import embedded
from router_plugins.metrics import OUTCOMES, PATHS

from .conftest import DEAD_PORT_BASE, Router, free_port, start_router, stop_router

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "rules.yml"
RULES_TESTS = PROMETHEUS_DIR / "rules_test.yml"
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "use-case-router.json"
DATASOURCE = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"

# Every label a router_* series may carry: nothing that grows with users or sessions.
ROUTER_LABELS = {"use_case", "model", "path", "mode", "outcome", "store", "le"}
# Series Prometheus makes itself rather than scraping.
SYNTHETIC = {"up"}


def binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: `make test` installs Debian's prometheus package (`make prometheus`)"
    return path


def promtool(*args: str) -> str:
    result = subprocess.run([binary("promtool"), *args], capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{output}"
    return output


# --- PromQL, as far as the dashboard and the rules use it -------------------------------------------

_NOT_NAMES = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # label values
    r"|\{[^}]*\}|\[[^\]]*\]"  # label matchers, range selectors
    r"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"  # label lists
)
# An identifier that is not a function or aggregation call.
_IDENTIFIER = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    return {name for name in _IDENTIFIER.findall(_NOT_NAMES.sub(" ", expr)) if name.lower() not in _KEYWORDS}


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]


def scraped_names(exposition: str) -> set[str]:
    return {sample.name for family in text_string_to_metric_families(exposition) for sample in family.samples}


def test_metric_name_extraction() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (path, le) "
        '(rate(router_routing_seconds_bucket{path="by x"}[$__rate_interval])))'
        " / on(mode) group_left mode:router_requests_bypass:ratio_rate5m > bool 0.8 and up"
    )
    assert metric_names(expr) == {"router_routing_seconds_bucket", "mode:router_requests_bypass:ratio_rate5m", "up"}


# --- Static checks ----------------------------------------------------------------------------------

def test_rules_pass_promtool_and_their_unit_tests() -> None:
    assert "SUCCESS" in promtool("check", "rules", str(RULES))
    assert "SUCCESS" in promtool("test", "rules", str(RULES_TESTS))


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    # The compose layout: rules.yml beside the config, the master key in a secret file.
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    secret = tmp_path / "litellm_master_key"
    secret.write_text("sk-promtool-check")
    for job in config["scrape_configs"]:
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(secret)
    shutil.copy(RULES, tmp_path / RULES.name)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    output = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert f"SUCCESS: {len(config['rule_files'])} rule files found" in output
    assert config["rule_files"] == [RULES.name]


def test_dashboard_reads_the_provisioned_datasource_and_defined_rules() -> None:
    (datasource,) = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))["datasources"]
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]
            for name in metric_names(target["expr"]):
                assert ":" not in name or name in recorded, f"{panel['title']}: {name} is not a recording rule"


# --- A real router, scraped by a real Prometheus ------------------------------------------------------

@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert body["status"] == "success", f"{expr}: {body}"
        return body["data"]["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def alert_states(self) -> dict[str, set[str]]:
        alerts = requests.get(f"{self.url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        states: dict[str, set[str]] = {}
        for alert in alerts:
            states.setdefault(alert["labels"]["alertname"], set()).add(alert["state"])
        return states


def start_prometheus(directory: Path, router: Router) -> Prometheus:
    """The repository's config and rules, scraping `router` every second with its master key."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "router"]
    secret = directory / "litellm_master_key"
    secret.write_text(router.key)
    job["authorization"]["credentials_file"] = str(secret)
    job["static_configs"] = [{"targets": [router.url.removeprefix("http://")]}]
    config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    config["scrape_configs"] = [job]
    shutil.copy(RULES, directory / RULES.name)
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log_path = directory / "prometheus.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process)
    try:
        embedded.wait_until_ready(f"{prometheus.url}/-/ready", process, timeout=30)
    except Exception:
        embedded.stop(process)
        raise RuntimeError(f"prometheus did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
    return prometheus


def eventually(probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 20.0) -> Any:
    """`probe()` as soon as `done` holds for it; its last value when time runs out."""
    deadline = time.monotonic() + timeout
    while not done(value := probe()) and time.monotonic() < deadline:
        time.sleep(0.25)
    return value


@dataclass
class Observed:
    router: Router
    prometheus: Prometheus
    stats: dict[str, Any]
    turns: int
    bypasses: int  # as the responses reported them


def converse(router: Router) -> tuple[int, int]:
    """A coding session with three follow-ups, two one-turn sessions, and two OpenAI-path calls: one
    answered, one to the audio model, whose endpoint is dead. (turns, bypasses) as answered."""
    opener = router.post("/route", {"query": "Write a Python function to sort a list", "max_tokens": 8})
    assert opener.status_code == 200, opener.text
    bodies = [opener.json()]
    for follow_up in ("add error handling to it", "now add type hints", "write unit tests for it"):
        turn = {"query": follow_up, "session_id": bodies[0]["session_id"], "dry_run": True}
        bodies.append(router.post("/route", turn).json())
    for query in ("Generate a talking head avatar with lip sync", "Translate this paragraph into Tamil"):
        bodies.append(router.post("/route", {"query": query, "dry_run": True}).json())
    assert all(body["success"] for body in bodies), bodies
    bypasses = sum(body["bypass_used"] for body in bodies)
    for query, status in (("Name three sorting algorithms", 200), ("Transcribe this audio file to text", 500)):
        reply = router.post(
            "/v1/chat/completions",
            {"model": "auto", "max_tokens": 4, "messages": [{"role": "user", "content": query}]},
        )
        assert reply.status_code == status, reply.text
        if status == 200:
            bypasses += reply.headers["x-route-bypass"] == "true"
    return len(bodies) + 2, bypasses


@pytest.fixture(scope="module")
def observed(model_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    directory = tmp_path_factory.mktemp("observability")
    router = start_router(
        directory, model_server, env={"ROUTING_MODE": "realtime", "AUDIO_API_BASE": DEAD_PORT_BASE}
    )
    try:
        prometheus = start_prometheus(directory, router)
        try:
            # A first sample of every per-turn counter at zero, before the first turn: rate() then
            # counts every turn, and the ratios equal /stats' exactly.
            series = len(PATHS) * len(OUTCOMES)
            scraped = eventually(lambda: prometheus.query("router_requests_total == 0"), lambda got: len(got) == series)
            assert len(scraped) == series, scraped
            turns, bypasses = converse(router)
            stats = router.stats_once(lambda stats: stats["total_requests"] == turns)
            yield Observed(router, prometheus, stats, turns, bypasses)
        finally:
            embedded.stop(prometheus.process)
    finally:
        stop_router(router)


def test_router_metrics_follow_prometheus_conventions(observed: Observed) -> None:
    exposition = observed.router.get("/metrics/").text
    families = [family for family in text_string_to_metric_families(exposition) if family.name.startswith("router_")]
    lines = [line for line in exposition.splitlines() if re.match(r"(# (HELP|TYPE) )?router_", line)]
    lint = subprocess.run(
        [binary("promtool"), "check", "metrics"], input="\n".join(lines) + "\n", capture_output=True, text=True
    )
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    for family in families:
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        for sample in family.samples:
            assert set(sample.labels) <= ROUTER_LABELS, sample
    turns = sum(sample.value for family in families for sample in family.samples
                if sample.name == "router_requests_total")
    assert turns == observed.turns == observed.stats["total_requests"]


def test_dashboard_and_rules_only_ask_for_exported_metrics(observed: Observed) -> None:
    exported = scraped_names(observed.router.get("/metrics/").text) | SYNTHETIC
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    expressions = dashboard_queries() + [rule["expr"] for rule in rules()]
    missing = {name for expr in expressions for name in metric_names(expr)} - exported - recorded
    assert not missing, f"queried but not exported by the router: {sorted(missing)}"


def test_every_dashboard_query_returns_data(observed: Observed) -> None:
    def evaluate(expr: str) -> list[dict[str, Any]]:
        return observed.prometheus.query(expr.replace("$__rate_interval", "1m"))

    empty = [expr for expr in dashboard_queries() if not eventually(lambda: evaluate(expr), bool, timeout=10)]
    assert not empty, f"panels without data: {empty}"


def test_recording_rules_equal_what_stats_reports(observed: Observed) -> None:
    stats = observed.stats
    assert stats["bypass_requests"] == observed.bypasses
    assert stats["failed_requests"] == 1
    expected = {
        'mode:router_requests_bypass:ratio_rate5m{mode="realtime"}': stats["bypass_requests"] / stats["total_requests"],
        'mode:router_requests_error:ratio_rate5m{mode="realtime"}': stats["failed_requests"] / stats["total_requests"],
    }
    for expr, value in expected.items():
        recorded = eventually(lambda: observed.prometheus.value(expr), lambda got: got == pytest.approx(value))
        assert recorded == pytest.approx(value), f"{expr}: Prometheus {recorded}, /stats {value}"


def test_alerts_follow_the_traffic(observed: Observed) -> None:
    prometheus = observed.prometheus
    # The conversation keeps at most 3 of its 8 turns on the session's model, one turn failed, and the
    # audio endpoint is dead: three alerts become active (pending until their `for`, then firing).
    should_fire = {"RouterBypassRateLow", "RouterErrorRateHigh", "RouterModelEndpointDown"}
    states = eventually(prometheus.alert_states, lambda states: should_fire <= set(states))
    assert should_fire <= set(states), states
    assert all(states[name] <= {"pending", "firing"} for name in should_fire), states
    # Redis answers and Prometheus reaches the router: their inputs are present and those alerts are not.
    assert prometheus.value('min(router_session_store_up{store="redis"})') == 1
    assert prometheus.value('up{job="router"}') == 1
    assert not {"RouterRedisDisconnected", "RouterDown"} & set(prometheus.alert_states())


def test_metrics_sum_every_worker(secured_router: Router, model_server: str, tmp_path: Path) -> None:
    """Two workers: LiteLLM's PROMETHEUS_MULTIPROC_DIR aggregation makes every scrape the whole router,
    even after another two-worker router started on the same machine (LiteLLM's default directory is
    one per host, wiped by every proxy that starts)."""

    def scrape() -> tuple[float, set[str]]:
        # A new connection each time, so scrapes land on either worker.
        with requests.Session() as session:
            exposition = session.get(secured_router.url + "/metrics/", headers=secured_router.auth, timeout=30).text
        families = list(text_string_to_metric_families(exposition))
        turns = sum(
            sample.value for family in families for sample in family.samples if sample.name == "router_requests_total"
        )
        gauge_labels = {
            label for family in families if family.name == "router_model_endpoint_up"
            for sample in family.samples for label in sample.labels
        }
        return turns, gauge_labels

    before_turns, _ = scrape()
    before = secured_router.stats()
    stop_router(start_router(tmp_path, model_server, workers=2))
    count = 20

    def one(i: int) -> int:
        with requests.Session() as session:
            return session.post(
                secured_router.url + "/route", json={"query": f"Write a slogan number {i}", "dry_run": True},
                headers=secured_router.auth, timeout=60,
            ).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(count))) == {200}
    after = secured_router.stats()
    assert after["total_requests"] - before["total_requests"] == count
    for _ in range(6):
        turns, gauge_labels = scrape()
        assert turns - before_turns == count
        assert turns == after["total_requests"]
        # One value per use case, not one per worker process.
        assert gauge_labels == {"use_case", "model"}
