"""Readers never block the writer: a clerk's `bantin validate`, an analyst's `bantin sql` and an analyst's own
DuckDB connection to the live file, all running across the cutoff, do not fail the run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

BIN = Path(sys.executable).parent
DAY_BEFORE, DAY = date(2021, 10, 18), date(2021, 10, 19)


def _env(settings, **extra) -> dict:
    return {**os.environ, "BANTIN_HOME": str(settings.home), "BANTIN_PROVINCE": "22", "BANTIN_SETTLE_S": "0.2", **extra}


def test_validate_sql_and_an_analysts_connection_across_the_cutoff_do_not_fail_the_run(settings):
    from bantin import demo_data

    env = _env(settings)
    files = demo_data.generate(22, DAY_BEFORE, DAY, settings.landing, receipts_dir=settings.receipts)
    clerk_file = [p for p in files if p.parent.name == "207"][-1]  # Cô Tô's file of the 19th
    first = subprocess.run(
        [str(BIN / "bantin"), "run", "--start", DAY_BEFORE.isoformat(), "--no-deliver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr[-2000:]

    # An analyst opens the live file by hand (read-only, as DuckDB allows) and keeps it open 5 s.
    analyst = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, sys, time\n"
                f"con = duckdb.connect({str(settings.warehouse_path)!r}, read_only=True)\n"
                "print('open', flush=True)\n"
                "con.execute('SELECT count(*) FROM ops.submission').fetchall()\n"
                "time.sleep(5)\n"
                "con.close()\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert analyst.stdout.readline().strip() == "open"
    run = subprocess.Popen(
        [str(BIN / "bantin"), "run", "--start", DAY.isoformat(), "--no-deliver"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    checks, queries = [], []
    while run.poll() is None:
        checks.append(
            subprocess.run(
                [
                    str(BIN / "bantin"),
                    "validate",
                    str(clerk_file),
                    "--district",
                    "207",
                    "--as-of",
                    DAY.isoformat(),
                    "--format",
                    "json",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        )
        queries.append(
            subprocess.run(
                [str(BIN / "bantin"), "sql", "SELECT count(*) AS files FROM ops.submission"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        )
    out, err = run.communicate()
    analyst.wait(timeout=60)

    assert run.returncode == 0, err[-3000:]
    assert "waiting" in err  # it met the analyst's lock and waited instead of failing
    assert checks and all(c.returncode in (0, 1) and "Traceback" not in c.stderr for c in checks)
    assert all(q.returncode == 0 for q in queries), [q.stderr for q in queries]
    assert (settings.bulletins / DAY.isoformat() / "latest" / "bulletin.pdf").is_file()


def test_the_writer_waits_for_the_lock_only_within_its_bound(settings, monkeypatch):
    import duckdb
    import pytest

    from bantin import store

    with store.writer(settings):
        pass
    monkeypatch.setenv("BANTIN_LOCK_WAIT_S", "1")
    from bantin.config import load_settings

    bounded = load_settings()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, time\n"
                f"con = duckdb.connect({str(settings.warehouse_path)!r}, read_only=True)\n"
                "print('open', flush=True)\n"
                "time.sleep(30)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="BANTIN_LOCK_WAIT_S"), store.writer(bounded):
            pass
        assert time.monotonic() - started < 20
    finally:
        holder.kill()
        holder.wait()
    with store.writer(bounded) as con:  # free again: the writer gets it
        assert con.execute("SELECT 1").fetchone() == (1,)
    _ = duckdb
