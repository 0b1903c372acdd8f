"""`bantin` command line: for clerks (validate), engineers (run, demo-data) and analysts.

Exit codes follow the runtime contract: 0 accepted, 1 rejected, 2 bad usage (a BANTIN_ setting included);
and 3 for an unexpected error (bantin's fault, not the user's), whose traceback
goes to a log file under `$BANTIN_HOME/logs/` that the message names.
A user never sees a traceback: problems are explained in Vietnamese and English.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date, datetime
from pathlib import Path

from bantin.config import SettingsError, load_settings

EXIT_UNEXPECTED = 3


class UsageError(Exception):
    pass


DEMO_MARKER = "DEMO"  # in the data root: it holds demo submissions


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ngày không hợp lệ / invalid date: {text!r} (YYYY-MM-DD)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bantin", description="bantin: bản tin COVID-19 hằng ngày của Sở Y tế")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("validate", help="kiểm tra một tệp báo cáo / check one submission file")
    check.add_argument("file", type=Path)
    check.add_argument("--district", type=int, required=True, help="mã huyện gửi tệp / sender's district code")
    check.add_argument("--as-of", type=_date, default=None, help="ngày kiểm tra / check as of (default: today)")
    check.add_argument("--format", choices=("text", "json"), default="text")

    form = commands.add_parser("template", help="mẫu báo cáo Excel điền sẵn / the pre-filled XLSX template")
    form.add_argument("--district", type=int, required=True, help="mã huyện / district code")
    form.add_argument("--date", type=_date, required=True, help="ngày báo cáo / report date (YYYY-MM-DD)")
    form.add_argument(
        "--output",
        type=Path,
        default=None,
        help="tệp ghi ra / output file (default: BaoCao_<district>_<yyyymmdd>.xlsx here)",
    )

    demo = commands.add_parser("demo-data", help="write demo submissions built from the real series")
    demo.add_argument("--province", type=int, default=None)
    demo.add_argument("--start", type=_date, required=True)
    demo.add_argument("--end", type=_date, required=True)
    demo.add_argument("--seed", type=int, default=2021)
    demo.add_argument(
        "--series-from",
        type=_date,
        default=None,
        metavar="DATE",
        help="replay the province's real series from DATE onto --start (for dates after the portal's 2022 end)",
    )
    demo.add_argument(
        "--busy-evening",
        type=Path,
        default=None,
        metavar="LATER_DIR",
        help="on --end: one district missing, one late at 19:10, one rejected then corrected at 19:25; "
        "the evening's files go to LATER_DIR (make demo-busy)",
    )

    run = commands.add_parser("run", help="run the pipeline for report dates in this process (no Airflow)")
    run.add_argument("--start", type=_date, required=True)
    run.add_argument("--end", type=_date, default=None)
    run.add_argument("--no-deliver", action="store_true", help="skip e-mail delivery and outbox")
    run.add_argument(
        "--load-only", action="store_true", help="collect, validate and build the marts for each date; no bulletin"
    )
    run.add_argument(
        "--full-refresh", action="store_true", help="rebuild every mart whole instead of only the dates that changed"
    )

    sql = commands.add_parser("sql", help="query the analysts' snapshot read-only (no query: interactive shell)")
    sql.add_argument("query", nargs="?", default=None)
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")

    levels = commands.add_parser("levels", help="the Director's sign-off of the epidemic levels / phê duyệt cấp độ")
    decisions = levels.add_subparsers(dest="action", required=True)
    for action, text in (
        ("approve", "phê duyệt cấp độ đề xuất / approve the computed levels"),
        ("override", "công bố cấp độ khác / declare other levels, with a reason"),
    ):
        decide = decisions.add_parser(action, help=text)
        decide.add_argument("--date", type=_date, required=True, help="ngày báo cáo / report date (YYYY-MM-DD)")
        decide.add_argument("--by", required=True, help="người quyết định / who decides (name, title)")
        decide.add_argument("--reason", default="", help="lý do / reason (required to override)")
        if action == "override":
            decide.add_argument(
                "--set",
                dest="levels",
                action="append",
                required=True,
                help="tỉnh=2 | huyện 193=3 | xã 6655=2 (repeat for several units)",
            )
        decide.add_argument(
            "--no-publish",
            action="store_true",
            help="record only: do not render and deliver the bulletin's new version",
        )
    show = decisions.add_parser("show", help="cấp độ đề xuất và công bố / computed and declared levels of a date")
    show.add_argument("--date", type=_date, required=True)

    dictionary = commands.add_parser("data-dictionary", help="write docs/data-dictionary.md from the warehouse")
    dictionary.add_argument("--check", action="store_true", help="exit 1 when the file is out of date")
    return parser


def _few_malloc_arenas() -> None:
    """glibc reserves 64 MB of address space per thread arena; DuckDB's threads would make that ~600 MB.

    Two arenas keep a `bantin run` inside a 1 GiB address-space limit (`ulimit -v`) at no
    measurable cost (docs/benchmarks.md). Same as MALLOC_ARENA_MAX=2; a no-op off glibc.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    _few_malloc_arenas()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = _parser()
    args = parser.parse_args(argv)  # exits 2 on bad usage
    try:
        return COMMANDS[args.command](args)
    except (UsageError, SettingsError) as problem:
        print(problem, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BaseException as problem:  # a user gets a sentence and where the details are
        if isinstance(problem, SystemExit):
            raise
        log_file = _write_traceback(args)
        print(
            f"Lỗi không mong đợi / unexpected error: {type(problem).__name__}: {_short(problem)}\n"
            f"Chi tiết / details: {log_file}",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


def _short(problem: BaseException) -> str:
    text = " ".join(str(problem).split())
    return text if len(text) <= 300 else text[:300] + "…"


def _write_traceback(args) -> str:
    """The traceback of the error being handled, in a file of its own; returns its path (or where it went)."""
    import tempfile
    import traceback

    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    text = f"bantin {' '.join(sys.argv[1:])}\n{traceback.format_exc()}"
    try:
        folders = [load_settings().home / "logs", Path(tempfile.gettempdir())]
    except Exception:  # the settings themselves are what failed: no second traceback
        folders = [Path(tempfile.gettempdir())]
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"bantin-{args.command}-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return str(path)
        except OSError:
            continue
    return "(không ghi được tệp nhật ký / no log file could be written)"


def _validate(args) -> int:
    from bantin import reference
    from bantin.findings import has_errors
    from bantin.pipeline import check_file

    settings = load_settings()
    if not args.file.is_file():
        raise UsageError(f"Không tìm thấy tệp / file not found: {args.file}")
    # a district on any unit list: the file is checked on the list in force on its own report date
    if not any(args.district in {d.code for d in reference.districts(on=v.valid_from)} for v in reference.versions()):
        raise UsageError(f"Mã huyện không tồn tại / unknown district code: {args.district}")
    as_of = args.as_of or datetime.now(settings.timezone).date()
    findings = check_file(settings, args.file, args.district, as_of)
    if args.format == "json":
        print(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2))
    else:
        _print_findings(args.file, findings)
    return 1 if has_errors(findings) else 0


_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9,)) | {127: None}


