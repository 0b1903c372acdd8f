"""P3 — the warehouse at national scale: 365 days × 10,603 communes (the 2021 unit list; 3.9 M commune-days).

Setup (not timed): a warehouse file whose ledger holds one accepted file per
district and day (695 reporting districts × 365 days) and whose raw layer
holds one row per commune and day, generated in SQL with deterministic figures
(the intake and validation stages are measured by their own benchmarks).

Timed, each in a fresh process, median of three:
- full rebuild: reference tables and `dbt build` of every model (staging,
  intermediate, marts, levels, and their data tests) for all 365 days
  (`models.build(..., full_refresh=True)`), the path of `bantin run --full-refresh`;
- daily incremental load at 30, 180 and 365 days of history: the last day's 695
  files and 10,055 rows are inserted and the marts brought up to date
  (`models.build`, whose incremental models replace only that day, reading its
  13-day trailing window and each unit's kept state): flat, not growing with history;
- late correction: a district resubmits a file for 7 days earlier; the build
  replaces those 7 days and everything after them;
- the floor: the same aggregation (commune-day spine, accepted rows, 7-day
  trailing sums, pooled by district and province, rate per 100,000) as one bare
  DuckDB `CREATE TABLE AS` on the same file.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

from bench.common import TABLE_HEAD, child, measure, run_child, verdict

TITLE = "P3 — warehouse: national full rebuild and daily incremental load (365 days × 10,603 communes)"
FIRST, DAYS = date(2021, 10, 12), 365  # from the day 4800/QĐ-BYT took effect: every day has levels
LAST = FIRST + timedelta(days=DAYS - 1)

# DuckDB as an operator sets it for national scale (BANTIN_DUCKDB_MEMORY_LIMIT): the pipeline's connection
# and dbt's share one instance, so they share this configuration.
ENGINE = {"threads": 2, "memory_limit": "1GB"}

# Ledger and raw rows for report dates [first, last] (the figures vary by commune and day, and
# coverage rises over time, so the windows and levels have real work to do). Parameters: status
# (v1, v2) twice, the unit list, first, last; then version ×4; then the unit list, status twice.
BENCH_FILES = """
    CREATE OR REPLACE TEMP TABLE bench_file AS
    SELECT district_code, CAST(day AS DATE) AS report_date,
           district_code || '-' || strftime(day, '%Y%m%d') || '-' || ? AS submission_id
    FROM (SELECT DISTINCT district_code FROM ref.commune WHERE reference_version = ?),
         range(CAST(? AS DATE), CAST(? AS DATE) + INTERVAL 1 DAY, INTERVAL 1 DAY) AS days(day)
"""
BENCH_LEDGER = """
    INSERT INTO ops.submission
    SELECT submission_id, district_code, report_date, 'bench.csv', 'landing/bench.csv', 'archive/bench.csv',
           md5(submission_id), 100000, report_date + INTERVAL 16 HOUR + INTERVAL (?) HOUR,
           report_date + INTERVAL 16 HOUR + INTERVAL (?) HOUR, ?, 'accepted', 0, 0, ? > 1, NULL, 'demo', NULL
    FROM bench_file
"""
BENCH_SUPERSEDED = """
    UPDATE ops.submission SET status = 'superseded' WHERE version = 1 AND
           (district_code, report_date) IN (SELECT (district_code, report_date) FROM bench_file)
