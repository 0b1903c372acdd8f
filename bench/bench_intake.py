"""Intake at national scale: one file per district for all 696 districts.

695 files (Hoàng Sa has no one to report); 10,055 commune-level rows.

Setup (not timed): the demo generator writes one day of files for every
province, in the mix of CSV encodings, separators and XLSX template shapes the
demo districts use. Timed, each in a fresh process, medians of 3 runs:

1. reading and checking every file with `intake.read_submission` (decode,
   headers, typing, totals row, identity, report date) — the part this module owns;
2. the same plus the row and file GX suites over all rows in one call (`validate_files`),
   Great Expectations start-up included — what `bantin validate` does per file,
   done for the whole country at once;
3. the pipeline's `collect` + `validate` into an empty warehouse: archive copies,
   ledger, findings, verdicts and a feedback report (HTML + JSON) per file (P2).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

from bench.common import TABLE_HEAD, child, measure, run_child, verdict

TITLE = "Intake — every district of the country, one file each (P2)"
DAY = date(2021, 10, 19)


def generate_national_day(landing: str) -> None:
    """The demo generator's files of DAY for every province (setup, not timed)."""
    from bantin import demo_data, reference

    for province in reference.provinces(on=DAY):
        demo_data.generate(province.code, DAY, DAY, Path(landing))


def read_every_file(landing: str) -> None:
    """1. Reading and checking every file with `intake.read_submission`."""
    from bantin import intake

    rows = files = 0
    for path in sorted(Path(landing).glob("*/*")):
        parsed = intake.read_submission(path, int(path.parent.name), max_bytes=10 * 1024 * 1024)
        assert not [f for f in parsed.findings if f.severity == "error"], (path, parsed.findings[:3])
        rows += len(parsed.rows)
        files += 1
    assert (files, rows) == (695, 10055), (files, rows)


def read_and_check_every_file(landing: str) -> None:
    """2. The same plus the row and file GX suites over all rows in one call."""
    import pandas as pd

    from bantin import intake, validation
    from bantin.submission_format import COLUMN_NAMES

    frames, files = [], []
    for path in sorted(Path(landing).glob("*/*")):
        parsed = intake.read_submission(path, int(path.parent.name), max_bytes=10 * 1024 * 1024)
        frame = pd.DataFrame(parsed.rows, columns=list(COLUMN_NAMES))
        frame.insert(0, "source_row", parsed.source_rows)
        sid = f"{path.parent.name}/{path.name}"  # two districts can send files of the same name
        frame.insert(0, "submission_id", sid)
        frames.append(frame)
        files.append(
            {
                "submission_id": sid,
                "inbox_district_code": int(path.parent.name),
                "as_of": parsed.report_date,
                "backdate_days": 7,
            }
        )
    rows = pd.concat(frames, ignore_index=True)
    found = validation.validate_files(rows, pd.DataFrame(files)).findings
    assert len(rows) == 10055, len(rows)
    assert not [f for _, f in found if f.severity == "error"], found[:3]


def collect_and_validate() -> None:
    """3. The pipeline's `collect` + `validate` into the empty warehouse of BANTIN_HOME."""
    from bantin import pipeline
    from bantin.config import load_settings

    settings = load_settings()
    collected = pipeline.collect(settings)
    validated = pipeline.validate(settings)
    assert collected["new"] == 695 and validated["accepted"] == 695, (collected, validated)


def _mix(landing: Path) -> str:
    kinds = Counter(p.suffix.lower() for p in landing.glob("*/*"))
    return ", ".join(f"{n} {k.lstrip('.')}" for k, n in sorted(kinds.items()))


def run() -> str:
    root = Path(tempfile.mkdtemp(prefix="bantin-bench-intake-"))
    try:
        landing = root / "national" / "landing"
        run_child(child(generate_national_day, landing))
        files = len(list(landing.glob("*/*")))
        size_mb = sum(p.stat().st_size for p in landing.glob("*/*")) / 1024 / 1024
        home = root / "home"

        def fresh_home() -> None:
            shutil.rmtree(home, ignore_errors=True)
            (home / "landing").parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(landing, home / "landing")  # copy2 keeps the receipt times (mtimes)

        read = measure(
            "1. read + type + identity (`intake.read_submission`), 695 files", child(read_every_file, landing)
        )
        checked = measure(
            "2. the same + GX suites over all rows in one call (GX start-up included)",
            child(read_and_check_every_file, landing),
        )
        full = measure(
            "3. P2: `pipeline.collect` + `validate` (archive, ledger, findings, feedback)",
            child(collect_and_validate),
            env={"BANTIN_HOME": str(home)},
            setup=fresh_home,
        )
        lines = [
            f"Input: {files} files ({_mix(landing)}; {size_mb:.1f} MiB), 10,055 commune rows, one report date.",
            "",
            TABLE_HEAD,
            read.row("", ""),
            checked.row("", ""),
            full.row("≤ 30 s, ≤ 2 GiB", verdict(full.median, 30) if full.peak_rss_mb <= 2048 else "**no**"),
            "",
            "| what | files per second (median) |",
            "|---|---|",
            f"| 1. reading and checking | {files / read.median:.0f} |",
            f"| 2. with the GX suites | {files / checked.median:.0f} |",
            f"| 3. whole collect + validate stage | {files / full.median:.0f} |",
            "",
            "Wall times include interpreter start-up and imports (GX alone takes 7–9 s to import, "
            "performance-targets.md P4). Peak RSS is the child process's own (`wait4`).",
        ]
        return "\n".join(lines)
    finally:
        shutil.rmtree(root, ignore_errors=True)
