"""Validation: parsed rows → findings, with Great Expectations.

Suites live as JSON under `expectations/`; each expectation's `meta` carries
its severity, rule id, the column to blame and its messages in Vietnamese and
English. All files of a run are validated in one GX call: rows are stacked
with a global index, and GX's unexpected indices map back to (submission,
row as the clerk sees it).

Great Expectations takes ~8 s to import: it is imported inside functions only,
never when a DAG file is parsed.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

from bantin.findings import Finding
from bantin.submission_format import COLUMN_BY_NAME

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"
ROW_SUITE = "submission_rows"

log = logging.getLogger(__name__)


def suite_definition(name: str) -> dict:
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def load_suite(name: str):
    """The GX suite, refusing to run if GX dropped any expectation while loading it.

    GX logs and drops an expectation it cannot build (an unregistered custom
    class, a misspelt type): a suite that silently checks less is worse than
    no run at all.
    """
    import great_expectations as gx

    definition = suite_definition(name)
    suite = gx.ExpectationSuite(**definition)
    declared, loaded = len(definition["expectations"]), len(suite.expectations)
    if loaded != declared:
        raise RuntimeError(f"suite {name}: {declared} expectations declared but only {loaded} loaded")
    return suite


@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    source = context.data_sources.add_pandas("submissions")
    asset = source.add_dataframe_asset("rows")
    return asset.add_batch_definition_whole_dataframe("all_rows")


def validate_rows(frame, suite_name: str = ROW_SUITE) -> list[tuple[str, Finding]]:
    """Run one suite over stacked rows of many submissions.

    `frame` needs `submission_id` and `source_row` columns plus the columns the
    suite names; its index must be unique. Returns (submission_id, finding).
    """
    if frame.empty:
        return []
    suite = load_suite(suite_name)
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    found: list[tuple[str, Finding]] = []
    for outcome in result.results:
        config = outcome.expectation_config
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {config.type} failed to run: {outcome.exception_info}")
        if outcome.success:
            continue
        indices = outcome.result.get("unexpected_index_list") or []
        values = outcome.result.get("unexpected_list") or []
        for index, value in zip(indices, values):
            found.append(_finding(frame, index, value, config))
    log.info("GX suite %s: %d rows, %d findings", suite_name, len(frame), len(found))
    return found


def _finding(frame, index, value, config) -> tuple[str, Finding]:
    meta = config.meta
    blame = meta["blame"]
    record = frame.loc[index]
    if isinstance(value, tuple):  # column pair: (A, B) = (large, small)
        large, small = (_whole(v) for v in value)
        words = {"large": large, "small": small, "value": small}
        shown = small
    else:
        shown = _whole(value)
        words = {"value": shown}
    finding = Finding(
        severity=meta["severity"],
        rule=meta["rule"],
        message_vi=meta["message_vi"].format(**words),
        message_en=meta["message_en"].format(**words),
        row=int(record["source_row"]),
        column=blame if blame in COLUMN_BY_NAME else None,
        value=str(shown),
    )
    return str(record["submission_id"]), finding


def _whole(value):
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return value
    return int(as_float) if as_float.is_integer() else as_float