"""
BENCH_ROWS = """
    INSERT INTO raw.submission_row
    SELECT f.submission_id, row_number() OVER (PARTITION BY f.submission_id ORDER BY c.commune_code) + 1,
           f.report_date, c.district_code, c.commune_code, c.commune_name,
           n.cases, n.cases // 3, n.cases * 4, 20 + n.cases * 5, n.cases, n.cases // 2, (n.h % 97 = 0)::INT,
           n.cases * 6, n.cases // 4, n.cases * 3, n.cases * 10, n.h % 3,
           CAST(c.population_18plus * least(0.95, 0.5 + n.age / 600) AS BIGINT),
           CAST(c.population_18plus * least(0.85, 0.3 + n.age / 600) AS BIGINT),
           CAST(c.population_65plus * least(0.90, 0.4 + n.age / 600) AS BIGINT),
           CAST(c.population_50plus * least(0.90, 0.45 + n.age / 600) AS BIGINT),
           1 + n.h % 2, NULL
    FROM bench_file AS f
    JOIN ref.commune AS c ON c.district_code = f.district_code AND c.reference_version = ?
    CROSS JOIN LATERAL (
        SELECT hash(c.commune_code, f.report_date, ?) AS h,
               CAST(hash(c.commune_code, f.report_date, ?) % 1000 < 15 AS INT)
                   * CAST(1 + hash(c.commune_code, f.report_date) % 9 AS INT) AS cases,
               f.report_date - DATE '2021-10-12' AS age) AS n
"""

# The same aggregation as the models' core as one bare query: commune-day spine, accepted rows, 7-day
# trailing sums, pooled by district and province, rate per 100,000.
FLOOR_QUERY = """
CREATE OR REPLACE TABLE main.floor AS
WITH days AS (
    SELECT DISTINCT report_date FROM ops.submission WHERE status = 'accepted'
),
accepted AS (
    SELECT s.report_date, r.commune_code, r.new_cases, r.new_cases_community
    FROM raw.submission_row AS r JOIN ops.submission AS s USING (submission_id)
    WHERE s.status = 'accepted'
),
commune_day AS (
    SELECT d.report_date, c.province_code, c.district_code, c.commune_code, c.population,
           a.new_cases, a.new_cases_community,
           sum(coalesce(a.new_cases, 0)) OVER w AS new_cases_7d,
           sum(coalesce(a.new_cases_community, 0)) OVER w AS community_7d
    FROM days AS d
    JOIN ref.reference_version AS v ON d.report_date BETWEEN v.valid_from AND coalesce(v.valid_to, DATE '9999-12-31')
    JOIN ref.commune AS c ON c.reference_version = v.reference_version
    LEFT JOIN accepted AS a ON a.report_date = d.report_date AND a.commune_code = c.commune_code
    WINDOW w AS (PARTITION BY c.commune_code ORDER BY d.report_date ROWS 6 PRECEDING)
)
SELECT report_date, province_code, district_code, commune_code,
       sum(new_cases) AS new_cases, sum(new_cases_7d) AS new_cases_7d,
       sum(community_7d) * 100000.0 / nullif(sum(population), 0) AS community_per_100k_week
FROM commune_day
GROUP BY GROUPING SETS ((report_date, province_code, district_code, commune_code),
                        (report_date, province_code, district_code), (report_date, province_code))
