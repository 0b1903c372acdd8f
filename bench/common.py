"""Measuring helpers shared by the benchmarks: wall time and peak memory of a child process.

Each measurement runs in a fresh process (`os.wait4` gives its own peak RSS),
several times; we quote medians, as docs/spec/performance-targets.md asks.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass
class Measurement:
    label: str
    seconds: list[float]
    peak_rss_mb: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def row(self, target: str = "", verdict: str = "") -> str:
        runs = ", ".join(f"{s:.2f}" for s in self.seconds)
        return f"| {self.label} | {self.median:.2f} s | {runs} | {self.peak_rss_mb:.0f} MiB | {target} | {verdict} |"


TABLE_HEAD = "| what | median wall | runs (s) | peak RSS | target | met |\n|---|---|---|---|---|---|"


def run_child(argv: list[str], env: dict | None = None, cwd: Path = REPO) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS MiB). Raises if it fails."""
    full_env = {**os.environ, **(env or {})}
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        tail = output.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(argv)} failed:\n{tail}")
    return seconds, usage.ru_maxrss / 1024


def measure(label: str, argv: list[str], *, repeat: int = 3, env: dict | None = None, setup=None) -> Measurement:
    seconds, peak = [], 0.0
    for _ in range(repeat):
        if setup:
            setup()
        wall, rss = run_child(argv, env)
        seconds.append(wall)
        peak = max(peak, rss)
    return Measurement(label, seconds, peak)


def child(function, *args) -> list[str]:
    """The command that runs `function(*args)` (a bench module's function; args as strings) in a fresh process."""
    module = function.__module__
    if module == "__main__":  # a bench module run with `python -m bench.bench_x`
        module = sys.modules["__main__"].__spec__.name
    return [PYTHON, "-m", "bench.child", f"{module}:{function.__qualname__}", *map(str, args)]


def verdict(value: float, limit: float) -> str:
    return "yes" if value <= limit else "**no**"
