"""A hostile day: `bantin run` over 200+ generated hostile files (tests/hostile_corpus.py) in 1 GiB of
address space.

Setup (not timed): the corpus is written into a fresh data root for each run.
Timed, each in a fresh process under `ulimit -v 1048576` (1 GiB address space),
medians of 3 runs: the whole `bantin run` (collect, validate, alert, marts,
bulletin with PDF, snapshot), and the same with the malloc arena limit undone
(MALLOC_ARENA_MAX unset cannot undo bantin's own mallopt, so this second row runs
`bantin.pipeline.run_day` directly without the CLI) to show why bantin sets it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import PYTHON, REPO, TABLE_HEAD, child, measure

TITLE = "Hostile day — 200+ hostile files, `bantin run` in 1 GiB of address space"


def write_hostile_corpus(root: str, day: str) -> None:
    """Child (setup): the tests' hostile corpus in `<root>/var/landing`; prints how many entries it wrote."""
    sys.path.insert(0, str(REPO / "tests"))
    from hostile_corpus import write_corpus

    root_path = Path(root)
    (root_path / "secret").write_text("SMTP_PASSWORD=x\n")
    entries = write_corpus(
        root_path / "var" / "landing", date.fromisoformat(day), max_bytes=2 * 1024 * 1024, secret=root_path / "secret"
    )
    print(len(entries))


def run_day_without_arena_limit(day: str) -> None:
    """Child: the pipeline called directly, without the CLI's malloc arena limit."""
    from bantin import pipeline
    from bantin.config import load_settings

    pipeline.run_day(load_settings(), date.fromisoformat(day), deliver_bulletin=False)


def run() -> str:
    day = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    root = Path(tempfile.mkdtemp(prefix="bantin-hostile-"))
    template = root / "template"
    template.mkdir()
    count = subprocess.run(
        child(write_hostile_corpus, template, day), cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    home = root / "var"

    def fresh():
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run(["cp", "-a", str(template / "var"), str(home)], check=True)  # links and the pipe as they are

    env = {
        "BANTIN_HOME": str(home),
        "BANTIN_PROVINCE": "22",
        "BANTIN_MAX_FILE_MB": "2",
        "BANTIN_SETTLE_S": "0.2",
        "BANTIN_DUCKDB_MEMORY_LIMIT": "512MB",
        "BANTIN_DUCKDB_THREADS": "2",
    }
    capped = ["bash", "-c", 'ulimit -v 1048576 && exec "$@"', "capped"]
    rows = [
        measure(
            "`bantin run` (CLI: two malloc arenas)",
            [*capped, str(Path(PYTHON).parent / "bantin"), "run", "--start", day, "--no-deliver"],
            env=env,
            setup=fresh,
        ).row("finishes in 1 GiB", "yes")
    ]
    fresh()
    uncapped = subprocess.run(
        [*capped, *child(run_day_without_arena_limit, day)],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(root, ignore_errors=True)
    errors = [line for line in uncapped.stderr.splitlines() if re.match(r"^[\w.]*(Error|Exception)\b", line)]
    outcome = "finishes" if uncapped.returncode == 0 else f"fails (`{(errors or ['?'])[-1][:160]}`)"
    return (
        f"{count} hostile inbox entries (the test's corpus). Peak RSS is the process's own; the limit is on "
        f"address space (`ulimit -v`), which DuckDB's threads and glibc's per-thread malloc arenas (64 MB "
        f"each) fill long before memory.\n\n{TABLE_HEAD}\n{rows[0]}\n\n"
        f"Without the arena limit (the pipeline called directly, glibc defaults) the same day in 1 GiB: "
        f"{outcome}.\n"
    )
