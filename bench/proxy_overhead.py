"""What the proxy and the router add to a model call, against baselines in the same run: the instant stub
backend called directly, a stock LiteLLM proxy with the same model_list (bare, and with the router's
LiteLLM settings: its prometheus callback, retries, timeouts), LiteLLM's own rule-based
`auto_router/complexity_router` as the peer (it decides every turn; it has no sessions), and the router (LiteLLM +
router_plugins, sessions in the real Redis) on bypassed and classified turns, on the OpenAI path and on
/route, and a router with several workers for throughput. Prints p50/p90/p99, requests/s, server CPU
per request and RSS per arm.

    .venv/bin/python bench/proxy_overhead.py [--requests 300] [--repeats 3] [--concurrency 32]
                                             [--scale-concurrency 64] [--workers 2]"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import yaml

from load import Connection
from router_plugins import embedded

KEY = "sk-bench-" + secrets.token_hex(8)
REDIS_URL = "redis://127.0.0.1:6379/0"
BENCH_PREFIX = "bench-"
AGENT_MODEL = "Qwen/Qwen2.5-7B-Instruct"
PEER_MODEL = "smart"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen

    def tree(self) -> list[psutil.Process]:
        parent = psutil.Process(self.process.pid)
        return [parent, *parent.children(recursive=True)]

    def cpu_seconds(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self.tree())

    def rss_mb(self) -> float:
        return sum(p.memory_info().rss for p in self.tree()) / 2**20


@dataclass
class Arm:
    name: str
    server: Server
    request: Callable[[int], tuple[str, dict, dict]]  # request number -> (path, json body, headers)
    stream: bool = False
    concurrency: int = 1
    latencies_ms: list[float] = field(default_factory=list)
    cpu_ms_per_request: list[float] = field(default_factory=list)
    requests_per_second: list[float] = field(default_factory=list)


def start(name: str, command: list[str], ready_url: str, log_dir: Path) -> Server:
    log = (log_dir / f"{name}.log").open("wb")
    return started(name, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), ready_url)


def started(name: str, process: subprocess.Popen, ready_url: str) -> Server:
    embedded.wait_until_ready(ready_url, process, timeout=240, headers={"Authorization": f"Bearer {KEY}"})
    return Server(name, ready_url.split("/", 3)[0] + "//" + ready_url.split("/", 3)[2], process)


def start_stub(log_dir: Path) -> Server:
    port = embedded.free_port()
    command = [sys.executable, str(Path(__file__).with_name("stub_backend.py")), "--port", str(port)]
    return start("stub", command, f"http://127.0.0.1:{port}/v1/models", log_dir)


def start_proxy(name: str, config: Path, log_dir: Path, env: dict, workers: int = 1) -> Server:
    """A LiteLLM proxy (stock or the router), ready once its readiness probe says so."""
    port = embedded.free_port()
    log = (log_dir / f"{name}.log").open("wb")
    process = embedded.start_proxy(config, port, env, workers=workers, host="127.0.0.1", output=log)
    return started(name, process, f"http://127.0.0.1:{port}/health/readiness")


@contextmanager
def bench_servers() -> Iterator[tuple[Path, list[Server]]]:
    """A scratch directory and a list to put started servers in; all stopped and their Redis keys gone after."""
    with tempfile.TemporaryDirectory() as directory:
        servers: list[Server] = []
        try:
            yield Path(directory), servers
        finally:
            for server in reversed(servers):
                embedded.stop(server.process)
            embedded.forget_keys(REDIS_URL, BENCH_PREFIX)


def stock_config(directory: Path, same_settings: bool = False) -> Path:
    """LiteLLM as its users run it: the router's model_list and master key, nothing of router_plugins.
    With `same_settings`, also the router's LiteLLM settings (router_settings, and litellm_settings with
    LiteLLM's own prometheus callback): what router_plugins alone adds is the difference to this one."""
    document = yaml.safe_load(embedded.DEFAULT_CONFIG.read_text(encoding="utf-8"))
    stock = {"model_list": document["model_list"], "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"}}
    if same_settings:
        litellm_settings = dict(document["litellm_settings"])
        litellm_settings["callbacks"] = [name for name in litellm_settings["callbacks"] if "router_plugins" not in name]
        stock |= {"router_settings": document["router_settings"], "litellm_settings": litellm_settings}
    path = directory / ("stock_same_settings.yaml" if same_settings else "stock_config.yaml")
    path.write_text(yaml.safe_dump(stock, sort_keys=False), encoding="utf-8")
    return path


def peer_config(directory: Path) -> Path:
    """The stock proxy plus LiteLLM's own `auto_router/complexity_router` (rule-based, in process) as the
    peer: model `smart` picks one of the same model groups per request by its complexity tier."""
    document = yaml.safe_load(stock_config(directory).read_text(encoding="utf-8"))
    groups = [model["model_name"] for model in document["model_list"]]
    tiers = {"SIMPLE": groups[0], "MEDIUM": groups[0], "COMPLEX": groups[1], "REASONING": groups[2]}
    document["model_list"].append({
        "model_name": PEER_MODEL,
        "litellm_params": {"model": "auto_router/complexity_router", "complexity_router_config": {"tiers": tiers},
                           "complexity_router_default_model": groups[0]},
    })
    path = directory / "peer_config.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def router_config(directory: Path) -> Path:
    """The repo's config with a private Redis key prefix (`forget_keys` removes them after the run)."""
    return embedded.private_config(directory, f"{BENCH_PREFIX}{uuid.uuid4().hex[:8]}:")


