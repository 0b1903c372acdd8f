"""Replaying report days two ways, and comparing what they leave behind.

The rule that makes "a backfill equals the daily runs" true (docs/operations.md):
a run for report date D builds from every file received in the inboxes by the
time it runs. The daily run at D's cutoff saw the files received by then; a
backfill later sees every file. The two agree for every date whose files all
arrived before its cutoff (the normal day); a file that arrived after D's run
is a correction, and a rerun or backfill of D takes it in as a new bulletin
version: that is what rerunning D is for.

- `daily_runs`: the inboxes fill up as they did in real time (each file
  appears at its receipt time) and D runs at D's cutoff;
- `backfill`: every file is in the inboxes first, then the dates run.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

from conftest import receive

# Columns that record when the pipeline did its bookkeeping, not what it found.
BOOKKEEPING = {
    "ops.submission": ["recorded_at"],
    "ops.report_day": ["requested_at"],
    "ops.f0_alert": ["alerted_at", "outbox_path"],  # the outbox copy is named by the time it was sent
    "ops.schema_version": ["applied_at"],
}
RUN_LOG = {"ops.pipeline_run"}


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def received_at(path: Path, settings) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=settings.timezone)


def deliver_files(template: Path, settings, *, after: datetime | None, until: datetime) -> int:
    """Copy into the inboxes the files received in (after, until], keeping their receipt times."""
    count = 0
    for path in sorted(template.rglob("*")):
        if not path.is_file():
            continue
        moment = received_at(path, settings)
        if (after is None or moment > after) and moment <= until:
            target = settings.landing / path.relative_to(template)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            receive(settings, target, moment)
            count += 1
    return count


def daily_runs(settings, template: Path, start: date, end: date) -> None:
    """Each day: the files received since the last run arrive, then the run at the cutoff."""
    from bantin.pipeline import cutoff_of, run_day

    previous = None
    for day in days(start, end):
        cutoff = cutoff_of(day, settings)
        deliver_files(template, settings, after=previous, until=cutoff)
        run_day(settings, day, run_id=f"scheduled__{day}", deliver_bulletin=False)
        previous = cutoff


def backfill(settings, template: Path, start: date, end: date) -> None:
    """Every file first, then the dates in order (what `airflow backfill create` does)."""
    from bantin.pipeline import cutoff_of, run_day

    deliver_files(template, settings, after=None, until=cutoff_of(end, settings))
    for day in days(start, end):
        run_day(settings, day, run_id=f"backfill__{day}", deliver_bulletin=False)


def warehouse_state(settings) -> dict[str, list[tuple]]:
    """Every table of the warehouse, rows sorted, bookkeeping columns left out."""
    from bantin import store

    state = {}
    with store.writer(settings) as con:
        tables = con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            if table in RUN_LOG:
                continue
            excluded = BOOKKEEPING.get(table)
            columns = f"* EXCLUDE ({', '.join(excluded)})" if excluded else "*"
            rows = con.execute(f"SELECT {columns} FROM {table}").fetchall()
            state[table] = sorted(rows, key=repr)
    return state


def bulletins(settings) -> dict[str, dict]:
    """For each report date: the versions made, and the figures of the latest."""
    found = {}
    for folder in sorted(settings.bulletins.iterdir()):
        versions = sorted(p.name for p in folder.iterdir() if p.name.startswith("v"))
        latest = json.loads((folder / "latest" / "bulletin.json").read_text(encoding="utf-8"))
        found[folder.name] = {"versions": versions, "figures": latest["figures"]}
    return found


def differences(left: dict, right: dict) -> list[str]:
    """Names of the tables (or dates) whose contents differ: empty when equal."""
    return sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))
