"""The pipeline's stages, in the order data flows:

    collect → validate → alert_new_f0 → build_marts → publish_snapshot
            → director_signoff → render_bulletin → deliver_bulletin

Each stage is a plain function of the settings (and the report date), reads
its input from the warehouse or the file system, writes in one transaction and
returns a small summary dict (what the Airflow task logs and passes on as
XCom). The DAGs call exactly these functions, and so does `bantin run` for a
whole date range in one process: one code path. Each stage is recorded in
ops.pipeline_run under its name (`store.stage`), which is also its Airflow task
id and its key in the run summary (`operations.STAGES`). A stage holds the
warehouse's writer only to read and write: files are parsed, GX runs, the PDF
is made and mail goes out with the writer free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from bantin import feedback, intake, ledger, store, warehouse
from bantin.config import Settings
from bantin.findings import WARNING, Finding, has_errors
from bantin.submission_format import COLUMN_NAMES

log = logging.getLogger(__name__)


def report_date_for(logical_date: datetime, settings: Settings, override: str | None = None) -> date:
    """The report date of a run: the `report_date` param if given, else the logical date read in local time.

    A run triggered from the CLI or the REST API has no logical date (Airflow 3):
    pass its `run_after` instead. `{{ ds }}` is the UTC date; at 17:00 in Hanoi
    it happens to be the same day, but a run at 06:30 local would be the previous UTC day.
    """
    if override:
        return date.fromisoformat(str(override))
    return logical_date.astimezone(settings.timezone).date()


def report_date_of_run(context, settings: Settings) -> date:
    """The report date of the Airflow run whose task `context` this is (every task of daily_bulletin asks this).

    The `report_date` param, else the logical date, else (a run triggered from the CLI or the
    REST API has no logical date in Airflow 3) the run's `run_after`, read in local time.
    """
    moment = context.get("logical_date") or context["dag_run"].run_after
    return report_date_for(moment, settings, context["params"].get("report_date"))


def cutoff_of(report_date: date, settings: Settings) -> datetime:
    return datetime.combine(report_date, settings.cutoff, tzinfo=settings.timezone)


def cli_run_id(settings: Settings) -> str:
    """A run id of its own for each `bantin run` (Airflow's are manual__/scheduled__<time>)."""
    return f"cli__{datetime.now(settings.timezone):%Y-%m-%dT%H:%M:%S}__{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- collect


# Files parsed outside the writer, then recorded under it, this many at a time (bounds memory and the hold).
COLLECT_BATCH = 50


def collect(settings: Settings, *, run_id: str = "manual") -> dict:
    """Archive and record every new file in the inboxes, parse it into raw rows.

    A file is new when its (district, sha256) is not in the ledger yet: the
    same bytes dropped twice are recorded once; a changed file is a new version.
    A file still growing waits for the next collection. Whatever goes wrong
    with one file is recorded against that file, and the others go on.

    One collector at a time takes files from the inboxes (its own lock, beside
    the receipts): the warehouse's writer is held only to read which files are
    known and to record a batch of parsed files, never while files are read.
    """
    stats = {"seen": 0, "new": 0, "unreadable": 0}
    with (
        store.stage(settings, "collect", run_id=run_id, stats=stats),
        store.exclusive_lock(settings.receipts / ".collect.lock", timeout=settings.lock_wait_seconds),
    ):
        if removed := intake.remove_leftovers(settings.archive):
            log.warning("collect: removed %d partial copies left by an interrupted collection", removed)
        incoming = intake.scan_inboxes(
            settings.landing,
            settings.timezone,
            seen_register=settings.receipts / ".seen.json",
            settle_seconds=settings.settle_seconds,
        )
        stats["seen"] = len(incoming)
        with store.writer(settings) as con:
            known, known_ids = ledger.known_files(con)
        batch: list = []
        for item in incoming:
            if not item.stable:
                stats["growing"] = stats.get("growing", 0) + 1
                continue
            try:
                if not item.regular:
                    raise intake.RefusedFile(
                        "file.not_regular",
                        "Không phải tệp thông thường (liên kết, thiết bị…): không nhận.",
                        "Not a regular file (a link, a device…): not taken.",
                    )
                sha = intake.hash_file(item.path, settings.max_file_bytes)
                if (item.district_code, sha) in known:
                    continue
                stored = intake.take_file(item.path, sha, settings.archive, settings.max_file_bytes)
            except intake.RefusedFile as refusal:
                if (refused := _refusal_entry(item, refusal, settings, known_ids)) is not None:
                    batch.append(refused)
                    stats["refused"] = stats.get("refused", 0) + 1
                continue
            except OSError as problem:  # changed while read, or gone: the next run takes it
                log.warning("collect: %s skipped for now: %s", item.path, problem)
                stats["skipped"] = stats.get("skipped", 0) + 1
                continue
            known.add((item.district_code, sha))
            receipt = _receipt_for(item, sha, settings)
            # the name the clerk gave (a channel's receipt), not the inbox's de-duplicated one
            file_name = receipt.provenance.get("file_name") or intake.display_name(item.path.name)
            parsed = _parse_or_explain(stored, item, settings, file_name)
            batch.append(("file", item, sha, stored, parsed, receipt, file_name))
            stats["new"] += 1
            stats["unreadable"] += 0 if parsed.rows else 1
            if len(batch) >= COLLECT_BATCH:
                _record_batch(settings, batch)
                batch = []
        if batch:
            _record_batch(settings, batch)
    return stats


def _record_batch(settings: Settings, batch: list) -> None:
    """Record parsed (and refused) files under the writer, one transaction per file."""
    with store.writer(settings) as con:
        for kind, item, *rest in batch:
            if kind == "refused":
                with store.transaction(con):
                    ledger.record_submission(con, *rest)
                continue
            sha, stored, parsed, receipt, file_name = rest
            try:
                with store.transaction(con):
                    _record(con, item, sha, stored, parsed, settings, receipt)
            except Exception:  # rows DuckDB will not take: the file is recorded, refused, and the run goes on
                log.exception("collect: %s could not be loaded; recorded as rejected", item.path)
                failed = intake.ParsedSubmission(file_name=file_name, district_code=item.district_code)
                failed.error("file.load_failed", *_FAILED["load"])
                with store.transaction(con):
                    _record(con, item, sha, stored, failed, settings, receipt)


# What a clerk is told when bantin itself failed on their file (the log has the details).
_FAILED = {
    "read": (
        "Hệ thống không đọc được tệp này (lỗi nội bộ đã được ghi lại để kỹ thuật viên xem). Hãy kiểm tra "
        "tệp theo mẫu báo cáo và gửi lại, hoặc liên hệ Sở Y tế.",
        "bantin could not read this file (an internal error, logged for the engineers). Check the file "
        "against the template and send it again, or contact the Department of Health.",
    ),
    "load": (
        "Không nạp được số liệu của tệp vào kho dữ liệu (lỗi đã được ghi lại). Hãy kiểm tra tệp theo mẫu "
        "báo cáo và gửi lại.",
        "The file's figures could not be loaded into the warehouse (the error is logged). Check the file "
        "against the template and send it again.",
    ),
    "validate": (
        "Không kiểm tra được tệp này (lỗi nội bộ đã được ghi lại); tệp tạm thời bị từ chối để không "
        "chặn các báo cáo khác. Hãy gửi lại hoặc liên hệ Sở Y tế.",
        "This file could not be checked (an internal error, logged); it is set aside so it cannot "
        "hold up the other reports. Send it again or contact the Department of Health.",
    ),
}


def _parse_or_explain(stored: Path, item, settings: Settings, file_name: str) -> intake.ParsedSubmission:
    """The file read and typed; an unexpected failure of the reader becomes the file's finding."""
    try:
        return intake.read_submission(
            stored, item.district_code, max_bytes=settings.max_file_bytes, file_name=file_name, limits=settings.limits
        )
    except Exception:
        log.exception("collect: reading %s failed; recorded as rejected", item.path)
        parsed = intake.ParsedSubmission(file_name=file_name, district_code=item.district_code)
        parsed.error("file.read_failed", *_FAILED["read"])
        return parsed


def _receipt_for(item, sha: str, settings: Settings) -> intake.Receipt:
    """The channel's receipt for these bytes, or the time bantin first saw them (then recorded as one)."""
    receipt = intake.read_receipt(settings.receipts, item.district_code, sha, settings.timezone)
    if receipt is None:
        intake.write_receipt(
            settings.receipts,
            item.district_code,
            sha,
            item.first_seen,
            "inbox",
            intake.display_name(item.path.name),
            landing_path=_landing_path(item.path, settings),
        )
        receipt = intake.Receipt(
            item.first_seen,
            "inbox",
            {"file_name": intake.display_name(item.path.name), "landing_path": _landing_path(item.path, settings)},
        )
    return receipt


def _landing_path(path: Path, settings: Settings) -> str:
    return intake.display_name(
        str(path.relative_to(settings.home)) if path.is_relative_to(settings.home) else str(path)
    )


def _refusal_entry(item, refusal: intake.RefusedFile, settings: Settings, known_ids: set):
    """A file refused before being read (too large, not a regular file): one ledger row and a finding, once.

    It is not hashed nor archived (that is the point of refusing it), so it is
    known by its inbox path, size and modification time. None when it is already recorded.
    """
    try:
        mtime_ns = item.path.lstat().st_mtime_ns
    except OSError:
        mtime_ns = 0
    identity = f"{_landing_path(item.path, settings)}|{item.size}|{mtime_ns}"
    submission_id = f"{item.district_code}-refused-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
    if submission_id in known_ids:
        return None
    known_ids.add(submission_id)
    log.warning("collect: %s refused: %s", item.path, refusal.message_en)
    entry = _ledger_entry(
        item,
        settings,
        submission_id=submission_id,
        report_date=None,
        file_name=intake.display_name(item.path.name),
        archive_path="",
        sha="",
        received=item.first_seen,
        is_late=False,
        headers={},
        channel="inbox",
        provenance={"refused": refusal.rule},
    )
    return ("refused", item, entry, [Finding("error", refusal.rule, refusal.message_vi, refusal.message_en)])


def _record(
    con, item, sha: str, stored: Path, parsed: intake.ParsedSubmission, settings: Settings, receipt: intake.Receipt
) -> None:
    received = receipt.received_at
    entry = _ledger_entry(
        item,
        settings,
        submission_id=ledger.submission_id_for(item.district_code, sha),
        report_date=parsed.report_date,
        file_name=parsed.file_name,
        archive_path=str(stored.relative_to(settings.home)),
        sha=sha,
        received=received,
        is_late=parsed.report_date is not None and received > cutoff_of(parsed.report_date, settings),
        headers=parsed.headers,
        channel=receipt.channel,
        provenance=receipt.provenance,
    )
    rows = [(n, *(r[c] for c in COLUMN_NAMES)) for r, n in zip(parsed.rows, parsed.source_rows, strict=True)]
    ledger.record_submission(con, entry, parsed.findings, rows, row_columns=COLUMN_NAMES)


def _ledger_entry(
    item,
    settings: Settings,
    *,
    submission_id: str,
    report_date,
    file_name: str,
    archive_path: str,
    sha: str,
    received: datetime,
    is_late: bool,
    headers: dict,
    channel: str,
    provenance: dict,
) -> dict:
    """One ops.submission row (ledger.record_submission) for a file of the inbox, read or refused."""
    return {
        "submission_id": submission_id,
        "district_code": item.district_code,
        "report_date": report_date,
        "file_name": file_name,
        "landing_path": _landing_path(item.path, settings),
        "archive_path": archive_path,
        "sha256": sha,
        "size_bytes": item.size,
        "received_at": _local(received, settings),
        "recorded_at": _local(datetime.now(settings.timezone), settings),
        "is_late": is_late,
        "headers_json": json.dumps(headers, ensure_ascii=False, default=str),
        "channel": channel,
        "provenance_json": json.dumps(provenance, ensure_ascii=False, default=str),
    }


def _local(moment: datetime, settings: Settings) -> datetime:
    """Ledger times are the province's wall-clock time (what clerks and the bulletin speak in)."""
    return moment.astimezone(settings.timezone).replace(tzinfo=None)


# --------------------------------------------------------------------------- validate


def validate(settings: Settings, *, run_id: str = "manual") -> dict:
    """Run the GX suites over every recorded-but-unvalidated submission, one GX call per suite; decide verdicts.

    The writer is held to read the pending files (and a copy of the history they
    are judged against), let go while GX runs, and taken again to write the
    findings and settle the versions in one transaction. A file another
    validation settled meanwhile is left as that one judged it.
    The run's Data Docs site (for engineers) is rebuilt under `data_docs/`.
    """
    from bantin import validation  # imports Great Expectations (~8 s): only when this stage runs

    stats = {"validated": 0, "accepted": 0, "rejected": 0}
    with store.stage(settings, "validate", run_id=run_id, stats=stats):
        with store.writer(settings) as con:
            pending = ledger.pending(con)
            if not pending:
                return stats
            rows, files = _rows_for_validation(con, pending, settings)
            intake_findings = con.execute(  # per file: how many intake found, and whether one is an error
                "SELECT submission_id, count(*), bool_or(severity = 'error') FROM ops.finding "
                "WHERE stage = 'intake' AND list_contains(?, submission_id) GROUP BY 1",
                [pending],
            ).fetchall()
            intake_errors = [sid for sid, _, has_error in intake_findings if has_error]
            already = {sid: count for sid, count, _ in intake_findings}
            headers = _headers_by_submission(con, pending)
            history = validation.copy_history(con, pending, rows["commune_code"], settings)
        try:
            outcome = _validate_or_set_aside(validation, rows, files, history, intake_errors, settings, run_id)
        finally:
            history.close()
        found = _capped_per_file(
            [(sid, _with_header(f, headers.get(sid, {}))) for sid, f in outcome.findings],
            settings.limits.max_findings_per_file,
            already,
        )
        with store.writer(settings) as con:
            still = set(ledger.pending(con))
            judged = [sid for sid in pending if sid in still]
            found = [(sid, f) for sid, f in found if sid in still]
            with store.transaction(con):
                ledger.insert_findings(con, found, "validation")
                ledger.settle(con, judged)
            stats["validated"] = len(judged)
            verdicts = dict(
                con.execute(
                    "SELECT status, count(*) FROM ops.submission WHERE list_contains(?, submission_id) GROUP BY status",
                    [judged],
                ).fetchall()
            )
            stats["accepted"] = verdicts.get("accepted", 0) + verdicts.get("superseded", 0)
            stats["rejected"] = verdicts.get("rejected", 0)
            stats["warnings"] = sum(f.severity == WARNING for _, f in found)
            stats["data_docs"] = str(outcome.data_docs)  # the log line links the run's Data Docs
            feedback.write_reports(con, settings, judged)
    return stats


def _validate_or_set_aside(validation, rows, files, con, intake_errors, settings: Settings, run_id: str):
    """All pending files in one GX run; if that fails, file by file, and a file that fails alone is set aside.

    A file set aside is rejected with a finding (the clerk hears of it, the
    engineers have the log) and the others are judged: one district's file
    never stops the day. The Data Docs site is a report for engineers: its
    failure is logged, never the run's.
    """
    try:
        return validation.validate_files(
            rows, files, history=con, untrusted_ids=intake_errors, docs_dir=settings.home / "data_docs", run_name=run_id
        )
    except Exception:
        log.exception("validate: the batch failed; validating file by file to find the file that fails")
    outcome = validation.Outcome()
    for submission_id in files["submission_id"]:
        try:
            alone = validation.validate_files(
                rows[rows["submission_id"] == submission_id],
                files[files["submission_id"] == submission_id],
                history=con,
                untrusted_ids=[s for s in intake_errors if s == submission_id],
            )
            outcome.findings += alone.findings
        except Exception:
            log.exception("validate: %s could not be validated; set aside (rejected)", submission_id)
            outcome.findings.append((submission_id, Finding("error", "file.validation_failed", *_FAILED["validate"])))
    return outcome


def _capped_per_file(
    found: list[tuple[str, Finding]], limit: int, already: dict[str, int]
) -> list[tuple[str, Finding]]:
    """Validation's findings of each file, capped so that with intake's (`already`) a file has at most `limit` + 1."""
    from bantin.findings import capped

    by_file: dict[str, list[Finding]] = {}
    for sid, finding in found:
        by_file.setdefault(sid, []).append(finding)
    return [
        (sid, f) for sid, findings in by_file.items() for f in capped(findings, max(limit - already.get(sid, 0), 1))
    ]


def _rows_for_validation(con, submission_ids: list[str], settings: Settings):
    """The parsed rows of the pending files, and each file's parameters (inbox district, day received)."""
    rows = con.execute(
        "SELECT * FROM raw.submission_row WHERE list_contains(?, submission_id) ORDER BY submission_id, source_row",
        [submission_ids],
    ).df()
    files = con.execute(
        "SELECT submission_id, district_code AS inbox_district_code, CAST(received_at AS DATE) AS as_of, "
        "? AS backdate_days FROM ops.submission WHERE list_contains(?, submission_id)",
        [settings.backdate_days, submission_ids],
    ).df()
    return rows, files


def _headers_by_submission(con, ids: list[str]) -> dict[str, dict]:
    rows = con.execute(
        "SELECT submission_id, headers_json FROM ops.submission WHERE list_contains(?, submission_id)", [ids]
    ).fetchall()
    return {sid: json.loads(h or "{}") for sid, h in rows}


def _with_header(finding: Finding, headers: dict) -> Finding:
    if finding.column and not finding.header:
        from dataclasses import replace

        return replace(finding, header=headers.get(finding.column))
    return finding


def alert_new_f0(settings: Settings, *, run_id: str = "manual") -> dict:
    """Tell the Steering Committee at once of community cases in a commune quiet for 14 days (bantin.alerts)."""
    from bantin import alerts

    stats: dict = {}
    with store.stage(settings, "alert_new_f0", run_id=run_id, stats=stats):  # the writer only to read and record
        stats.update(alerts.notify_new_f0(settings))
    return stats


# --------------------------------------------------------------------------- marts and levels


def build_marts(settings: Settings, report_date: date, *, run_id: str = "manual", full_refresh: bool = False) -> dict:
    """Bring staging, marts and levels up to date for the report date (`dbt build`, bantin.models).

    Only what changed is redone (models.plan_build): a new report date, or a
    resubmission for an earlier one, replaces that date's rows and those after it.
    dbt commits model by model; what the marts were built from is recorded only
    once it has finished, so a killed build is redone whole by the next run.
    """
    from bantin import levels, models

    stats: dict = {"report_date": report_date.isoformat()}
    with store.stage(settings, "build_marts", run_id=run_id, report_date=report_date, stats=stats, write=True) as con:
        levels.read_rule_sets(settings.rule_sets_dir)  # a malformed rule set is refused before anything is written
        with store.transaction(con):
            con.execute(
                "INSERT INTO ops.report_day VALUES (?, ?) ON CONFLICT DO NOTHING",
                [report_date, _local(datetime.now(settings.timezone), settings)],
            )
        plan = models.build(
            con,
            province_codes=[settings.province_code],
            calendar_end=report_date,
            full_refresh=full_refresh,
            rule_sets_dir=settings.rule_sets_dir,
            engine_config=store.engine_config(settings),
        )
        stats.update(
            mode=plan.mode,
            reason=plan.reason,
            rebuild_from=plan.rebuild_from.isoformat() if plan.rebuild_from else None,
            seconds_by_model=dict(plan.seconds_by_model),
        )  # each dbt model, in the run summary
        stats["commune_days"] = con.execute("SELECT count(*) FROM marts.commune_daily").fetchone()[0]
    return stats


def publish(settings: Settings, *, run_id: str = "manual") -> dict:
    """The analysts' snapshot, its Parquet export and the models' docs site (bantin.models), each swapped in whole."""
    from bantin import models

    stats: dict = {}
    with store.stage(settings, "publish_snapshot", run_id=run_id, stats=stats, write=True) as con:
        path = warehouse.publish_snapshot(con, settings.analytics_path)
        stats["snapshot"] = str(path)
        stats["parquet"] = str(warehouse.export_parquet(con, settings.analytics_path.parent))
        stats["docs"] = str(
            models.publish_docs(con, settings.analytics_path.parent, engine_config=store.engine_config(settings))
        )
    return stats


# --------------------------------------------------------------------------- bulletin


def render(settings: Settings, report_date: date, *, run_id: str = "manual") -> dict:
    from bantin import bulletin

    stats: dict = {"report_date": report_date.isoformat()}
    with store.stage(settings, "render_bulletin", run_id=run_id, report_date=report_date, stats=stats):
        with store.writer(settings) as con:  # the figures only: the PDF is made after the lock is let go
            figures = bulletin.build_summary(con, settings, report_date)
        produced = bulletin.render(figures, settings, report_date, run_id=run_id)
        stats.update({k: str(v) for k, v in produced.items()})
    return stats


def deliver(settings: Settings, report_date: date, rendered: dict, *, run_id: str = "manual") -> dict:
    from bantin import delivery

    stats: dict = {"report_date": report_date.isoformat()}
    # SMTP retries hold no lock: the writer is taken only to record the stage
    with store.stage(settings, "deliver_bulletin", run_id=run_id, report_date=report_date, stats=stats):
        stats.update(
            delivery.deliver(
                settings, report_date, {k: Path(v) for k, v in rendered.items() if k in ("html", "pdf", "json")}
            )
        )
    return stats


# --------------------------------------------------------------------------- whole days


def run_day(
    settings: Settings,
    report_date: date,
    *,
    run_id: str | None = None,
    bulletin: bool = True,
    deliver_bulletin: bool = True,
    full_refresh: bool = False,
) -> dict:
    """Every stage for one report date, in this process (what the DAG does, minus Airflow)."""
    run_id = run_id or cli_run_id(settings)
    summary = {"collect": collect(settings, run_id=run_id), "validate": validate(settings, run_id=run_id)}
    try:
        summary["alert_new_f0"] = alert_new_f0(settings, run_id=run_id)
    except Exception as problem:  # nothing is recorded as alerted: the next collection sends it
        log.exception("alert_new_f0 failed; the bulletin goes on and the next collection alerts again")
        summary["alert_new_f0"] = {"failed": f"{type(problem).__name__}: {problem}"}
    summary["build_marts"] = build_marts(settings, report_date, run_id=run_id, full_refresh=full_refresh)
    summary["publish_snapshot"] = publish(settings, run_id=run_id)  # before the bulletin, as in the DAG
    if bulletin:
        summary["render_bulletin"] = render(settings, report_date, run_id=run_id)
    if bulletin and deliver_bulletin:
        summary["deliver_bulletin"] = deliver(settings, report_date, summary["render_bulletin"], run_id=run_id)
    return summary


def run_days(settings: Settings, start: date, end: date, **options) -> list[dict]:
    """One `bantin run`: its days share one run id of their own (ops.pipeline_run tells them by report date)."""
    options.setdefault("run_id", cli_run_id(settings))
    days, day = [], start
    while day <= end:
        days.append(run_day(settings, day, **options))
        day += timedelta(days=1)
    return days


# --------------------------------------------------------------------------- one file, for `bantin validate`


def check_file(settings: Settings, path: Path, district_code: int, as_of: date) -> list[Finding]:
    """Every finding for one file, exactly as the pipeline would record them (intake, then GX).

    History rules read the analysts' snapshot (the warehouse as last published),
    never the live file: a clerk's check can never hold up the pipeline. With no
    snapshot yet they are skipped (the pipeline will apply them).
    """
    import pandas as pd

    from bantin import validation
    from bantin.findings import capped, sort_key

    parsed = intake.read_submission(path, district_code, max_bytes=settings.max_file_bytes, limits=settings.limits)
    findings = list(parsed.findings)
    if parsed.rows:
        rows = pd.DataFrame(parsed.rows, columns=list(COLUMN_NAMES))
        rows.insert(0, "source_row", parsed.source_rows)
        rows.insert(0, "submission_id", "file")
        files = pd.DataFrame(
            [
                {
                    "submission_id": "file",
                    "inbox_district_code": district_code,
                    "as_of": as_of,
                    "backdate_days": settings.backdate_days,
                }
            ]
        )
        with _history_reader(settings) as con:  # copied out of the snapshot, judged with it let go
            history = validation.copy_history(con, [], rows["commune_code"], settings) if con is not None else None
        try:
            outcome = validation.validate_files(
                rows, files, history=history, untrusted_ids=["file"] if has_errors(findings) else []
            )
        finally:
            if history is not None:
                history.close()
        findings += [_with_header(f, parsed.headers) for _, f in outcome.findings]
    return sorted(capped(findings, settings.limits.max_findings_per_file), key=sort_key)


@contextmanager
def _history_reader(settings: Settings):
    """A read-only connection to the published snapshot, or None when there is none (or it cannot be read)."""
    with ExitStack() as stack:
        con = None
        if settings.analytics_path.exists():
            try:
                con = stack.enter_context(store.reader(settings.analytics_path, settings))
                con.execute("SELECT 1 FROM raw.submission_row LIMIT 0")  # a snapshot from before raw was in it
            except Exception:
                log.info("no readable snapshot with raw rows: history rules skipped for this check")
                con = None
        yield con