async def one(connection: Connection, arm: Arm, number: int) -> float:
    path, body, headers = arm.request(number)
    reply = await connection.post(path, body, headers)
    if reply.status != 200:
        raise RuntimeError(f"{arm.name}: HTTP {reply.status} {reply.body[:300]!r}")
    # Streamed: the time to the first event; otherwise the whole answer.
    return (reply.first_byte_seconds if arm.stream else reply.seconds) * 1000


async def run_arm(arm: Arm, requests: int, concurrency: int, record: bool = True) -> None:
    queue = iter(range(requests))
    latencies: list[float] = []

    async def caller() -> None:
        connection = Connection(arm.server.url)
        try:
            for number in queue:
                latencies.append(await one(connection, arm, number))
        finally:
            await connection.close()

    cpu_before = arm.server.cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    if record:
        arm.latencies_ms += latencies
        arm.cpu_ms_per_request.append((arm.server.cpu_seconds() - cpu_before) * 1000 / requests)
        arm.requests_per_second.append(requests / wall)


def chat(model: str, text: str, stream: bool = False) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 8, "stream": stream}


def queries() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "queries_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    return [row["query"] for row in rows if row["modality"] == "text"]


async def bench(args: argparse.Namespace, stub: Server, stock: Server, stock_same: Server, peer: Server,
                router: Server, scaled: Server) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    texts = queries()
    session = "bench-" + uuid.uuid4().hex
    follow_up = "add error handling to that"
    sessions = [f"bench-{uuid.uuid4().hex}" for _ in range(args.scale_concurrency)]

    def fixed(path: str, body: dict, headers: dict | None = None) -> Callable[[int], tuple[str, dict, dict]]:
        return lambda number: (path, body, headers or auth)

    latency_arms = [
        Arm("direct to the stub backend", stub, fixed("/v1/chat/completions", chat("stub", follow_up), {})),
        Arm("stock LiteLLM proxy", stock, fixed("/v1/chat/completions", chat(AGENT_MODEL, follow_up))),
        Arm("stock, the router's LiteLLM settings", stock_same, fixed("/v1/chat/completions", chat(AGENT_MODEL, follow_up))),
        Arm("peer: LiteLLM complexity_router", peer,
            lambda n: ("/v1/chat/completions", chat(PEER_MODEL, texts[n % len(texts)]), auth)),
        Arm("router, bypassed turn (model=auto)", router,
            fixed("/v1/chat/completions", chat("auto", follow_up), {**auth, "x-session-id": session})),
        Arm("router, classified turn (model=auto)", router,
            lambda n: ("/v1/chat/completions", chat("auto", texts[n % len(texts)]), {**auth, "x-session-id": uuid.uuid4().hex})),
        Arm("router, bypassed turn (/route)", router,
            fixed("/route", {"query": follow_up, "session_id": session, "max_tokens": 8})),
        Arm("router, pinned model (no routing)", router, fixed("/v1/chat/completions", chat(AGENT_MODEL, follow_up))),
    ]
    stream_arms = [
        Arm("direct, streamed (time to first bytes)", stub, fixed("/v1/chat/completions", chat("stub", follow_up, True), {}), stream=True),
        Arm("stock proxy, streamed", stock, fixed("/v1/chat/completions", chat(AGENT_MODEL, follow_up, True)), stream=True),
        Arm("router bypassed, streamed", router,
            fixed("/v1/chat/completions", chat("auto", follow_up, True), {**auth, "x-session-id": session}), stream=True),
        Arm("router pinned model, streamed", router,
            fixed("/v1/chat/completions", chat(AGENT_MODEL, follow_up, True)), stream=True),
    ]
    def bypassed(n: int) -> tuple[str, dict, dict]:
        return "/v1/chat/completions", chat("auto", follow_up), {**auth, "x-session-id": sessions[n % len(sessions)]}

    throughput_arms = [
        Arm(f"stock proxy, concurrency {args.concurrency}", stock, fixed("/v1/chat/completions", chat(AGENT_MODEL, follow_up)),
            concurrency=args.concurrency),
        Arm(f"router bypassed, concurrency {args.concurrency}", router, bypassed, concurrency=args.concurrency),
        Arm(f"router bypassed, 1 worker, concurrency {args.scale_concurrency}", router, bypassed,
            concurrency=args.scale_concurrency),
        Arm(f"router bypassed, {args.workers} workers, concurrency {args.scale_concurrency}", scaled, bypassed,
            concurrency=args.scale_concurrency),
        Arm(f"stock, router's settings, concurrency {args.concurrency}", stock_same,
            fixed("/v1/chat/completions", chat(AGENT_MODEL, follow_up)), concurrency=args.concurrency),
    ]
    # The first request after startup: the router said it was ready, nothing else has reached it.
    connection = Connection(router.url)
    first_ms = await one(connection, latency_arms[2], 0)
    await connection.close()
    for arm in [*latency_arms, *stream_arms, *throughput_arms]:
        await run_arm(arm, 30, 1, record=False)  # warm-up, not recorded
    for _ in range(args.repeats):  # arms interleaved: drift on the machine hits every arm alike
        for arm in [*latency_arms, *stream_arms]:
            await run_arm(arm, args.requests, 1)
        for arm in throughput_arms:
            await run_arm(arm, args.requests * 2, arm.concurrency)
    report(latency_arms, stream_arms, throughput_arms, first_ms, [stub, stock, stock_same, peer, router, scaled])


