"""Validation: the `validate` stage of one run, Great Expectations start-up included.

- Quảng Ninh, 19/10/2021: the 13 district files of the day, collected (not
  timed) into a data root that holds 01–18/10 (so history rules have a past).
- The whole country, one day: 695 district files (10,055 commune rows; the 4
  island districts without communes send their one row, Hoàng Sa none) recorded as received, against
  14 accepted days of history. Intake is not part of this figure (bench of #3):
  the rows are put in the ledger as `collect` leaves them.

Timed: a fresh process running `pipeline.validate` (all three suites, the
history query, verdicts, feedback reports, the Data Docs site).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time as clock
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bench.common import PYTHON, TABLE_HEAD, child, measure, run_child, verdict

TITLE = "Validation — one run's files through the GX suites (Quảng Ninh day, national day)"
BIN = Path(PYTHON).parent
DAY = date(2021, 10, 19)
HISTORY_DAYS = 14


def validate_timed() -> None:
    """Child: `pipeline.validate` in this fresh process; appends "imports, validate seconds, files" to BENCH_OUT."""
    started = clock.perf_counter()
    import duckdb  # noqa: F401
    import great_expectations  # noqa: F401
    import pandas  # noqa: F401

    from bantin import pipeline, validation  # noqa: F401
    from bantin.config import load_settings

    imported = clock.perf_counter()
    stats = pipeline.validate(load_settings())
    done = clock.perf_counter()
    with open(os.environ["BENCH_OUT"], "a") as out:
        out.write(f"{imported - started} {done - imported} {stats['validated']}\n")


def collect() -> None:
    """Child (setup): the pipeline's `collect` over the inboxes of BANTIN_HOME."""
    from bantin import pipeline
    from bantin.config import load_settings

    pipeline.collect(load_settings())


def seed_national(home: str) -> None:
    """A data root whose ledger holds every district's file of DAY as received, and 14 accepted days before it."""
    import pandas as pd

    from bantin import demo_data, reference, store
    from bantin.config import load_settings
    from bantin.submission_format import COLUMN_NAMES

    settings = load_settings()
    assert str(settings.home) == str(Path(home).resolve())
    submissions, rows = [], []
    for province in reference.provinces(on=DAY):
        by_key = demo_data.generate_rows(province.code, DAY - timedelta(days=HISTORY_DAYS), DAY)
        for (day, district), file_rows in by_key.items():
            sid = f"{district}-{day:%Y%m%d}"
            received = datetime.combine(day, time(15, 0))
            status = "received" if day == DAY else "accepted"
            submissions.append(
                (
                    sid,
                    district,
                    day,
                    "bench.csv",
                    "landing",
                    "archive",
                    sid,
                    1,
                    received,
                    received,
                    None if status == "received" else 1,
                    status,
                    0,
                    0,
                    False,
                    "{}",
                )
            )
            rows += [(sid, n, *(r[c] for c in COLUMN_NAMES)) for n, r in enumerate(file_rows, start=2)]
    frame = pd.DataFrame(rows, columns=["submission_id", "source_row", *COLUMN_NAMES])
    with store.writer(settings) as con:
        con.executemany(
            "INSERT INTO ops.submission (submission_id, district_code, report_date, file_name, "
            "landing_path, archive_path, sha256, size_bytes, received_at, recorded_at, version, status, "
            "error_count, warning_count, is_late, headers_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            submissions,
        )
        con.register("bench_rows", frame)
        con.execute("INSERT INTO raw.submission_row BY NAME SELECT * FROM bench_rows")


def _timed(label: str, template: Path, home: Path, root: Path, prepare=None):
    out = root / f"{template.name}.txt"
    env = {"BANTIN_HOME": str(home), "BANTIN_PROVINCE": "22", "BENCH_OUT": str(out)}

    def fresh() -> None:
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(template, home, symlinks=True)
        if prepare:
            prepare(env)

    result = measure(label, child(validate_timed), env=env, setup=fresh, repeat=3)
    splits = [tuple(float(x) for x in line.split()) for line in out.read_text().splitlines()]
    imports, call = statistics.median(s[0] for s in splits), statistics.median(s[1] for s in splits)
    files = int(splits[0][2])
    return result, imports, call, files


def run() -> str:
    root = Path(tempfile.mkdtemp(prefix="bantin-bench-validation-"))
    try:
        province = root / "province"
        env = {"BANTIN_HOME": str(province), "BANTIN_PROVINCE": "22"}
        run_child([str(BIN / "bantin"), "demo-data", "--start", "2021-10-01", "--end", "2021-10-18"], env)
        run_child([str(BIN / "bantin"), "run", "--start", "2021-10-01", "--end", "2021-10-18", "--load-only"], env)

        def collect_day(child_env: dict) -> None:
            run_child(
                [str(BIN / "bantin"), "demo-data", "--start", DAY.isoformat(), "--end", DAY.isoformat()], child_env
            )
            run_child(child(collect), child_env)

        qn = _timed(
            "Quảng Ninh day: `pipeline.validate` in a fresh process", province, root / "home", root, prepare=collect_day
        )

        country = root / "country"
        run_child(child(seed_national, country), {"BANTIN_HOME": str(country)})
        national = _timed("National day: `pipeline.validate` in a fresh process", country, root / "home", root)

        lines = [TABLE_HEAD]
        for (result, imports, call, files), target in ((qn, ""), (national, "≤ 30 s with intake (P2)")):
            lines.append(result.row(target, verdict(result.median, 30) if target else ""))
            lines.append(f"| – of which importing GX, pandas, DuckDB | {imports:.2f} s | median | – | – | – |")
            lines.append(
                f"| – of which validating {files} files (3 suites, history, verdicts, feedback, Data Docs) "
                f"| {call:.2f} s | median | – | – | – |"
            )
        lines += [
            "",
            f"Load average of the machine (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
            "other work running at the same time slows the GX import most.",
            "",
            "Each run costs two GX checkpoint runs whatever its number of files (row and file suites over all "
            "files stacked; then the history suite over the files without errors). P2's target covers intake "
            "and validation together; intake's share is measured by its own benchmark.",
        ]
        return "\n".join(lines)
    finally:
        shutil.rmtree(root, ignore_errors=True)
