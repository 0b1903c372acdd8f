"""A hostile day: 200+ generated hostile files in real inboxes, a real `bantin run` in 1 GiB of address space.

Every run finishes, every file gets a recorded verdict (and a feedback report),
the bulletin is produced, nothing outside the inboxes is read, and a rerun
changes nothing.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from hostile_corpus import write_corpus

ADDRESS_SPACE = 1024 * 1024 * 1024  # ulimit -v 1 GiB
MAX_FILE_MB = 2


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _bantin(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "bantin"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        preexec_fn=_capped,
    )


@pytest.fixture
def hostile_home(tmp_path):
    from zoneinfo import ZoneInfo

    home = tmp_path / "var"
    secret = tmp_path / "secret" / "smtp_password.txt"
    secret.parent.mkdir()
    secret.write_text("SMTP_PASSWORD=hunter2-should-never-leave\n")
    day = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    entries = write_corpus(home / "landing", day, max_bytes=MAX_FILE_MB * 1024 * 1024, secret=secret)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BANTIN_", "MALLOC_"))}
    env.update(
        BANTIN_HOME=str(home),
        BANTIN_PROVINCE="22",
        BANTIN_MAX_FILE_MB=str(MAX_FILE_MB),
        BANTIN_SETTLE_S="0.2",
        BANTIN_DUCKDB_MEMORY_LIMIT="512MB",
        BANTIN_DUCKDB_THREADS="2",
    )
    return home, day, entries, env


def test_a_hostile_day_in_one_gib_gives_every_file_a_verdict_and_the_bulletin(hostile_home):
    import duckdb

    from bantin import intake

    home, day, entries, env = hostile_home
    assert len(entries) >= 200

    first = _bantin(env, "run", "--start", day.isoformat(), "--no-deliver")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Traceback" not in first.stderr

    # The bulletin of the day, as a real PDF.
    latest = home / "bulletins" / day.isoformat() / "latest"
    assert (latest / "bulletin.pdf").read_bytes().startswith(b"%PDF")

    with duckdb.connect(str(home / "warehouse" / "analytics.duckdb"), read_only=True) as con:
        ledger = con.execute(
            "SELECT landing_path, district_code, sha256, status, error_count, archive_path FROM ops.submission"
        ).fetchall()
        findings = dict(con.execute("SELECT submission_id, count(*) FROM ops.finding GROUP BY 1").fetchall())
        ids = {r[0]: r[1] for r in con.execute("SELECT landing_path, submission_id FROM ops.submission").fetchall()}
    by_path = {r[0]: r for r in ledger}
    by_content = {(r[1], r[2]) for r in ledger}
    assert {r[3] for r in ledger} <= {"accepted", "rejected", "superseded"}  # a verdict, never left pending

    missing = []
    for entry in entries:
        relative = str(entry.path.relative_to(home))
        if relative in by_path:
            continue
        if entry.regular and (int(entry.path.parent.name), intake.sha256_of(entry.path)) in by_content:
            continue  # the same bytes already recorded for that inbox
        missing.append((entry.kind, relative))
    assert missing == []

    # Links and pipes are refused unopened: nothing outside the inboxes reached the archive.
    for entry in entries:
        if not entry.regular:
            row = by_path[str(entry.path.relative_to(home))]
            assert row[3] == "rejected" and row[5] == ""
    archived = list((home / "archive").rglob("*"))
    assert not any(b"hunter2" in p.read_bytes() or b"PATH=" in p.read_bytes() for p in archived if p.is_file())
    assert all(p.stat().st_mode & 0o077 == 0 for p in archived)
    # Findings per file are capped; every file's clerk has a report.
    assert max(findings.values()) <= 200 + 3  # the cap, plus intake's and validation's summaries
    reports = list((home / "feedback").rglob("*.json"))
    assert len(reports) >= len(ledger)
    assert json.loads(reports[0].read_text(encoding="utf-8"))["submission"]["status"] in (
        "accepted",
        "rejected",
        "superseded",
    )
    # Good files of the day are in force despite their neighbours.
    good = [e for e in entries if e.kind == "good"]
    assert all(by_path[str(e.path.relative_to(home))][3] == "accepted" for e in good)
    assert ids

    # A rerun finishes, takes nothing new and keeps the same bulletin version.
    again = _bantin(env, "run", "--start", day.isoformat(), "--no-deliver")
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(p.name for p in latest.parent.iterdir() if p.name.startswith("v")) == ["v1"]
