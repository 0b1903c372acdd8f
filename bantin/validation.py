"""Validation: parsed rows → findings, with Great Expectations.

Three suites under `expectations/`, one per concern, each expectation carrying
its rule id, severity, the column to blame and its messages in Vietnamese and
English in `meta`:

- `submission_rows`: each row on its own (non-negative counts, cross-field rules);
- `submission_file`: the file as a whole (sender identity, communes, report date);
- `submission_history`: the file against the warehouse (cumulative counts,
  spikes, stock jumps, bursts after silence).

A rule the contract states for every column of a kind (counts are never
negative, running totals never fall) is not written per column in the JSON: it
is made from `bantin.submission_format.COLUMNS` when the suite is loaded
(`CONTRACT_RULES`), so a column added to the contract is checked at once.

All files of a run are validated together: their rows are stacked into one
frame, with the per-file parameters (inbox district, day received, the
district's commune roster) and the reference facts as extra columns, so a run
costs one GX validation per suite whatever its number of files. GX's unexpected
row indices map back to (submission, row as the clerk sees it).

History is judged in a second pass, on the files that passed the first: a file
for an earlier date validated in the same run is history for the later ones.

Great Expectations takes ~8 s to import: it is imported inside functions only,
never when a DAG file is parsed.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bantin import ledger, reference
from bantin.findings import ERROR, Finding
from bantin.submission_format import COLUMN_BY_NAME, COUNT_COLUMNS, CUMULATIVE_COLUMNS, Column, normalise_header

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"
ROW_SUITE, FILE_SUITE, HISTORY_SUITE = "submission_rows", "submission_file", "submission_history"
SUITES = (ROW_SUITE, FILE_SUITE, HISTORY_SUITE)
DOCS_SITE = "bantin"

# A commune's recent level of new cases: the higher of its 14-day mean and its
# highest day of the last week, once at least 7 of the 14 days are known (a mean
# of two days is not a level). The week's peak keeps a cluster's second and
# third days from alarming; the mean keeps weekday dips from lowering the bar.
HISTORY_WINDOW_DAYS = 14
HISTORY_PEAK_DAYS = 7
HISTORY_MIN_DAYS = 7
COMMUNE_TYPE_PREFIXES = ("Phường ", "Thị trấn ", "Xã ")

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- suites


def _non_negative(column: Column) -> dict:
    return {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": column.name, "min_value": 0},
        "meta": {
            "severity": "error",
            "rule": "count.non_negative",
            "blame": column.name,
            "message_vi": f'Số âm ({{value}}) ở cột "{column.header_vi}": số đếm phải ≥ 0.',
            "message_en": f'Negative value ({{value}}) in "{column.header_vi}": counts must be ≥ 0.',
        },
    }


def _never_decreases(column: Column) -> dict:
    name, previous = column.name, f"previous_{column.name}"  # history_frame's column for the last known value
    return {
        "type": "expect_column_pair_values_a_to_be_greater_than_b",
        "kwargs": {
            "column_A": name,
            "column_B": previous,
            "or_equal": True,
            "ignore_row_if": "either_value_is_missing",
        },
        "meta": {
            "severity": "error",
            "rule": "history.cumulative_decrease",
            "blame": name,
            "message_vi": f'Số cộng dồn "{column.header_vi}" giảm từ {{{previous}}} (ngày báo cáo trước) xuống '
            f"{{{name}}}: số cộng dồn không được giảm.",
            "message_en": f'Cumulative "{column.header_vi}" fell from {{{previous}}} (previous report) to '
            f"{{{name}}}: a running total never decreases.",
        },
    }


# Rules the contract states once for every column of a kind. They are made here from
# bantin.submission_format.COLUMNS, never copied into the JSON suites, so a count column added to the
# contract is checked without another edit. A suite lists the ones it holds in `meta.contract_rules`.
CONTRACT_RULES = {
    "count.non_negative": lambda: [_non_negative(COLUMN_BY_NAME[name]) for name in COUNT_COLUMNS],
    "history.cumulative_decrease": lambda: [_never_decreases(COLUMN_BY_NAME[name]) for name in CUMULATIVE_COLUMNS],
}


def suite_definition(name: str) -> dict:
    """The suite as GX reads it: the contract's per-column rules first, then the JSON file's own expectations."""
    definition = json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    generated = [e for rule in definition["meta"].get("contract_rules", []) for e in CONTRACT_RULES[rule]()]
    definition["expectations"] = generated + definition["expectations"]
    return definition


def load_suite(name: str):
    """The GX suite, refusing to run if GX dropped any expectation while loading it.

    GX logs and drops an expectation it cannot build (an unregistered custom
    class, a misspelt type): a suite that silently checks less is worse than
    no run at all. bantin's own expectation types are registered first.
    """
    import great_expectations as gx

    import bantin.gx_expectations  # noqa: F401  registers bantin's expectation types

    definition = suite_definition(name)
    suite = gx.ExpectationSuite(**definition)
    declared, loaded = len(definition["expectations"]), len(suite.expectations)
    if loaded != declared:
        raise RuntimeError(f"suite {name}: {declared} expectations declared but only {loaded} loaded")
    return suite


# --------------------------------------------------------------------------- frames


@lru_cache(maxsize=1)
def _reference_frame():
    """Every commune of every unit list, by list and code, with what the rules compare against."""
    import pandas as pd

    lists = [(v.name, c) for v in reference.versions() for c in reference.communes(on=v.valid_from)]
    communes = [c for _name, c in lists]
    return pd.DataFrame(
        {
            "reference_version": [name for name, _c in lists],
            "commune_code": [float(c.code) for c in communes],
            "commune_district_code": [float(c.district_code) for c in communes],
            "reference_name": [c.name for c in communes],
            "population": [float(c.population) for c in communes],
            "population_18plus": [float(c.population_18plus) for c in communes],
            "population_65plus": [float(c.population_65plus) for c in communes],
            "population_50plus": [float(c.population_50plus) for c in communes],
        }
    )


def file_frame(rows, files):
    """The rows of many files stacked with what the row and file suites compare them to.

    `rows`: `submission_id`, `source_row` and the contract's columns.
    `files`: one row per submission: `submission_id`, `inbox_district_code`,
    `as_of` (the day the file was received) and `backdate_days`.

    Adds one placeholder row (`in_file` false, no `source_row`) per commune of
    the inbox district that the file does not list, so a missing commune is a
    finding like any other.
    """
    import pandas as pd

    ref = _reference_frame()
    rows = rows.copy()
    rows["report_date"] = pd.to_datetime(rows["report_date"])
    numeric = [c for c in rows.columns if c not in ("submission_id", "report_date", "commune_name", "notes")]
    rows[numeric] = rows[numeric].astype("float64")
    rows["in_file"] = True
    files = files.copy()
    files["as_of"] = pd.to_datetime(files["as_of"])
    files["oldest_allowed"] = files["as_of"] - pd.to_timedelta(files["backdate_days"], unit="D")
    files["reference_version"] = _list_in_force(rows, files)

    roster = files.merge(
        ref[["reference_version", "commune_code", "commune_district_code"]],
        left_on=["reference_version", "inbox_district_code"],
        right_on=["reference_version", "commune_district_code"],
    )[["submission_id", "commune_code"]]
    roster = roster[roster.submission_id.isin(rows.submission_id)]
    listed = roster.merge(rows[["submission_id", "commune_code"]].drop_duplicates(), how="left", indicator=True)
    missing = listed[listed["_merge"] == "left_only"][["submission_id", "commune_code"]].assign(in_file=False)

    frame = pd.concat([rows, missing], ignore_index=True)
    frame = frame.merge(files, on="submission_id", how="left").merge(
        ref, on=["reference_version", "commune_code"], how="left"
    )
    frame["commune_district_code"] = frame["commune_district_code"].where(
        frame["commune_code"].isna() | frame["commune_district_code"].notna(), 0.0
    )  # listed but unknown: no district
    _add_commune_columns(frame)
    _add_report_date_columns(frame)
    frame["in_file"] = frame["in_file"].astype(bool)
    return frame


def _list_in_force(rows, files) -> list[str]:
    """Each file's unit list: the one in force on its report date (its first dated row).

    A file without a usable date is checked on the list in force the day it was
    received (its date gets its own finding), else on the newest list.
    """
    import pandas as pd

    dated = rows[rows["report_date"].notna()].sort_values(["submission_id", "source_row"])
    report_date = dated.groupby("submission_id")["report_date"].first().to_dict()
    out = []
    for submission_id, as_of in zip(files["submission_id"], files["as_of"], strict=True):
        for day in (report_date.get(submission_id), as_of):
            if day is None or pd.isna(day):
                continue
            try:
                out.append(reference.version_on(day.date()).name)
                break
            except reference.NoReferenceVersion:
                continue  # before the earliest list: the date rules say what is wrong with it
        else:
            out.append(reference.version_on(None).name)
    return out


def _add_commune_columns(frame) -> None:
    """First row of each own commune (duplicates), and the name it should carry on that row."""
    own = frame["in_file"] & (frame["commune_district_code"] == frame["inbox_district_code"])
    first = frame[own].groupby(["submission_id", "commune_code"])["source_row"].transform("min")
    frame["first_row_of_commune"] = first  # NaN for other districts' communes: they get identity.commune only
    checked = own & (frame["source_row"] == frame["first_row_of_commune"]) & frame["commune_name"].notna()
    written = frame["commune_name"].where(checked).map(normalise_header, na_action="ignore")
    # The keys are what GX compares, and GX's Data Docs show compared values without escaping them:
    # HTML-escaped here (a real name has nothing to escape), a `<script>` in a file is text there.
    frame["commune_name_key"] = written.map(html.escape, na_action="ignore")
    # A clerk may write "Hà Khánh" or "Phường Hà Khánh": compare like with like.
    frame["reference_name_key"] = [
        None
        if w is None or w != w
        else html.escape(normalise_header(name if _has_type_prefix(w) else _strip_type(name)))
        for w, name in zip(written, frame["reference_name"], strict=True)
    ]


def _has_type_prefix(key: str) -> bool:
    return any(key.startswith(normalise_header(p) + " ") for p in COMMUNE_TYPE_PREFIXES)


def _strip_type(name: str) -> str:
    for prefix in COMMUNE_TYPE_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _add_report_date_columns(frame) -> None:
    """The file's report date (its first dated row) on every row, and alone on that first row.

    Mapped through plain dicts: a batch where no file has a readable date must
    still give datetime columns (an empty group-by has no dtype to give).
    """
    import pandas as pd

    dated = frame[frame["report_date"].notna()].sort_values(["submission_id", "source_row"])
    first = dated.groupby("submission_id")["report_date"].first().to_dict()
    first_row = dated.groupby("submission_id")["source_row"].first().to_dict()
    frame["first_report_date"] = pd.to_datetime(frame["submission_id"].map(first))
    on_first_row = frame["source_row"] == frame["submission_id"].map(first_row)
    frame["report_date_of_file"] = frame["first_report_date"].where(on_first_row)


# --------------------------------------------------------------------------- history


HISTORY_SQL = f"""
WITH history AS (  -- the file in force of each district and date (this run's trusted files counted in)
    SELECT f.report_date, r.* EXCLUDE (submission_id, source_row, report_date)
    FROM ops.submission_in_force AS f JOIN raw.submission_row AS r USING (submission_id)
    WHERE r.commune_code IS NOT NULL
),
target AS (SELECT row_id, commune_code, CAST(file_report_date AS DATE) AS report_date FROM pending),
last_known AS (
    SELECT t.row_id, t.report_date - h.report_date - 1 AS silent_days,
           h.report_date = t.report_date - 1 AS was_yesterday, h.* EXCLUDE (report_date, commune_code)
    FROM target AS t ASOF JOIN history AS h ON t.commune_code = h.commune_code AND t.report_date > h.report_date
),
recent AS (
    SELECT t.row_id, count(*) AS days, greatest(avg(h.new_cases),
           max(h.new_cases) FILTER (WHERE h.report_date >= t.report_date - {HISTORY_PEAK_DAYS})) AS level
    FROM target AS t JOIN history AS h ON t.commune_code = h.commune_code
     AND h.report_date BETWEEN t.report_date - {HISTORY_WINDOW_DAYS} AND t.report_date - 1
    GROUP BY t.row_id
)
SELECT t.row_id,
       l.silent_days,
       CASE WHEN r.days >= {HISTORY_MIN_DAYS} THEN r.level END AS new_cases_recent_level,
       {", ".join(f"l.{c} AS previous_{c}" for c in CUMULATIVE_COLUMNS)},
       CASE WHEN l.was_yesterday THEN l.in_treatment END AS previous_in_treatment,
       CASE WHEN l.was_yesterday THEN l.quarantine_centralized END AS previous_quarantine_centralized,
       CASE WHEN l.was_yesterday THEN l.quarantine_home END AS previous_quarantine_home
FROM target AS t LEFT JOIN last_known AS l USING (row_id) LEFT JOIN recent AS r USING (row_id)
"""


def copy_history(con, pending_ids: list[str], commune_codes, settings=None):
    """What the history rules need, copied out of the warehouse into an in-memory DuckDB: GX then runs with
    the writer let go. The ledger (`ops.submission`, its `submission_in_force` view made by bantin.ledger)
    and the rows, of the communes given, of every file that can be in force during this validation: the
    files in force now and the pending ones. Works on the live warehouse and on a snapshot alike.
    """
    from bantin import store

    history = store.scratch(settings)
    store.migrate(history)  # the warehouse's own tables and view, empty
    submissions = con.execute("SELECT * FROM ops.submission").df()  # noqa: F841 (read by name below)
    history.execute("INSERT INTO ops.submission BY NAME SELECT * FROM submissions")
    in_force = [r[0] for r in history.execute("SELECT submission_id FROM ops.submission_in_force").fetchall()]
    candidates = sorted(set(in_force) | set(pending_ids))
    communes = sorted({int(c) for c in commune_codes.dropna()})
    rows = con.execute(  # noqa: F841 (read by name below)
        "SELECT * FROM raw.submission_row WHERE list_contains(?, submission_id) AND list_contains(?, commune_code)",
        [candidates, communes],
    ).df()
    history.execute("INSERT INTO raw.submission_row BY NAME SELECT * FROM rows")
    return history


def history_frame(frame, con, trusted_ids: list[str]):
    """The rows of `frame` (files that passed the row and file suites) with their commune's history.

    History is what the warehouse holds for dates strictly before the file's
    report date: accepted files plus `trusted_ids` (this run's files without
    errors), the newest per district and date. A file validated late for an
    earlier date is judged only against what came before that date.
    """
    rows = frame[frame["in_file"] & frame["commune_code"].notna() & frame["first_report_date"].notna()].copy()
    rows["row_id"] = rows.index
    pending = rows[["row_id", "commune_code"]].assign(file_report_date=rows["first_report_date"])
    if con is None or pending.empty:
        features = pending[["row_id"]]
    else:
        con.register("pending", pending)
        try:
            with ledger.provisionally_trusting(con, trusted_ids):
                features = con.execute(HISTORY_SQL).df()
        finally:
            con.unregister("pending")
    rows = rows.merge(features, on="row_id", how="left").set_index("row_id")
    for column in (
        "silent_days",
        "new_cases_recent_level",
        *(f"previous_{c}" for c in CUMULATIVE_COLUMNS),
        "previous_in_treatment",
        "previous_quarantine_centralized",
        "previous_quarantine_home",
    ):
        rows[column] = rows[column].astype("float64") if column in rows else float("nan")
    # What a stock can plausibly be today: yesterday's level plus what entered today.
    rows["in_treatment_expected"] = rows["previous_in_treatment"] + rows["new_cases"]
    arrivals = rows["f1_traced"] + rows["returnees"]
    rows["quarantine_centralized_expected"] = rows["previous_quarantine_centralized"] + arrivals
    rows["quarantine_home_expected"] = rows["previous_quarantine_home"] + arrivals
    rows.index.name = None
    return rows


# --------------------------------------------------------------------------- running GX


@dataclass
class Outcome:
    findings: list[tuple[str, Finding]] = field(default_factory=list)  # (submission_id, finding)
    data_docs: Path | None = None  # index.html of the Data Docs site, when one was built


def validate_files(
    rows,
    files,
    *,
    history=None,
    trusted_ids=(),
    untrusted_ids=(),
    docs_dir: Path | None = None,
    run_name: str | None = None,
) -> Outcome:
    """Every suite over the rows of many files: one GX validation per suite, whatever the number of files.

    `history`: a DuckDB connection with the ledger, its `ops.submission_in_force` and the raw rows
    (`copy_history`'s, or a snapshot's; None: no history rules).
    `untrusted_ids`: files already known to have errors (from intake): they are
    not judged against history and never become history for later dates.
    `docs_dir`: where to build the GX Data Docs site (None: no site);
    `run_name` names this run's pages in it (the pipeline's run id).
    """
    outcome = Outcome()
    if rows.empty:
        return outcome
    runner = _runner(str(docs_dir) if docs_dir else None)
    frame = file_frame(rows, files)
    outcome.findings = runner.run((ROW_SUITE, FILE_SUITE), frame, run_name)
    rejected = {sid for sid, f in outcome.findings if f.severity == ERROR} | set(untrusted_ids)
    outcome.findings += _history_findings(
        runner, frame[~frame["submission_id"].isin(rejected)], history, trusted_ids, run_name
    )
    if docs_dir:
        try:
            outcome.data_docs = runner.build_docs()
        except Exception:  # the engineers' report, never a reason to lose the verdicts
            log.exception("GX Data Docs could not be built")
    return outcome


def _history_findings(runner, clean, history, trusted_ids, run_name) -> list[tuple[str, Finding]]:
    """The history suite over this run's clean files, each judged against history that holds no rejected file.

    This run's files are history for its later dates; one a history rule rejects
    must not be. So: judge, drop the newly rejected files from the history, judge
    the rest again, until no file is newly rejected (one round when all is well).
    A rejected file keeps the findings of the round that rejected it.
    """
    settled: list[tuple[str, Finding]] = []
    while not clean.empty:
        later = history_frame(clean, history, [*trusted_ids, *set(clean["submission_id"])])
        findings = runner.run((HISTORY_SUITE,), later, run_name) if not later.empty else []
        newly_rejected = {sid for sid, f in findings if f.severity == ERROR}
        if not newly_rejected:
            return settled + findings
        settled += [(sid, f) for sid, f in findings if sid in newly_rejected]
        clean = clean[~clean["submission_id"].isin(newly_rejected)]
    return settled


class _Runner:
    """A GX context with the suites loaded and one checkpoint per group of suites, kept for the process."""

    def __init__(self, docs_dir: str | None):
        import great_expectations as gx

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = {"globally": False}
        self.docs_dir = docs_dir
        if docs_dir:
            self.context.add_data_docs_site(
                DOCS_SITE,
                {
                    "class_name": "SiteBuilder",
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": docs_dir},
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        asset = self.context.data_sources.add_pandas("submissions").add_dataframe_asset("rows")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("all_rows")
        self.checkpoints: dict[tuple[str, ...], object] = {}

    def checkpoint(self, names: tuple[str, ...]):
        if names not in self.checkpoints:
            gx = self.gx
            definitions = [
                self.context.validation_definitions.add(
                    gx.ValidationDefinition(
                        name=name, data=self.batch_definition, suite=self.context.suites.add(load_suite(name))
                    )
                )
                for name in names
            ]
            self.checkpoints[names] = self.context.checkpoints.add(
                gx.Checkpoint(
                    name="+".join(names),
                    validation_definitions=definitions,
                    result_format={"result_format": "COMPLETE"},
                )
            )
        return self.checkpoints[names]

    def run(self, names: tuple[str, ...], frame, run_name: str | None = None) -> list[tuple[str, Finding]]:
        from great_expectations.core.run_identifier import RunIdentifier

        result = self.checkpoint(names).run(
            batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_name) if run_name else None
        )
        found: list[tuple[str, Finding]] = []
        for suite_result in result.run_results.values():
            for outcome in suite_result.results:
                config = outcome.expectation_config
                if outcome.exception_info and outcome.exception_info.get("raised_exception"):
                    raise RuntimeError(f"expectation {config.type} failed to run: {outcome.exception_info}")
                if not outcome.success:
                    for index in outcome.result.get("unexpected_index_list") or []:
                        found.append(finding_for(frame.loc[index], config.meta, config.kwargs))
        log.info("GX %s: %d rows, %d findings", "+".join(names), len(frame), len(found))
        return found

    def build_docs(self) -> Path:
        self.context.build_data_docs(site_names=[DOCS_SITE])
        return Path(self.docs_dir) / "index.html"


@lru_cache(maxsize=4)
def _runner(docs_dir: str | None) -> _Runner:
    return _Runner(docs_dir)


# --------------------------------------------------------------------------- findings


def finding_for(record, meta: dict, kwargs: dict) -> tuple[str, Finding]:
    """A failed row as the clerk sees it: row, column, value, and messages filled from the row itself.

    Messages name the frame's columns (`{commune_code}`, `{as_of}`) and the
    expectation's parameters (`{ratio}`); `{value}` is the blamed column's value.
    """
    blame = meta["blame"]
    words = {**{k: _shown(v) for k, v in kwargs.items()}, **{k: _shown(v) for k, v in record.items()}}
    words["value"] = words.get(blame, "")
    # the Vietnamese message writes decimals the Vietnamese way (`9,1`), the English one `9.1`
    words_vi = {
        **{k: _shown(v, vi=True) for k, v in kwargs.items()},
        **{k: _shown(v, vi=True) for k, v in record.items()},
    }
    words_vi["value"] = words_vi.get(blame, "")
    finding = Finding(
        severity=meta["severity"],
        rule=meta["rule"],
        message_vi=meta["message_vi"].format(**words_vi),
        message_en=meta["message_en"].format(**words),
        row=None if _missing(record["source_row"]) else int(record["source_row"]),
        column=blame if blame in COLUMN_BY_NAME else None,
        value=words["value"],
    )
    return str(record["submission_id"]), finding


def _missing(value) -> bool:
    return value is None or value != value  # None, NaN, NaT


def _shown(value, *, vi: bool = False) -> str:
    """A value as the clerk wrote it: whole numbers without `.0`, dates as dd/mm/yyyy.

    `vi`: a decimal as Vietnamese writes it (`9,1`, bantin.render), for the Vietnamese message.
    """
    if _missing(value):
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        if vi:
            from bantin.render import vn_dec

            return vn_dec(value, 1)
        return f"{value:.1f}"
    return str(value)
