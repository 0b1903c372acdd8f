"""`make bench`: run every bench/bench_*.py (or those named in BENCH=a,b) and rewrite docs/benchmarks.md.

Each module has TITLE and run() -> str (its markdown section). A section is
kept in docs/benchmarks/<module>.md, so running one benchmark does not erase
the others' figures; docs/benchmarks.md is rebuilt from all sections.
"""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SECTIONS = REPO / "docs" / "benchmarks"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def modules() -> list[str]:
    chosen = [m.strip() for m in os.environ.get("BENCH", "").split(",") if m.strip()]
    found = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    return [m for m in found if not chosen or m in chosen or m.removeprefix("bench_") in chosen]


def main() -> int:
    SECTIONS.mkdir(parents=True, exist_ok=True)
    for name in modules():
        module = importlib.import_module(f"bench.{name}")
        print(f"== {module.TITLE}", flush=True)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        load_before = os.getloadavg()[0]
        body = module.run()
        load_after = os.getloadavg()[0]
        load = f"load average {load_before:.1f} at the start, {load_after:.1f} at the end"
        if max(load_before, load_after) > (os.cpu_count() or 1):
            load += " (above the core count: other work shared the CPUs and the wall times are inflated)"
        (SECTIONS / f"{name}.md").write_text(
            f"## {module.TITLE}\n\nMeasured {stamp} on {machine()}; {load}.\n\n{body.strip()}\n", encoding="utf-8"
        )
        print(body, flush=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    parts = [
        "# Benchmarks\n",
        "Measured by `make bench` (one module: `make bench BENCH=province_day`) against the targets in "
        "[docs/spec/performance-targets.md](spec/performance-targets.md). Each figure is the median of several "
        "runs, each run a fresh process; peak RSS is that process's own. Timed assertions never appear in tests.\n",
        f"Last assembled at commit `{commit}`; each section says when and on what machine it was measured.\n",
    ]
    for section in sorted(SECTIONS.glob("bench_*.md")):
        parts.append(section.read_text(encoding="utf-8"))
    (REPO / "docs" / "benchmarks.md").write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {REPO / 'docs' / 'benchmarks.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