"""


def _open(path: str):
    """The warehouse file as the pipeline opens it at national scale (imports inside: a cold figure)."""
    import duckdb

    from bantin import store

    con = duckdb.connect(path, config=ENGINE)
    store.migrate(con)
    return con


def _provinces() -> list[int]:
    from bantin import reference

    return [p.code for p in reference.provinces(on=FIRST)]


def insert_files(path: str, first: str, last: str, status: str, con=None) -> None:
    """Child step: the ledger and raw rows of one accepted file per district for report dates [first, last];
    status v2 makes them corrections (version 2) that supersede the v1 files of those dates."""
    from bantin import reference, store, warehouse

    own = con is None
    con = con or _open(path)
    version = 2 if status == "v2" else 1
    with store.transaction(con):
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ref'").fetchone()[0]:
            warehouse.load_reference(con, _provinces())
        # the rows are on the unit list in force over [first, last]
        units = reference.version_on(date.fromisoformat(first)).name
        if reference.version_on(date.fromisoformat(last)).name != units:
            raise ValueError("a bench period within one unit list")
        con.execute(BENCH_FILES, [status, units, first, last])
        con.execute(BENCH_LEDGER, [version, version, version, version])
        if version > 1:
            con.execute(BENCH_SUPERSEDED)
        con.execute(BENCH_ROWS, [units, status, status])
        con.execute("INSERT INTO ops.report_day VALUES (?, now()::TIMESTAMP) ON CONFLICT DO NOTHING", [last])
    if own:
        con.close()


def build_marts(path: str, mode: str, calendar_end: str, con=None) -> None:
    """Child step: `models.build` as build_marts runs it, a full refresh (mode full) or incremental."""
    from bantin import models

    own = con is None
    con = con or _open(path)
    full = mode == "full"
    plan = models.build(
        con,
        province_codes=_provinces(),
        calendar_end=date.fromisoformat(calendar_end),
        full_refresh=full,
        engine_config=ENGINE,
    )
    if plan.mode != ("full" if full else "incremental"):
        raise RuntimeError(f"expected a {mode} build, got {plan}")
    print(plan)
    if own:
        con.close()


def add_day(path: str, day: str) -> None:
    """Child step: the new day's files arrive (one transaction) and the marts are brought up to date."""
    con = _open(path)
    insert_files(path, day, day, "v1", con=con)
    build_marts(path, "incremental", day, con=con)
    con.close()


def bare_query(path: str) -> None:
    """Child step: the floor query on the same file."""
    con = _open(path)
    con.execute(FLOOR_QUERY)
    con.close()


