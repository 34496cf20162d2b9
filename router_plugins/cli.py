"""`router` console script. `router run` starts the embedded default: the local model server in
vLLM's place on :8000 and the router (LiteLLM proxy + router_plugins) on :8001."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import embedded

STATE_DIR = embedded.REPO_ROOT / ".run"


def _master_key() -> str:
    """LITELLM_MASTER_KEY if set, else a random key kept in .run/master_key across restarts."""
    if key := os.environ.get("LITELLM_MASTER_KEY"):
        return key
    path = STATE_DIR / "master_key"
    if path.exists():
        return path.read_text().strip()
    key = "sk-" + secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def run(args: argparse.Namespace) -> int:
    STATE_DIR.mkdir(exist_ok=True)
    key = _master_key()
    model_base = f"http://127.0.0.1:{args.model_port}/v1"
    print(f"Starting the local model server (SmolLM2-135M, llama.cpp) on :{args.model_port} ...", flush=True)
    model_log = STATE_DIR / "model-server.log"
    with model_log.open("ab") as log_file:
        model_server = subprocess.Popen(
            embedded.model_server_command(args.model_port), stdout=log_file, stderr=subprocess.STDOUT
        )
    processes = [model_server]
    try:
        embedded.wait_until_ready(f"{model_base}/models", model_server, timeout=60)
        print(f"Starting the router on :{args.port} (LiteLLM proxy + router_plugins) ...", flush=True)
        env = embedded.proxy_environment(
            model_base,
            {
                "LITELLM_MASTER_KEY": key,
                # The embedded default lets the guide's examples run verbatim from this machine.
                "ROUTER_ALLOW_UNAUTHENTICATED_LOOPBACK": os.environ.get("ROUTER_ALLOW_UNAUTHENTICATED_LOOPBACK", "true"),
            },
        )
        proxy = embedded.start_proxy(Path(args.config), args.port, env, workers=args.workers)
        processes.append(proxy)
        waited = embedded.wait_until_ready(f"http://127.0.0.1:{args.port}/health/readiness", proxy, timeout=180)
        print(
            f"""
Router ready in {waited:.1f} s.
  Guide API    http://localhost:{args.port}/route  /sessions/{{id}}  /stats  /use-cases  /health  /classify
  OpenAI API   http://localhost:{args.port}/v1     (model="auto" routes; key required)
  Model server http://localhost:{args.model_port}/v1   (SmolLM2-135M standing in for the vLLM models; log: {model_log})
  Master key   {key}
  Sessions     {"Redis at " + env["REDIS_URL"] if env.get("REDIS_URL") else "in-process (set REDIS_URL to share them)"}
Try:
  curl -X POST http://localhost:{args.port}/route -H "Content-Type: application/json" -d '{{"query": "Hello, world!"}}'
Ctrl-C stops both.""",
            flush=True,
        )
        # Explicit handlers: a shell that starts us in the background makes SIGINT ignored by default.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("A server stopped unexpectedly; see its output above.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        print("\nStopping ...", flush=True)
        for process in reversed(processes):
            embedded.stop(process)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def evaluate_file(args: argparse.Namespace) -> int:
    from .config import load_config_file, parse_routing_config
    from .evaluation import evaluate, format_report, shortfalls
    from .examples import read_examples_file
    from .runtime import build_classifier

    config_path = Path(args.config).resolve()
    config = parse_routing_config(load_config_file(config_path))
    started = time.perf_counter()
    classifier = build_classifier(config, config_path.parent)
    print(f"classifier ready in {time.perf_counter() - started:.1f} s "
          f"(encoder: {classifier.encoder.name if classifier.encoder else 'none'})")
    examples = read_examples_file(Path(args.queries), set(config.use_cases))
    problems = []
    for hint, floors in ((True, args.hint_floors), (False, args.text_floors)):
        report = evaluate(classifier, examples, hint=hint)
        print(format_report(report, classifier.use_cases), end="\n\n")
        problems += shortfalls(report, *floors)
    for problem in problems:
        print("BELOW FLOOR:", problem)
    return 1 if problems else 0


def evaluate_sessions_file(args: argparse.Namespace) -> int:
    from .config import load_config_file, parse_routing_config
    from .core.catalog import UseCaseCatalog
    from .core.types import RoutingMode
    from .runtime import build_classifier
    from .service import routing_policy
    from .examples import read_conversations
    from .session_evaluation import format_session_reports, replay, session_shortfalls

    config_path = Path(args.config).resolve()
    document = load_config_file(config_path)
    config = parse_routing_config(document)
    classifier = build_classifier(config, config_path.parent)
    catalog = UseCaseCatalog.from_deployments(document.get("model_list") or (), config.use_cases)
    conversations = read_conversations(Path(args.conversations), set(config.use_cases))
    reports = [
        replay(conversations, classifier, routing_policy(config, mode), catalog, mode.value)
        for mode in (RoutingMode.REALTIME, RoutingMode.STANDARD)
    ]
    print(format_session_reports(reports))
    problems = session_shortfalls(reports[0], *args.floors)
    for problem in problems:
        print("BELOW FLOOR:", problem)
    return 1 if problems else 0


def _floors(text: str) -> tuple[float, float, float]:
    overall, per_language, per_use_case = (float(part) for part in text.split(","))
    return overall, per_language, per_use_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="router", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the embedded default (local model server + router)")
    run_parser.add_argument("--config", default=str(embedded.DEFAULT_CONFIG))
    run_parser.add_argument("--port", type=int, default=int(os.environ.get("ROUTER_PORT", 8001)))
    run_parser.add_argument("--model-port", type=int, default=int(os.environ.get("MODEL_PORT", 8000)))
    run_parser.add_argument("--workers", type=int, default=int(os.environ.get("ROUTER_WORKERS", 1)))
    run_parser.set_defaults(handler=run)
    eval_parser = commands.add_parser("eval", help="classifier accuracy and latency on a labelled JSONL file")
    eval_parser.add_argument("queries", help="JSONL rows: query, use_case, language, modality")
    eval_parser.add_argument("--config", default=str(embedded.DEFAULT_CONFIG))
    eval_parser.add_argument(
        "--hint-floors", type=_floors, default=(0.0, 0.0, 0.0), metavar="OVERALL,LANGUAGE,USE_CASE",
        help="minimum accuracies with the modality hint, e.g. 0.97,0.93,0.95; below them the exit code is 1",
    )
    eval_parser.add_argument(
        "--text-floors", type=_floors, default=(0.0, 0.0, 0.0), metavar="OVERALL,LANGUAGE,USE_CASE",
        help="minimum accuracies without the hint, e.g. 0.92,0.85,0",
    )
    eval_parser.set_defaults(handler=evaluate_file)
    sessions_parser = commands.add_parser(
        "eval-sessions", help="session routing (per-turn accuracy, bypass, context changes) on labelled conversations"
    )
    sessions_parser.add_argument("conversations", help="JSONL rows: id, language, turns[query, use_case, modality, context_change]")
    sessions_parser.add_argument("--config", default=str(embedded.DEFAULT_CONFIG))
    sessions_parser.add_argument(
        "--floors", type=_floors, default=(0.0, 0.0, 0.0), metavar="ACCURACY,BYPASS,RECALL",
        help="minimums for ROUTING_MODE=realtime, e.g. 0.97,0.85,0.95; below them the exit code is 1",
    )
    sessions_parser.set_defaults(handler=evaluate_sessions_file)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
