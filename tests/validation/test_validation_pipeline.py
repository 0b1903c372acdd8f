"""The validate stage on real files through the pipeline: history across a run and across runs,
completeness down to the marts, the Data Docs site linked from the stage's log line."""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from pathlib import Path

from bantin import pipeline, store
from bantin.submission_files import write_csv

from .validation_helpers import DISTRICT, district_day
from conftest import receive

DAYS = [date(2021, 10, d) for d in (15, 16, 17, 18, 19)]
MISSING_AT = 5  # index of the commune left out of the 19/10 file


def _drop_file(settings, day: date, rows: list[dict], name: str, received: datetime) -> Path:
    path = settings.landing / str(DISTRICT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(rows, path, encoding="utf-8", separator=",", headers="machine", date_style="iso")
    receive(settings, path, received)
    return path


def _statuses(con) -> dict:
    return {
        (d, v): s
        for d, v, s in con.execute(
            "SELECT report_date, version, status FROM ops.submission WHERE district_code = ?", [DISTRICT]
        ).fetchall()
    }


def test_validate_stage_history_completeness_and_data_docs(settings, caplog):
    files = {day: district_day(day) for day in DAYS}
    # 18/10: a running total below the 17/10 file, which arrives in the same run
    files[DAYS[3]][0]["vaccinated_65plus_full"] = files[DAYS[2]][0]["vaccinated_65plus_full"] - 1
    dropped = files[DAYS[4]].pop(MISSING_AT)
    for day, rows in files.items():
        _drop_file(settings, day, rows, f"bc {day:%d.%m}.csv", datetime.combine(day, time(15, 0)))

    pipeline.collect(settings)
    with caplog.at_level(logging.INFO, logger="bantin"):  # the stage line comes from bantin.store
        stats = pipeline.validate(settings)
    assert (stats["validated"], stats["accepted"], stats["rejected"]) == (5, 4, 1)
    docs = Path(stats["data_docs"])
    assert docs == settings.home / "data_docs" / "index.html" and docs.is_file()
    assert f"data_docs={docs}" in next(r.getMessage() for r in caplog.records if r.getMessage().startswith("validate:"))

    with store.writer(settings) as con:
        assert _statuses(con)[(DAYS[3], 1)] == "rejected"
        findings = con.execute(
            "SELECT s.report_date, f.rule, f.severity, f.source_row, f.column_name, f.value FROM ops.finding f "
            "JOIN ops.submission s USING (submission_id) ORDER BY 1"
        ).fetchall()
    assert findings == [
        (
            DAYS[3],
            "history.cumulative_decrease",
            "error",
            2,
            "vaccinated_65plus_full",
            str(files[DAYS[3]][0]["vaccinated_65plus_full"]),
        ),
        (DAYS[4], "commune.missing", "warning", None, "commune_code", str(dropped["commune_code"])),
    ]

    # Late resubmissions for earlier dates, judged on what came before their date only:
    # 16/10 below the 19/10 figure but not below 15/10 (fine); 17/10 below 16/10 (rejected).
    late = datetime.combine(DAYS[4], time(18, 0))
    again_16 = district_day(DAYS[1])
    again_16[1]["vaccinated_65plus_full"] = files[DAYS[0]][1]["vaccinated_65plus_full"]
    again_17 = district_day(DAYS[2])
    again_17[2]["vaccinated_18plus_full"] = min(
        again_17[2]["vaccinated_18plus_full"], files[DAYS[1]][2]["vaccinated_18plus_dose1"] - 2
    )
    again_17[2]["vaccinated_18plus_dose1"] = files[DAYS[1]][2]["vaccinated_18plus_dose1"] - 1
    _drop_file(settings, DAYS[1], again_16, "bc 16.10 sua.csv", late)
    _drop_file(settings, DAYS[2], again_17, "bc 17.10 sua.csv", late)
    pipeline.collect(settings)
    assert pipeline.validate(settings)["rejected"] == 1
    pipeline.build_marts(settings, DAYS[4])

    with store.writer(settings) as con:
        statuses = _statuses(con)
        assert (statuses[(DAYS[1], 1)], statuses[(DAYS[1], 2)]) == ("superseded", "accepted")
        assert (statuses[(DAYS[2], 1)], statuses[(DAYS[2], 2)]) == ("accepted", "rejected")
        late_rules = con.execute(
            "SELECT f.rule, f.column_name FROM ops.finding f JOIN ops.submission s USING (submission_id) "
            "WHERE s.version = 2"
        ).fetchall()
        assert late_rules == [("history.cumulative_decrease", "vaccinated_18plus_dose1")]
        # Completeness reaches the marts as `reported = false`, never as a zero.
        reported = dict(
            con.execute(
                "SELECT commune_code, (reported, new_cases) FROM marts.commune_daily "
                "WHERE report_date = ? AND district_code = ?",
                [DAYS[4], DISTRICT],
            ).fetchall()
        )
    assert reported.pop(dropped["commune_code"]) == (False, None)
    assert all(flag for flag, _ in reported.values()) and len(reported) == len(files[DAYS[4]])
