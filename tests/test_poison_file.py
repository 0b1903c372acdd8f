"""A poison file is set aside, never retried forever: whatever fails on one file is recorded against that file.

The hostile-day test covers the known classes; here a failure bantin does not know yet is simulated
(the reader or the validation raising on one file) to show the run goes on with the others.
"""

from __future__ import annotations

from datetime import date, datetime

from bantin import demo_data, intake, pipeline, store, validation
from bantin.submission_files import write_csv

from conftest import receive

DAY = date(2021, 10, 19)


def _drop(settings, district: int, name: str) -> None:
    rows = demo_data.generate_rows(22, DAY, DAY)[(DAY, district)]
    (settings.landing / str(district)).mkdir(parents=True, exist_ok=True)
    receive(settings, write_csv(rows, settings.landing / str(district) / name), datetime(2021, 10, 19, 10))


def _verdicts(settings) -> dict:
    with store.writer(settings) as con:
        return {
            name: (status, rules)
            for name, status, rules in con.execute(
                "SELECT s.file_name, s.status, list(f.rule ORDER BY f.rule) FILTER (WHERE f.rule IS NOT NULL) "
                "FROM ops.submission s LEFT JOIN ops.finding f USING (submission_id) GROUP BY ALL"
            ).fetchall()
        }


def test_a_file_that_breaks_the_reader_or_the_validation_is_set_aside_and_the_others_go_on(settings, monkeypatch):
    for district, name in ((193, "ha_long.csv"), (207, "poison_reader.csv"), (206, "poison_gx.csv")):
        _drop(settings, district, name)
    real_read, real_frame = intake.read_submission, validation.file_frame

    def read(path, district_code, **options):
        if options.get("file_name") == "poison_reader.csv":
            raise RecursionError("a bug bantin does not know yet")
        return real_read(path, district_code, **options)

    def frame(rows, files):
        if (files["inbox_district_code"] == 206).any():
            raise ValueError("a bug in the frame for this file only")
        return real_frame(rows, files)

    monkeypatch.setattr(intake, "read_submission", read)
    monkeypatch.setattr(validation, "file_frame", frame)
    pipeline.collect(settings)
    pipeline.validate(settings)
    verdicts = _verdicts(settings)
    assert verdicts["ha_long.csv"][0] == "accepted"
    assert verdicts["poison_reader.csv"] == ("rejected", ["file.read_failed"])
    assert verdicts["poison_gx.csv"] == ("rejected", ["file.validation_failed"])
    # Nothing is pending, so nothing is retried: the next run has nothing to do with them.
    assert pipeline.validate(settings)["validated"] == 0
    assert len(list(settings.feedback.rglob("*.html"))) == 3  # each clerk hears of it
