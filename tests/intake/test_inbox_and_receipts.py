"""The inbox takes regular, size-stable files only, and a file's receipt time is never one the sender controls."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timedelta

import duckdb

from bantin import intake, pipeline, store
from bantin.submission_files import write_csv

from .conftest import district_rows

DISTRICT = 207


def ledger(settings) -> list[dict]:
    with store.writer(settings) as con:
        cursor = con.execute("SELECT * FROM ops.submission ORDER BY received_at")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _inbox(settings):
    folder = settings.landing / str(DISTRICT)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_forged_mtime_is_never_the_receipt_time_and_a_back_dated_file_shows_as_a_correction(settings):
    today = datetime.now(settings.timezone).date()
    earlier = today - timedelta(days=3)
    on_time = write_csv(district_rows(DISTRICT, earlier), _inbox(settings) / "d-3.csv")
    intake.write_receipt(
        settings.receipts,
        DISTRICT,
        intake.sha256_of(on_time),
        datetime.combine(earlier, datetime.min.time(), settings.timezone).replace(hour=10),
        "imap",
        on_time.name,
        message_id="<a@b>",
        sender="coto@example.vn",
    )
    pipeline.collect(settings)
    pipeline.validate(settings)
    # The district "corrects" that day now, with the file's time forged to before that day's cutoff.
    forged = write_csv(
        district_rows(
            DISTRICT, earlier, c7192={"new_cases": 3, "tests_performed": 9, "tests_positive": 3, "in_treatment": 3}
        ),
        _inbox(settings) / "d-3 sua.csv",
    )
    stamp = datetime.combine(earlier, datetime.min.time(), settings.timezone).replace(hour=11).timestamp()
    os.utime(forged, (stamp, stamp))
    before = datetime.now(settings.timezone).replace(tzinfo=None)
    pipeline.collect(settings)
    pipeline.validate(settings)
    first, second = ledger(settings)
    assert (first["channel"], first["received_at"].hour) == ("imap", 10)
    assert json.loads(first["provenance_json"])["message_id"] == "<a@b>"
    assert second["channel"] == "inbox" and second["received_at"] >= before - timedelta(seconds=1)
    assert second["is_late"] is True and second["status"] == "accepted"
    receipt = json.loads(intake.receipt_path(settings.receipts, DISTRICT, second["sha256"]).read_text())
    assert receipt["channel"] == "inbox"
    # The bulletin of today lists it as a correction of that day.
    pipeline.build_marts(settings, today)
    with store.writer(settings) as con:
        corrected = con.execute(
            "SELECT count(*) FROM marts.corrections WHERE report_date = ? AND unit_type = "
            "'commune' AND corrected_at >= ?",
            [earlier, before - timedelta(seconds=1)],
        ).fetchone()
    assert corrected[0] >= 1
    # A later rescan never moves a receipt time.
    pipeline.collect(settings)
    assert ledger(settings)[1]["received_at"] == second["received_at"]


def test_a_file_still_growing_is_taken_only_once_its_size_is_stable(settings, monkeypatch):
    import dataclasses

    settings = dataclasses.replace(settings, settle_seconds=1.5)
    path = _inbox(settings) / "growing.csv"
    whole = write_csv(district_rows(DISTRICT, datetime.now(settings.timezone).date()), path).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])

    def finish_upload():
        time.sleep(0.5)
        path.write_bytes(whole)

    writer = threading.Thread(target=finish_upload)
    writer.start()
    stats = pipeline.collect(settings)
    writer.join()
    assert stats["growing"] == 1 and ledger(settings) == []
    pipeline.collect(settings)
    [taken] = ledger(settings)
    assert taken["size_bytes"] == len(whole) and taken["error_count"] == 0


def test_links_pipes_and_oversized_files_are_refused_unopened_with_a_verdict(settings, monkeypatch, tmp_path):
    import dataclasses

    settings = dataclasses.replace(settings, max_file_bytes=1024)
    secret = tmp_path / "environ"
    secret.write_text("SMTP_PASSWORD=hunter2\n")
    inbox = _inbox(settings)
    (inbox / "link.csv").symlink_to(secret)
    (inbox / "proc.csv").symlink_to("/proc/self/environ")
    os.mkfifo(inbox / "pipe.csv")
    (inbox / "big.csv").write_bytes(b"x," * 4096)
    pipeline.collect(settings)
    pipeline.validate(settings)
    pipeline.collect(settings)  # a second look records nothing twice
    rows = ledger(settings)
    assert sorted(r["file_name"] for r in rows) == ["big.csv", "link.csv", "pipe.csv", "proc.csv"]
    assert {(r["status"], r["archive_path"], r["sha256"]) for r in rows} == {("rejected", "", "")}
    with store.writer(settings) as con:
        found = dict(
            con.execute(
                "SELECT s.file_name, f.rule FROM ops.finding f JOIN ops.submission s USING (submission_id)"
            ).fetchall()
        )
    assert found == {
        "big.csv": "file.too_large",
        "link.csv": "file.not_regular",
        "pipe.csv": "file.not_regular",
        "proc.csv": "file.not_regular",
    }
    archived = [p for p in settings.archive.rglob("*") if p.is_file()] if settings.archive.exists() else []
    assert archived == []
    assert len(list(settings.feedback.rglob("*.html"))) == 4  # each clerk hears why


def test_the_archive_is_private_and_leftovers_of_a_crash_are_cleaned(settings):
    write_csv(district_rows(DISTRICT, datetime.now(settings.timezone).date()), _inbox(settings) / "a.csv")
    debris = settings.archive / "ab" / ".abcdef.csv.4242.partial"
    debris.parent.mkdir(parents=True)
    debris.write_bytes(b"half a file")
    snapshot_debris = settings.analytics_path.with_name(f".{settings.analytics_path.name}.4242.partial.wal")
    snapshot_debris.parent.mkdir(parents=True)
    snapshot_debris.write_bytes(b"wal of a full disk")
    pipeline.collect(settings)
    pipeline.publish(settings)
    assert not debris.exists() and not snapshot_debris.exists()
    [stored] = [p for p in settings.archive.rglob("*") if p.is_file()]
    assert stored.stat().st_mode & 0o777 == 0o400
    assert all(p.stat().st_mode & 0o077 == 0 for p in [settings.archive, stored.parent])
    with duckdb.connect(str(settings.analytics_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.submission_row").fetchone()[0] > 0
