"""P3 — the warehouse at national scale: 365 days × 10,051 communes (3.7 M commune-days).

Setup (not timed): a warehouse file whose ledger holds one accepted file per
district and day (695 reporting districts × 365 days) and whose raw layer
holds one row per commune and day, generated in SQL with deterministic figures
(the intake and validation stages are measured by their own benchmarks).

Timed, each in a fresh process, median of three:
- full rebuild: reference tables, staging, marts and levels for all 365 days
  (`warehouse.build(..., full_refresh=True)`, one transaction), the path of
  `bantin run --full-refresh`;
- daily incremental load: day 365's 695 files and 10,055 rows are inserted and
  the marts brought up to date (`warehouse.build`, which replaces only day 365);
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

from bench.common import TABLE_HEAD, measure, python_snippet, run_child, verdict

TITLE = "P3 — warehouse: national full rebuild and daily incremental load (365 days × 10,051 communes)"
FIRST, DAYS = date(2021, 10, 12), 365  # from the day 4800/QĐ-BYT took effect: every day has levels
LAST = FIRST + timedelta(days=DAYS - 1)

PRELUDE = """
import sys, duckdb
from datetime import date
from bantin import reference, store, warehouse
PROVINCES = [p.code for p in reference.provinces()]
con = duckdb.connect(sys.argv[1])
store.migrate(con)
"""

# Ledger and raw rows for report dates [first, last] (the figures vary by commune and day, and
# coverage rises over time, so the windows and levels have real work to do).
GENERATE = PRELUDE + """
first, last, status = date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3]), sys.argv[4]
with store.transaction(con):
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ref'").fetchone()[0]:
        warehouse.load_reference(con, PROVINCES)
    con.execute('''
        CREATE OR REPLACE TEMP TABLE bench_file AS
        SELECT district_code, CAST(day AS DATE) AS report_date,
               district_code || '-' || strftime(day, '%Y%m%d') || '-' || ? AS submission_id
        FROM (SELECT DISTINCT district_code FROM ref.commune),
             range(CAST(? AS DATE), CAST(? AS DATE) + INTERVAL 1 DAY, INTERVAL 1 DAY) AS days(day)''',
        [status, first, last])
    version = 2 if status == "v2" else 1
    con.execute('''
        INSERT INTO ops.submission
        SELECT submission_id, district_code, report_date, 'bench.csv', 'landing/bench.csv', 'archive/bench.csv',
               md5(submission_id), 100000, report_date + INTERVAL 16 HOUR + INTERVAL (?) HOUR,
               report_date + INTERVAL 16 HOUR + INTERVAL (?) HOUR, ?, 'accepted', 0, 0, ? > 1, NULL
        FROM bench_file''', [version, version, version, version])
    if version > 1:
        con.execute('''UPDATE ops.submission SET status = 'superseded' WHERE version = 1 AND
                       (district_code, report_date) IN (SELECT (district_code, report_date) FROM bench_file)''')
    con.execute('''
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
        JOIN ref.commune AS c USING (district_code)
        CROSS JOIN LATERAL (
            SELECT hash(c.commune_code, f.report_date, ?) AS h,
                   CAST(hash(c.commune_code, f.report_date, ?) % 1000 < 15 AS INT)
                       * CAST(1 + hash(c.commune_code, f.report_date) % 9 AS INT) AS cases,
                   f.report_date - DATE '2021-10-12' AS age) AS n''', [status, status])
    con.execute("INSERT INTO ops.report_day VALUES (?, now()::TIMESTAMP) ON CONFLICT DO NOTHING", [last])
con.close()
"""

BUILD = PRELUDE + """
full = sys.argv[2] == "full"
with store.transaction(con):
    plan = warehouse.build(con, province_codes=PROVINCES, calendar_end=date.fromisoformat(sys.argv[3]),
                           full_refresh=full)
