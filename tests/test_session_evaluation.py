"""Session routing on the held-out conversations (never trained or tuned on), as a CI gate, and
`router eval-sessions` as users run it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from router_plugins.config import load_config_file, parse_routing_config
from router_plugins.core.catalog import UseCaseCatalog
from router_plugins.core.types import RoutingMode
from router_plugins.embedded import DEFAULT_CONFIG, REPO_ROOT
from router_plugins.examples import read_conversations
from router_plugins.runtime import build_classifier
from router_plugins.service import routing_policy
from router_plugins.session_evaluation import replay, session_shortfalls

HOLDOUT = REPO_ROOT / "eval" / "conversations_holdout.jsonl"
# Holds the line at the level reached (BENCHMARKS.md); goals 0.97, 0.85, 0.95: issue 4 is still open.
REALTIME_FLOORS = (0.97, 0.97, 0.92)


@pytest.fixture(scope="module")
def setting():
    document = load_config_file(DEFAULT_CONFIG)
    config = parse_routing_config(document, environ={})
    classifier = build_classifier(config, REPO_ROOT)
    catalog = UseCaseCatalog.from_deployments(document["model_list"], config.use_cases)
    return config, classifier, catalog, read_conversations(HOLDOUT, set(config.use_cases))


def test_realtime_floors_on_the_held_out_conversations(setting) -> None:
    config, classifier, catalog, conversations = setting
    report = replay(conversations, classifier, routing_policy(config, RoutingMode.REALTIME), catalog, "realtime")
    assert session_shortfalls(report, *REALTIME_FLOORS) == []


def test_sessions_beat_reading_every_turn_alone(setting) -> None:
    config, classifier, catalog, conversations = setting
    realtime = replay(conversations, classifier, routing_policy(config, RoutingMode.REALTIME), catalog, "realtime")
    standard = replay(conversations, classifier, routing_policy(config, RoutingMode.STANDARD), catalog, "standard")
    assert standard.overall.bypassed == 0
    assert realtime.overall.accuracy > standard.overall.accuracy + 0.2


def test_eval_sessions_cli_prints_both_modes_and_fails_below_its_floors() -> None:
    command = [sys.executable, "-m", "router_plugins.cli", "eval-sessions", str(HOLDOUT)]
    passing = subprocess.run([*command, "--floors", "0.5,0.5,0.5"], capture_output=True, text=True, timeout=600)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "ROUTING_MODE=realtime" in passing.stdout and "ROUTING_MODE=standard" in passing.stdout
    assert "hinglish" in passing.stdout
    failing = subprocess.run([*command, "--floors", "0.999,0.999,0.999"], capture_output=True, text=True, timeout=600)
    assert failing.returncode == 1 and "BELOW FLOOR" in failing.stdout