def _safe(text) -> str:
    """File text shown on a terminal: control characters (escape sequences) dropped, as it is untrusted."""
    return str(text).translate(_CONTROL)


def _print_findings(path: Path, findings) -> None:
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    for f in findings:
        where = ", ".join(
            x
            for x in (
                f"dòng/row {f.row}" if f.row else "",
                f"cột/column {f.header or f.column}" if (f.header or f.column) else "",
            )
            if x
        )
        label = "LỖI/ERROR" if f.severity == "error" else "CẢNH BÁO/WARNING"
        print(
            _safe(
                f"{path.name}: {label} [{f.rule}] {where}{' = ' + repr(f.value) if f.value not in (None, '') else ''}"
            )
        )
        print(f"    {_safe(f.message_vi)}")
        print(f"    {_safe(f.message_en)}")
    verdict = "BỊ TỪ CHỐI / REJECTED" if errors else "HỢP LỆ / ACCEPTED"
    print(_safe(f"{path.name}: {verdict} — {errors} lỗi/errors, {warnings} cảnh báo/warnings"))


def _template(args) -> int:
    from bantin import reference
    from bantin.submission_files import write_xlsx

    try:  # the units in force on the report date the template is for
        district = reference.district(args.district, on=args.date)
    except LookupError:
        raise UsageError(
            f"Mã huyện không tồn tại ngày {args.date:%d/%m/%Y} / unknown district code on "
            f"{args.date:%d/%m/%Y}: {args.district}"
        ) from None
    communes = reference.communes(district_code=district.code, on=args.date)
    if not communes:
        raise UsageError(f"Huyện {district.name} không có xã trong danh mục / has no communes in the reference")
    rows = [
        {"report_date": args.date, "district_code": district.code, "commune_code": c.code, "commune_name": c.name}
        for c in communes
    ]
    output = args.output or Path(f"BaoCao_{district.code}_{args.date:%Y%m%d}.xlsx")
    write_xlsx(
        rows,
        output,
        province_name=reference.province(district.province_code, on=args.date).name_full,
        district_name=district.name,
        report_date=args.date,
        fill_in=True,
    )
    print(f"{output}: {len(rows)} xã/communes, {district.name}, {args.date:%d/%m/%Y}")
    return 0


