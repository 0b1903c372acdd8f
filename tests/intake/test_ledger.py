"""Ledger, archive, feedback and warehouse after a real day of inbox traffic, ending with the DAG.

Cô Tô (207) sends a file, drops the same bytes again, corrects it, then sends a
broken version; its file also lands by mistake in Quảng Yên's inbox (206), and
Quảng Yên's own file arrives after the cutoff. The first rounds run the
pipeline's stages in this process; the last round is `airflow dags test
collect_submissions`, with a real SMTP server receiving the new-F0 alert.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime

import pytest

from bantin import intake, pipeline, store
from intake.conftest import district_rows, smtp_env

from conftest import run_airflow

DAY = date(2021, 10, 19)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2021, 10, 19, hour, minute)


def ledger(settings) -> dict[str, dict]:
    with store.reader(settings.warehouse_path) as con:
        cursor = con.execute("SELECT * FROM ops.submission ORDER BY received_at")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return {(r["district_code"], r["file_name"]): r for r in rows}


def query(settings, sql: str, params=()) -> list[tuple]:
    with store.reader(settings.warehouse_path) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.mark.e2e
def test_a_day_of_inbox_traffic(settings, drop, smtp_server, airflow_home, monkeypatch):
    first = district_rows(
        207,
        DAY,
        c7192={"new_cases": 2, "new_cases_community": 1, "tests_performed": 40, "tests_positive": 2, "in_treatment": 2},
    )
    original = drop(207, "BaoCao_CoTo.csv", first, at(9))
    drop(207, "BaoCao_CoTo (1).csv", original.read_bytes(), at(9, 5))  # the same file sent twice
    drop(206, "BaoCao_CoTo.csv", original.read_bytes(), at(9, 10))  # Cô Tô's file in Quảng Yên's inbox

    # ---- round 1: one record per (inbox, bytes), one archive copy per content
    pipeline.collect(settings)
    pipeline.validate(settings)
    books = ledger(settings)
    assert sorted((b["district_code"], b["file_name"], b["status"]) for b in books.values()) == [
        (206, "BaoCao_CoTo.csv", "rejected"),
        (207, "BaoCao_CoTo.csv", "accepted"),
    ]
    archived = [p for p in settings.archive.rglob("*") if p.is_file()]
    assert len(archived) == 1 and archived[0].read_bytes() == original.read_bytes()
    assert archived[0].name.startswith(intake.sha256_of(original))
    wrong_id = books[(206, "BaoCao_CoTo.csv")]["submission_id"]
    rules = query(
        settings,
        "SELECT DISTINCT rule, source_row FROM ops.finding WHERE submission_id = ? AND severity = 'error' ORDER BY ALL",
        [wrong_id],
    )
    assert ("identity.district", 2) in rules and ("identity.commune", 4) in rules

    # ---- round 2: a corrected file supersedes the first; a rerun with nothing new changes nothing
    corrected = district_rows(
        207,
        DAY,
        c7192={"new_cases": 3, "new_cases_community": 2, "tests_performed": 40, "tests_positive": 3, "in_treatment": 3},
        c7198={"commune_name": "<img src=x onerror=alert(1)>"},
    )
    drop(207, "BaoCao_CoTo_sua.csv", corrected, at(11))
    pipeline.collect(settings)
    pipeline.validate(settings)
    before_rerun = ledger(settings)
    assert pipeline.collect(settings)["new"] == 0
    assert pipeline.validate(settings)["validated"] == 0
    assert ledger(settings) == before_rerun
    assert [
        (b["file_name"], b["version"], b["status"]) for b in before_rerun.values() if b["district_code"] == 207
    ] == [("BaoCao_CoTo.csv", 1, "superseded"), ("BaoCao_CoTo_sua.csv", 2, "accepted")]

    # ---- round 3 through Airflow: a broken file (rejected, v2 stays), a late file, the F0 alert
    broken = district_rows(207, DAY, c7195={"deaths": "hai"})
    drop(207, "BaoCao_CoTo_lan3.csv", broken, at(14))
    drop(206, "BaoCao_QuangYen.xlsx.csv", district_rows(206, DAY), at(18, 30), encoding="utf-16")
    env = {**airflow_home, "BANTIN_HOME": str(settings.home), "BANTIN_PROVINCE": "22", **smtp_env(smtp_server.port)}
    result = run_airflow(env, "dags", "test", "collect_submissions", "2021-10-19")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    books = ledger(settings)
    cô_tô = [
        (b["file_name"], b["version"], b["status"], b["is_late"]) for b in books.values() if b["district_code"] == 207
    ]
    assert cô_tô == [
        ("BaoCao_CoTo.csv", 1, "superseded", False),
        ("BaoCao_CoTo_sua.csv", 2, "accepted", False),
        ("BaoCao_CoTo_lan3.csv", 3, "rejected", False),
    ]
    quảng_yên = [(b["version"], b["status"], b["is_late"]) for b in books.values() if b["district_code"] == 206]
    assert quảng_yên == [(1, "rejected", False), (2, "accepted", True)]
    assert len(books) == 5 and len({b["sha256"] for b in books.values()}) == 4
    assert len([p for p in settings.archive.rglob("*") if p.is_file()]) == 4
    for b in books.values():  # byte for byte, content-addressed
        stored = settings.home / b["archive_path"]
        assert intake.sha256_of(stored) == b["sha256"] and stored.stat().st_size == b["size_bytes"]
    # every version stays queryable, row by row
    versions = query(
        settings,
        "SELECT s.version, count(*), sum(r.new_cases) FROM ops.submission AS s "
        "JOIN raw.submission_row AS r USING (submission_id) WHERE s.district_code = 207 "
        "GROUP BY ALL ORDER BY ALL",
    )
    assert versions == [(1, 3, 2), (2, 3, 3), (3, 3, 0)]

    # ---- the Steering Committee heard of the new F0 once, with the figures of the accepted file
    assert len(smtp_server.messages) == 1
    recipients, message = smtp_server.messages[0]["to"], smtp_server.messages[0]["message"]
    assert sorted(recipients) == ["bcd@quangninh.test", "sub@soyte.test"]
    body = smtp_server.messages[0]["body"]
    assert "Thị trấn Cô Tô" in message["Subject"] and "[KHẨN]" in message["Subject"]
    assert "2 ca mắc mới trong cộng đồng ngày 19/10/2021" in body
    assert query(settings, "SELECT commune_code, new_cases_community, sent FROM ops.f0_alert") == [(7192, 2, True)]
    for name, value in smtp_env(smtp_server.port).items():
        monkeypatch.setenv(name, value)
    from bantin.config import load_settings

    assert pipeline.alert_new_f0(load_settings())["new_f0_communes"] == 0  # a rerun does not alert twice
    assert len(smtp_server.messages) == 1

    # ---- feedback: one HTML + JSON per file, every finding, untrusted text escaped
    for b in books.values():
        folder = settings.feedback / str(b["district_code"]) / "2021-10-19"
        report = json.loads(next(folder.glob(f"*_{b['submission_id']}.json")).read_text(encoding="utf-8"))
        assert report["submission"]["status"] == b["status"]
        assert len([f for f in report["findings"] if f["severity"] == "error"]) == b["error_count"]
        assert (folder / next(folder.glob(f"*_{b['submission_id']}.json")).name.replace(".json", ".html")).exists()
    first_id = books[(207, "BaoCao_CoTo.csv")]["submission_id"]
    first_html = next((settings.feedback / "207" / "2021-10-19").glob(f"*_{first_id}.html")).read_text()
    assert "ĐÃ ĐƯỢC THAY THẾ bởi lần gửi 2" in first_html and "BaoCao_CoTo_sua.csv" in first_html
    sua = books[(207, "BaoCao_CoTo_sua.csv")]
    html = next((settings.feedback / "207" / "2021-10-19").glob(f"*_{sua['submission_id']}.html")).read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    lan3 = json.loads(
        next(
            (settings.feedback / "207" / "2021-10-19").glob(
                f"*_{books[(207, 'BaoCao_CoTo_lan3.csv')]['submission_id']}.json"
            )
        ).read_text(encoding="utf-8")
    )
    assert [(f["rule"], f["row"], f["column"], f["header"], f["value"]) for f in lan3["findings"]] == [
        ("cell.not_a_number", 3, "deaths", "Tử vong", "hai")
    ]

    # ---- the warehouse takes the accepted version of each district, flags the late one
    pipeline.build_marts(settings, DAY)
    marts = dict(
        query(
            settings,
            "SELECT commune_code, new_cases FROM marts.commune_daily WHERE report_date = ? AND district_code = 207",
            [DAY],
        )
    )
    assert marts == {7192: 3, 7195: 0, 7198: 0}
    status = dict(
        query(
            settings,
            "SELECT district_code, status FROM marts.reporting_status "
            "WHERE report_date = ? AND district_code IN (206, 207)",
            [DAY],
        )
    )
    assert status == {206: "late", 207: "on_time"}


COLLECT = (
    "import sys; from bantin.config import load_settings; from bantin.pipeline import collect\n"
    "print(collect(load_settings(), run_id=sys.argv[1]))\n"
)


def test_two_concurrent_collections_record_every_file_once(settings, drop, demo_landing_template):
    """Two collector processes started together: no double record, no lost file, no partial archive copy."""
    from conftest import copy_landing

    copy_landing(demo_landing_template, settings.landing, until=date(2021, 10, 3))
    files = [p for p in settings.landing.rglob("*") if p.is_file()]
    env = {"BANTIN_HOME": str(settings.home), "BANTIN_PROVINCE": "22", "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", COLLECT, f"run-{n}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    new = [eval(out.strip().splitlines()[-1])["new"] for out, _ in outputs]  # noqa: S307 (our own dict repr)
    assert sorted(new) == [0, len(files)]
    recorded = query(settings, "SELECT landing_path, count(*) FROM ops.submission GROUP BY ALL")
    assert len(recorded) == len(files) and all(n == 1 for _, n in recorded)
    archive = [p for p in settings.archive.rglob("*") if p.is_file()]
    assert len(archive) == len(files) and not [p for p in archive if p.name.endswith(".partial")]
    assert query(settings, "SELECT count(DISTINCT run_id) FROM ops.pipeline_run WHERE stage = 'collect'") == [(2,)]