assert plan.mode == ("full" if full else "incremental"), plan
print(plan)
con.close()
"""

# The new day's files arrive and the marts are brought up to date, in one transaction as build_marts does.
DAILY = GENERATE.replace("con.close()\n", "") + BUILD.split("store.migrate(con)\n", 1)[1]

FLOOR = PRELUDE + """
con.execute('''
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
    FROM days AS d CROSS JOIN ref.commune AS c
    LEFT JOIN accepted AS a ON a.report_date = d.report_date AND a.commune_code = c.commune_code
    WINDOW w AS (PARTITION BY c.commune_code ORDER BY d.report_date ROWS 6 PRECEDING)
)
SELECT report_date, province_code, district_code, commune_code,
       sum(new_cases) AS new_cases, sum(new_cases_7d) AS new_cases_7d,
       sum(community_7d) * 100000.0 / nullif(sum(population), 0) AS community_per_100k_week
FROM commune_day
GROUP BY GROUPING SETS ((report_date, province_code, district_code, commune_code),
                        (report_date, province_code, district_code), (report_date, province_code))
''')
con.close()
"""


def _counts(path: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return dict(zip(
            ("commune_days", "units_levelled", "level_rows", "file_mb"),
            (*con.execute("SELECT (SELECT count(*) FROM marts.commune_daily), "
                          "(SELECT count(DISTINCT (unit_type, unit_code)) FROM marts.epidemic_level), "
                          "(SELECT count(*) FROM marts.epidemic_level)").fetchone(),
             path.stat().st_size / 1024**2), strict=True))
    finally:
        con.close()


def run() -> str:
    root = Path(tempfile.mkdtemp(prefix="bantin-bench-wh-"))
    try:
        base = root / "base.duckdb"  # ledger through day 364, marts built
        work = root / "work.duckdb"
        run_child(python_snippet(GENERATE) + [str(base), FIRST.isoformat(), (LAST - timedelta(days=1)).isoformat(),
                                               "v1"])
        run_child(python_snippet(BUILD) + [str(base), "full", (LAST - timedelta(days=1)).isoformat()])

        def fresh_copy() -> None:
            shutil.copyfile(base, work)

        def with_last_day() -> None:
            fresh_copy()
            run_child(python_snippet(GENERATE) + [str(work), LAST.isoformat(), LAST.isoformat(), "v1"])

        def with_correction() -> None:
            fresh_copy()
            week_ago = (LAST - timedelta(days=7)).isoformat()
            run_child(python_snippet(GENERATE) + [str(work), week_ago, week_ago, "v2"])

        full = measure("full rebuild: reference, staging, marts, levels (365 days)",
                       python_snippet(BUILD) + [str(work), "full", LAST.isoformat()],
                       setup=with_last_day)
        counts = _counts(work)
        daily = measure("daily incremental load: day 365's 695 files inserted, marts brought up to date",
                        python_snippet(DAILY) + [str(work), LAST.isoformat(), LAST.isoformat(), "v1"],
                        setup=fresh_copy)
        late = measure("late correction: every district resubmits day 358; days 358–364 replaced",
                       python_snippet(BUILD) + [str(work), "incremental", (LAST - timedelta(days=1)).isoformat()],
                       setup=with_correction)
        floor = measure("floor: the same aggregation as one bare DuckDB query",
                        python_snippet(FLOOR) + [str(work)], setup=with_last_day)
        ratio = full.median / floor.median
        lines = [
            TABLE_HEAD,
            full.row("≤ 60 s", verdict(full.median, 60)),
            f"| full rebuild ÷ floor | {ratio:.1f}× | | | ≤ 5× | {verdict(ratio, 5)} |",
            daily.row(),
            late.row(),
            floor.row(),
            "",
            f"Scale: {counts['commune_days']:,} commune-days in `marts.commune_daily`, "
            f"{counts['units_levelled']:,} units levelled (communes, districts with communes, provinces), "
            f"{counts['level_rows']:,} rows in `marts.epidemic_level`; warehouse file {counts['file_mb']:,.0f} MiB. "
            "Times are whole fresh processes (interpreter start and `import duckdb` included, about 0.3 s). "
            "The incremental paths rebuild the `staging` tables whole (they hold windows reaching back to "
            "the first day: last known vaccination, capacity epochs, stale levels) and replace only the "
            "affected dates in `marts`; the floor computes only the trailing sums, with no levels, "
            "coverage, reporting status or corrections.",
        ]
        return "\n".join(lines)
    finally:
        shutil.rmtree(root, ignore_errors=True)
