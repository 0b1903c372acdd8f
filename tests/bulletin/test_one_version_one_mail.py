"""One version, one mail: a new bulletin version only when a figure, a level or the reporting status changed;
a version is mailed once even by two runs at once; a failing alert never stops the bulletin; an unexpected
error has its own exit code and leaves its traceback in a file the message names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

from bantin import demo_data, pipeline
from bantin.submission_files import write_csv

from .conftest import REPORT_DATE, WITHHELD, load
from conftest import receive

BIN = Path(sys.executable).parent


def _versions(settings) -> list[str]:
    return sorted(p.name for p in (settings.bulletins / REPORT_DATE.isoformat()).glob("v*"))


def _district_file(settings, district: int, name: str, received: datetime, **changes) -> Path:
    rows = [dict(r) for r in demo_data.generate_rows(22, REPORT_DATE, REPORT_DATE)[(REPORT_DATE, district)]]
    rows[0].update(changes)
    (settings.landing / str(district)).mkdir(parents=True, exist_ok=True)
    path = write_csv(rows, settings.landing / str(district) / name)
    return receive(settings, path, received)


def test_rejected_files_alone_make_no_new_version_and_no_mail(bulletin_settings, drop_withheld):
    settings = bulletin_settings
    pipeline.render(settings, REPORT_DATE)
    assert _versions(settings) == ["v1"]
    # A rejected file from a district already in force, and one from a district with no valid report yet.
    _district_file(settings, 193, "sai.csv", datetime(2021, 10, 19, 17, 30), new_cases=-5)
    _district_file(settings, next(iter(WITHHELD)), "sai.csv", datetime(2021, 10, 19, 17, 40), deaths="?")
    load(settings)
    again = pipeline.render(settings, REPORT_DATE)
    assert again["reused"] == "True" and _versions(settings) == ["v1"]
    # A figure that changes does make a new version.
    drop_withheld(settings, next(iter(WITHHELD)), datetime(2021, 10, 19, 18, 0))
    load(settings)
    assert pipeline.render(settings, REPORT_DATE)["reused"] == "False"
    assert _versions(settings) == ["v1", "v2"]


def test_two_runs_behind_a_slow_relay_mail_a_version_once(bulletin_settings, smtp_server):
    settings = bulletin_settings
    rendered = pipeline.render(settings, REPORT_DATE)
    smtp_server.on_data = lambda: time.sleep(2)  # a slow relay: the first send is still going on
    code = (
        "import json, sys\nfrom datetime import date\nfrom pathlib import Path\n"
        "from bantin import pipeline\nfrom bantin.config import load_settings\n"
        f"rendered = json.loads({json.dumps(json.dumps({k: str(v) for k, v in rendered.items()}))})\n"
        "print(json.dumps(pipeline.deliver(load_settings(), date(2021, 10, 19), rendered)))\n"
    )
    env = {**os.environ, "BANTIN_HOME": str(settings.home), "BANTIN_MAIL_TO": "bcd@quangninh.example"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err[-2000:] for _, err in results]
    assert len(smtp_server.messages) == 1
    outcomes = sorted(bool(json.loads(out.splitlines()[-1]).get("already_sent")) for out, _ in results)
    assert outcomes == [False, True]


def test_a_failing_alert_never_stops_the_bulletin(settings):
    """`bantin run` with a new F0 to alert and a mail server that is down: the bulletin is made all the same."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _district_file(
        settings,
        207,
        "co_to.csv",
        datetime(2021, 10, 19, 10, 0),
        new_cases=2,
        new_cases_community=2,
        tests_performed=50,
        tests_positive=2,
        in_treatment=2,
    )
    env = {
        **os.environ,
        "BANTIN_HOME": str(settings.home),
        "BANTIN_PROVINCE": "22",
        "BANTIN_SETTLE_S": "0.2",
        "BANTIN_ALERT_TO": "bcd@quangninh.test",
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 2, "retry_limit": 0},
            }
        ),
    }
    result = subprocess.run(
        [str(BIN / "bantin"), "run", "--start", REPORT_DATE.isoformat(), "--no-deliver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "alert_new_f0 failed" in result.stdout + result.stderr  # (Airflow, once imported, logs to stdout)
    assert (settings.bulletins / REPORT_DATE.isoformat() / "latest" / "bulletin.pdf").is_file()
    # Nothing is recorded as alerted: the next collection tries again.
    import duckdb

    with duckdb.connect(str(settings.analytics_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ops.f0_alert").fetchone() == (0,)


def test_an_unexpected_error_exits_3_and_names_the_log_with_the_traceback(settings):
    settings.warehouse_path.parent.mkdir(parents=True)
    settings.warehouse_path.write_bytes(b"this is not a DuckDB database" * 100)
    env = {**os.environ, "BANTIN_HOME": str(settings.home), "BANTIN_PROVINCE": "22"}
    result = subprocess.run(
        [str(BIN / "bantin"), "run", "--start", REPORT_DATE.isoformat(), "--no-deliver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    log_file = Path(result.stderr.split("details: ")[-1].strip())
    assert log_file.parent == settings.home / "logs"
    assert "Traceback" in log_file.read_text(encoding="utf-8")
    _ = date
