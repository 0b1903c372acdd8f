"""The GX Data Docs site (for engineers) never executes file content: file text reaches it escaped."""

from __future__ import annotations

from bantin import validation

from .validation_helpers import by_submission, district_day, frames

SCRIPT = "<script>alert('xã')</script><img src=x onerror=alert(1)>"


def test_a_script_in_a_commune_name_is_text_in_the_data_docs(tmp_path):
    rows = district_day()
    rows[0]["commune_name"] = SCRIPT
    rows[1]["notes"] = SCRIPT
    outcome = validation.validate_files(*frames({"hostile": rows}), docs_dir=tmp_path / "docs", run_name="hostile")
    # The clerk is told, with the name as written (the feedback report escapes it when it shows it).
    [mismatch] = [f for f in by_submission(outcome.findings)["hostile"] if f.rule == "commune.name_mismatch"]
    assert SCRIPT in mismatch.message_vi
    pages = [p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "docs").rglob("*.html")]
    assert outcome.data_docs and pages
    assert not any("<script>alert" in page or "<img src=x" in page for page in pages)
    assert any("alert(" in page for page in pages)  # the value is there, as text