def _demo_data(args) -> int:
    from bantin import demo_data

    settings = load_settings()
    province = args.province or settings.province_code
    files = demo_data.generate(
        province,
        args.start,
        args.end,
        settings.landing,
        seed=args.seed,
        receipts_dir=settings.receipts,
        timezone=str(settings.timezone),
        series_from=args.series_from,
    )
    # `make airflow` reads this: on demo data the DAGs run only when triggered (deploy/airflow-local.sh)
    (settings.home / DEMO_MARKER).write_text(
        f"Demo data: province {province}, {args.start}..{args.end} (bantin demo-data).\n"
        "make airflow leaves the DAGs unscheduled here: trigger a date, e.g.\n"
        f'  airflow dags trigger daily_bulletin --conf \'{{"report_date": "{args.end}"}}\'\n',
        encoding="utf-8",
    )
    print(f"{len(files)} demo submissions written under {settings.landing}")
    if args.busy_evening:
        evening = demo_data.busy_evening(province, args.end, settings.landing, args.busy_evening)
        print(
            f"{args.end}: missing {evening['missing']}; late (19:10) {evening['late']}; rejected at 16:20 and "
            f"corrected at 19:25 {evening['rejected_then_corrected']}; evening files in {args.busy_evening}"
        )
    return 0


def _run(args) -> int:
    from bantin import pipeline

    logging.getLogger("bantin").setLevel(logging.INFO)
    settings = load_settings()
    end = args.end or args.start
    if end < args.start:
        raise UsageError("--end trước --start / --end is before --start")
    for summary in pipeline.run_days(
        settings,
        args.start,
        end,
        deliver_bulletin=not args.no_deliver,
        bulletin=not args.load_only,
        full_refresh=args.full_refresh,
    ):
        day = summary["build_marts"]["report_date"]
        print(f"{day}: {summary['render_bulletin']['html'] if 'render_bulletin' in summary else 'marts built'}")
    return 0


def _sql(args) -> int:
    from bantin import warehouse

    path = load_settings().analytics_path
    if not path.is_file():
        raise UsageError(f"Chưa có bản sao cho phân tích / no analyst snapshot yet: {path} (run the pipeline first)")
    if args.query is None:
        return warehouse.sql_shell(path)
    return warehouse.sql_query(path, args.query, args.format, sys.stdout)