def report(latency_arms: list[Arm], stream_arms: list[Arm], throughput_arms: list[Arm], first_ms: float, servers: list[Server]) -> None:
    print(f"{'arm':44s}{'p50 ms':>9s}{'p90 ms':>9s}{'p99 ms':>9s}{'req/s':>9s}{'CPU ms/req':>12s}")
    p50 = {}
    for arm in [*latency_arms, *stream_arms, *throughput_arms]:
        median, p90, p99 = np.percentile(arm.latencies_ms, [50, 90, 99])
        p50[arm.name] = median
        print(
            f"{arm.name:44s}{median:>9.2f}{p90:>9.2f}{p99:>9.2f}"
            f"{statistics.median(arm.requests_per_second):>9.0f}{statistics.median(arm.cpu_ms_per_request):>12.2f}"
        )
    direct, stock = p50["direct to the stub backend"], p50["stock LiteLLM proxy"]
    bypass, classified = p50["router, bypassed turn (model=auto)"], p50["router, classified turn (model=auto)"]
    print()
    print(f"router over stock proxy, p50: bypassed +{bypass - stock:.2f} ms, classified +{classified - stock:.2f} ms")
    same = p50["stock, the router's LiteLLM settings"]
    print(f"router_plugins alone (over stock with the router's LiteLLM settings), p50: bypassed +{bypass - same:.2f} ms, "
          f"classified +{classified - same:.2f} ms; those settings over stock +{same - stock:.2f} ms")
    print(f"peer (LiteLLM complexity_router, every turn decided) over stock, p50: "
          f"+{p50['peer: LiteLLM complexity_router'] - stock:.2f} ms")
    print(f"whole proxy over direct, p50: stock +{stock - direct:.2f} ms, router bypassed +{bypass - direct:.2f} ms")
    print(f"/route vs model=auto (bypassed), p50: {p50['router, bypassed turn (/route)'] - bypass:+.2f} ms")
    print(
        "streaming, time to first bytes over direct, p50: "
        f"stock +{p50['stock proxy, streamed'] - p50['direct, streamed (time to first bytes)']:.2f} ms, "
        f"router +{p50['router bypassed, streamed'] - p50['direct, streamed (time to first bytes)']:.2f} ms"
    )
    stock_rps, router_rps, one_worker_rps, workers_rps, same_rps = (
        statistics.median(arm.requests_per_second) for arm in throughput_arms
    )
    print(f"throughput, router / stock: {router_rps / stock_rps:.2f}x; "
          f"router / stock with the router's LiteLLM settings: {router_rps / same_rps:.2f}x")
    print(f"throughput, {throughput_arms[3].name} / 1 worker: {workers_rps / one_worker_rps:.2f}x")
    print(f"first request after startup: {first_ms:.1f} ms ({first_ms / bypass:.1f}x the bypassed p50)")
    print("RSS: " + ", ".join(f"{server.name} {server.rss_mb():.0f} MB" for server in servers))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="requests per arm and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--scale-concurrency", type=int, default=64, help="concurrency of the worker-scaling arms")
    parser.add_argument("--workers", type=int, default=2, help="workers of the scaled router (2 on a 2-core box)")
    args = parser.parse_args()
    with bench_servers() as (work, servers):
        stub = start_stub(work)
        servers.append(stub)
        env = embedded.proxy_environment(stub.url + "/v1", {"LITELLM_MASTER_KEY": KEY})
        stock = start_proxy("stock LiteLLM", stock_config(work), work, env)
        servers.append(stock)
        stock_same = start_proxy("stock, router's settings", stock_config(work, same_settings=True), work, env)
        servers.append(stock_same)
        peer = start_proxy("peer: complexity_router", peer_config(work), work, env)
        servers.append(peer)
        router = start_proxy("router", router_config(work), work, {**env, "REDIS_URL": REDIS_URL})
        servers.append(router)
        scaled = start_proxy(f"router, {args.workers} workers", router_config(work), work,
                             {**env, "REDIS_URL": REDIS_URL}, args.workers)
        servers.append(scaled)
        asyncio.run(bench(args, stub, stock, stock_same, peer, router, scaled))

if __name__ == "__main__":
    main()