def bare_models(path: str) -> None:
    """Child step: the models' own SQL as dbt compiled it for the last full build, each run as a bare
    `CREATE TABLE … AS` (or view) in dependency order: the same work with no dbt (no start, parse, hooks,
    transactions or data tests)."""
    import graphlib
    import json

    from bantin import models

    manifest = json.loads((models._work_dir(Path(path)) / "target" / "manifest.json").read_text(encoding="utf-8"))
    nodes = {key: node for key, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    order = graphlib.TopologicalSorter(
        {key: [d for d in node["depends_on"]["nodes"] if d in nodes] for key, node in nodes.items()}
    )
    con = _open(path)
    for key in order.static_order():
        node = nodes[key]
        kind = "VIEW" if node["config"]["materialized"] == "view" else "TABLE"
        sql = Path(node["compiled_path"]).read_text(encoding="utf-8")
        con.execute(f'CREATE OR REPLACE {kind} "{node["schema"]}"."{node["name"]}" AS {sql}')
    con.close()


def _counts(path: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return dict(
            zip(
                ("commune_days", "units_levelled", "level_rows", "file_mb"),
                (
                    *con.execute(
                        "SELECT (SELECT count(*) FROM marts.commune_daily), "
                        "(SELECT count(DISTINCT (unit_type, unit_code)) FROM marts.epidemic_level), "
                        "(SELECT count(*) FROM marts.epidemic_level)"
                    ).fetchone(),
                    path.stat().st_size / 1024**2,
                ),
                strict=True,
            )
        )
    finally:
        con.close()


HISTORIES = (30, 180, DAYS)  # days of history when the day is added


def run() -> str:
    root = Path(tempfile.mkdtemp(prefix="bantin-bench-wh-"))
    try:
        work = root / "work.duckdb"
        bases = {}
        for history in HISTORIES:  # ledger through the day before, marts built
            bases[history] = root / f"base-{history}.duckdb"
            last_but_one = FIRST + timedelta(days=history - 2)
            run_child(child(insert_files, bases[history], FIRST, last_but_one, "v1"))
            run_child(child(build_marts, bases[history], "full", last_but_one))

        def fresh_copy(history: int = DAYS) -> None:
            for leftover in root.glob("work.duckdb*"):
                leftover.unlink()
            shutil.copyfile(bases[history], work)

        def with_last_day() -> None:
            fresh_copy()
            run_child(child(insert_files, work, LAST, LAST, "v1"))

        def with_correction() -> None:
            fresh_copy()
            week_ago = LAST - timedelta(days=7)
            run_child(child(insert_files, work, week_ago, week_ago, "v2"))

        full = measure(
            "full rebuild: reference, `dbt build` of every model and data test (365 days)",
            child(build_marts, work, "full", LAST),
            setup=with_last_day,
        )
        counts = _counts(work)
        # the same models' SQL with no dbt: read from the last full build's compiled SQL, before a daily load
        # compiles the incremental one
        bare = measure(
            "the models' own SQL run bare: each model's compiled SELECT as `CREATE TABLE … AS`, no dbt",
            child(bare_models, work),
            setup=with_last_day,
        )
        one_day = root / "base-1.duckdb"
        run_child(child(insert_files, one_day, FIRST, FIRST, "v1"))

        def one_day_copy() -> None:
            for leftover in root.glob("work.duckdb*"):
                leftover.unlink()
            shutil.copyfile(one_day, work)

        fixed = measure(
            "fixed cost: a full rebuild of one day (start, dbt parse, reference, hooks, data tests)",
            child(build_marts, work, "full", FIRST),
            setup=one_day_copy,
        )
        daily = {}
        for history in HISTORIES:
            day = (FIRST + timedelta(days=history - 1)).isoformat()
            daily[history] = measure(
                f"daily incremental load, {history} days of history: the day's 695 files "
                "inserted, marts brought up to date",
                child(add_day, work, day),
                setup=lambda history=history: fresh_copy(history),
            )
        late = measure(
            "late correction: every district resubmits day 358; days 358–364 replaced",
            child(build_marts, work, "incremental", LAST - timedelta(days=1)),
            setup=with_correction,
        )
        floor = measure(
            "floor: the same aggregation as one bare DuckDB query",
            child(bare_query, work),
            setup=with_last_day,
        )
        ratio = full.median / floor.median
        growth = daily[DAYS].median / daily[HISTORIES[0]].median
        peak = max(m.peak_rss_mb for m in (full, late, *daily.values()))
        lines = [
            TABLE_HEAD,
            full.row("≤ 60 s", verdict(full.median, 60)),
            f"| full rebuild ÷ floor | {ratio:.1f}× | | | ≤ 5× | {verdict(ratio, 5)} |",
            *(daily[h].row() for h in HISTORIES),
            f"| daily load at {DAYS} ÷ at {HISTORIES[0]} days of history | {growth:.2f}× | | | flat (≤ 1.5×) "
            f"| {verdict(growth, 1.5)} |",
            late.row(),
            floor.row(),
            bare.row(),
            f"| full rebuild ÷ the models' SQL run bare | {full.median / bare.median:.1f}× | | | | |",
            fixed.row(),
            f"| fixed cost ÷ floor | {fixed.median / floor.median:.1f}× | | | | |",
            f"| peak memory of the builds | {peak:.0f} MiB | | | < 1536 MiB | {verdict(peak, 1536)} |",
            "",
            f"Scale: {counts['commune_days']:,} commune-days in `marts.commune_daily`, "
            f"{counts['units_levelled']:,} units levelled (communes, districts with communes, provinces), "
            f"{counts['level_rows']:,} rows in `marts.epidemic_level`; warehouse file {counts['file_mb']:,.0f} MiB. "
            "Times are whole fresh processes (interpreter start, `import duckdb` and dbt's start and parse of the "
            f"project included). DuckDB configured as {ENGINE} (BANTIN_DUCKDB_THREADS, BANTIN_DUCKDB_MEMORY_LIMIT). "
            "The incremental models read the rebuilt days, the 13 days before them (trailing windows) and each "
            "unit's state on the day before (kept in `intermediate.unit_level`, `intermediate.commune_window`), "
            "so a day costs a day whatever the history; the floor computes only the trailing sums, with no "
            "levels, coverage, reporting status, corrections or data tests.",
        ]
        return "\n".join(lines)
    finally:
        shutil.rmtree(root, ignore_errors=True)