def _data_dictionary(args) -> int:
    from bantin import models

    settings = load_settings()
    with models.schema_only([settings.province_code]) as con:
        text = models.data_dictionary(con)
    target = models.DATA_DICTIONARY
    if args.check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        print(f"{target}: {'up to date' if current == text else 'OUT OF DATE (run bantin data-dictionary)'}")
        return 0 if current == text else 1
    target.write_text(text, encoding="utf-8")
    print(f"written {target}")
    return 0


def _levels(args) -> int:
    """Record the Director's decision (as the DAG's sign-off task does), then publish the bulletin's new version."""
    from bantin import pipeline, signoff, store

    settings = load_settings()
    if not settings.warehouse_path.is_file():
        raise UsageError(f"Chưa có kho dữ liệu / no warehouse yet: {settings.warehouse_path}")
    if args.action == "show":
        try:
            with store.current_reader(settings) as (con, published):
                rows = con.execute(
                    "SELECT unit_type, unit_code, unit_name, computed_level, declared_level, status, decided_by "
                    "FROM marts.level_signoff WHERE report_date = ? AND unit_type <> 'commune' "
                    "ORDER BY unit_type = 'district', unit_code",
                    [args.date],
                ).fetchall()
        except store.WarehouseBusy as problem:
            raise UsageError(f"Kho dữ liệu đang được ghi, chưa có bản sao; thử lại sau ít phút / {problem}") from None
        if published is not None:
            print(
                f"(Kho dữ liệu đang được ghi: số liệu theo bản sao lúc {published:%H:%M %d/%m/%Y} / "
                f"the warehouse is being written: as of the snapshot published {published:%Y-%m-%d %H:%M})"
            )
        if not rows:
            print(f"Chưa có cấp độ ngày {args.date:%d/%m/%Y} / no levels for {args.date}")
        for unit_type, code, name, computed, declared, state, who in rows:
            print(
                f"{name} ({unit_type} {code}): đề xuất/computed {computed}, công bố/declared "
                f"{declared or '–'} [{state}{', ' + who if who else ''}]"
            )
        return 0
    try:
        overrides = {}
        for text in getattr(args, "levels", None) or []:
            overrides.update(signoff.parse_overrides(text, settings.province_code))
        decision = signoff.Decision(
            report_date=args.date,
            decided_by=args.by,
            reason=args.reason,
            decided_at=datetime.now(settings.timezone).replace(tzinfo=None, microsecond=0),
            overrides=overrides,
            channel="cli",
        )
        with store.writer(settings) as con:
            outcome = signoff.record(con, decision, engine_config=store.engine_config(settings))
    except signoff.SignoffError as problem:
        raise UsageError(f"{problem.message_vi} / {problem}") from None
    print(
        f"{args.date}: {outcome['status']} ({outcome['decided_by']}, {outcome['decided_at']})"
        + "".join(f"\n  {line}" for line in outcome["overridden"])
    )
    if not args.no_publish:
        rendered = pipeline.render(settings, args.date, run_id=f"levels-{args.action}")
        delivered = pipeline.deliver(settings, args.date, rendered, run_id=f"levels-{args.action}")
        pipeline.publish(settings, run_id=f"levels-{args.action}")
        print(
            f"bulletin: {rendered['html']}{' (unchanged)' if rendered.get('reused') == 'True' else ''}; "
            f"delivered: {delivered.get('sent', delivered)}"
        )
    return 0


COMMANDS = {
    "validate": _validate,
    "template": _template,
    "demo-data": _demo_data,
    "run": _run,
    "sql": _sql,
    "levels": _levels,
    "data-dictionary": _data_dictionary,
}

if __name__ == "__main__":
    sys.exit(main())
