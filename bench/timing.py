"""Percentile lines and in-run ratios, the same way in every benchmark script."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def summarise(name: str, latencies_ms: Sequence[float], *, width: int = 32, digits: int = 2, extra: str = "") -> np.ndarray:
    """Print p50/p90/p99 of `latencies_ms` on one line; return them."""
    p50, p90, p99 = percentiles = np.percentile(latencies_ms, [50, 90, 99])
    print(f"{name:{width}s} p50 {p50:6.{digits}f} ms  p90 {p90:6.{digits}f} ms  p99 {p99:6.{digits}f} ms  {extra}".rstrip())
    return percentiles


def compare(label: str, ours: np.ndarray, baseline: np.ndarray) -> None:
    print(f"{label}: p50 {ours[0] / baseline[0]:.2f}x, p99 {ours[2] / baseline[2]:.2f}x")
