"""The 19/10/2021 Quảng Ninh bulletin against the warehouse marts: HTML, PDF and JSON.

Each test renders from a real warehouse (demo files collected, validated by GX,
marts built) and reads the marts itself, so a figure that drifts between the
marts and any of the three outputs fails here.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bantin import bulletin, pipeline, store
from bantin.render import vn_dec, vn_int, vn_pct

from .conftest import REPORT_DATE, WITHHELD, load
from conftest import receive

# (mart column, how the district table shows it), in the table's column order
TABLE_COLUMNS = [
    ("new_cases", vn_int),
    ("new_cases_community", vn_int),
    ("new_cases_7d", vn_int),
    ("cases_per_100k_week", vn_dec),
    ("tests_performed", vn_int),
    ("test_positivity", lambda v: vn_pct(v, 1)),
    ("in_treatment", vn_int),
    ("severe", vn_int),
    ("deaths", vn_int),
    ("coverage_18plus_dose1", lambda v: vn_pct(v, 1)),
]
FIGURES = len(TABLE_COLUMNS)  # then the level badge and the communes at levels 1–4


class _Tables(HTMLParser):
    """Every table row of a page as a list of cell texts."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> list[list[str]]:
    parser = _Tables()
    parser.feed(html)
    return parser.rows


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def marts(settings, sql: str, params=(REPORT_DATE,)) -> list[dict]:
    with store.reader(settings.warehouse_path) as con:
        cursor = con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def expected_cells(row: dict) -> list[str]:
    return [show(row[column]) for column, show in TABLE_COLUMNS]


def render(settings, run_id="test-run", *, pdf=True) -> dict:
    """The render stage as the DAG runs it; without a PDF, the same module call on a read-only connection."""
    if pdf:
        produced = pipeline.render(settings, REPORT_DATE, run_id=run_id)
    else:
        with store.reader(settings.warehouse_path) as con:
            figures = bulletin.build_summary(con, settings, REPORT_DATE)
        produced = bulletin.render(figures, settings, REPORT_DATE, run_id=run_id, pdf=False)
    document = json.loads(Path(produced["json"]).read_text(encoding="utf-8"))
    return {"paths": produced, "doc": document, "html": open(produced["html"], encoding="utf-8").read()}


def test_demo_bulletin_shows_the_marts_figures_in_html_pdf_and_json(bulletin_settings, drop_withheld):
    for district in WITHHELD:
        drop_withheld(bulletin_settings, district, datetime(2021, 10, 19, 15, 30))
    load(bulletin_settings)
    out = render(bulletin_settings)
    figures = out["doc"]["figures"]

    province = marts(bulletin_settings, "SELECT * FROM marts.province_daily WHERE report_date = ?")[0]
    districts = marts(
        bulletin_settings,
        "SELECT * FROM marts.district_daily WHERE report_date = ? AND communes_expected > 0 ORDER BY district_code",
    )
    levels = marts(bulletin_settings, "SELECT unit_type, level FROM marts.epidemic_level WHERE report_date = ?")
    status = marts(
        bulletin_settings,
        "SELECT status, count(*) AS n FROM marts.reporting_status WHERE report_date = ? GROUP BY status",
    )
    assert len(districts) == 13 and {r["status"] for r in status} <= {"on_time", "late"}

    # JSON: the figures themselves
    for column, _ in TABLE_COLUMNS + [("new_cases_prev_7d", None), ("communes_reported", None)]:
        assert figures["province"][column] == pytest.approx(province[column]), column
    assert figures["province"]["change_7d"] == province["new_cases_7d"] - province["new_cases_prev_7d"]
    for shown, row in zip(figures["districts"], districts, strict=True):
        assert shown["district_code"] == row["district_code"]
        assert [shown[c] for c, _ in TABLE_COLUMNS] == pytest.approx([row[c] for c, _ in TABLE_COLUMNS])
    assert {r["level"] for r in levels} == {1}, "the demo day is level 1 everywhere"
    assert figures["provisional"] is False and figures["reporting"]["missing_or_rejected"] == []

    # HTML: the district table, cell by cell, and the province total row
    rows = {r[0]: r for r in table_rows(out["html"]) if len(r) == FIGURES + 6}
    for row in districts:
        assert rows[row["district_name"]][1 : FIGURES + 1] == expected_cells(row), row["district_name"]
        assert rows[row["district_name"]][FIGURES + 1].startswith("Cấp 1 · xanh")
    assert rows["Toàn tỉnh"][1 : FIGURES + 1] == expected_cells(province)
    level_counts = [rows[row["district_name"]][FIGURES + 2 :] for row in districts]
    assert sum(int(r[0]) for r in level_counts) == 177 and all(r[1:] == ["0", "0", "0"] for r in level_counts)
    assert rows["Toàn tỉnh"][FIGURES + 2 :] == ["177", "0", "0", "0"]
    assert "Số liệu tính đến 17:00 ngày 19/10/2021." in out["html"]
    assert "Tất cả 13 đơn vị đã gửi báo cáo đúng hạn" in out["html"]
    assert "tạm thời" not in out["html"].lower()

    # PDF: the same rows survive layout, with every diacritic
    text = pdf_text(out["paths"]["pdf"])
    lines = text.splitlines()
    for row in districts + [dict(province, district_name="Toàn tỉnh")]:
        line = next(line for line in lines if line.strip().startswith(row["district_name"] + " "))
        tokens = line.strip()[len(row["district_name"]) :].split()
        assert tokens[:FIGURES] == expected_cells(row), line
    assert "Số liệu tính đến 17:00 ngày 19/10/2021" in text
    assert "Bản tin tình hình dịch COVID-19 ngày 19/10/2021" in text
    assert "chưa gửi báo cáo" not in text and "tạm thời" not in text.lower()


def test_withheld_districts_make_a_provisional_bulletin_then_a_late_file_makes_v2(bulletin_settings, drop_withheld):
    first = render(bulletin_settings, run_id="deadline-run")
    s1 = first["doc"]["figures"]
    assert first["doc"]["version"] == 1 and s1["provisional"] is True
    assert sorted(s1["reporting"]["missing_or_rejected"]) == sorted(WITHHELD.values())
    for name in WITHHELD.values():
        assert f"{name}: chưa gửi báo cáo" in first["html"]
    banner = "Số liệu tạm thời:</strong> chưa có báo cáo hợp lệ của "
    assert banner in first["html"]
    pdf1 = pdf_text(first["paths"]["pdf"])
    assert "Số liệu tạm thời: chưa có báo cáo hợp lệ của" in " ".join(pdf1.split())
    # the province figures are the sum of what was accepted, not a guess for the missing ones
    accepted = marts(
        bulletin_settings,
        "SELECT sum(new_cases) AS n, sum(tests_performed) AS t FROM marts.district_daily WHERE report_date = ?",
    )[0]
    assert s1["province"]["tests_performed"] == accepted["t"]
    assert s1["province"]["communes_reported"] < s1["province"]["communes_expected"]

    # a rerun with nothing new keeps v1
    assert pipeline.render(bulletin_settings, REPORT_DATE)["reused"] == "True"

    late_code, late_name = next(iter(WITHHELD.items()))
    drop_withheld(bulletin_settings, late_code, datetime(2021, 10, 19, 19, 10))
    load(bulletin_settings)
    second = render(bulletin_settings, run_id="late-run")
    s2, doc2 = second["doc"]["figures"], second["doc"]
    assert doc2["version"] == 2 and doc2["run_id"] == "late-run"
    assert s2["reporting"]["missing_or_rejected"] == [WITHHELD[205]]
    assert f"Đã nhận báo cáo của {late_name}" in doc2["changes_from_previous"]
    assert any(c.startswith("Số mẫu xét nghiệm toàn tỉnh: ") for c in doc2["changes_from_previous"])
    assert f"{late_name}: gửi muộn (lúc 19:10 ngày 19/10/2021, sau 17:00)" in second["html"]
    # the as-of time is true for each version: v2 includes a file received at 19:10
    assert "Số liệu tính đến 17:00 ngày 19/10/2021." in first["html"]
    assert "Số liệu tính đến 19:10 ngày 19/10/2021 (gồm báo cáo gửi muộn sau 17:00)" in second["html"]
    assert s2["as_of"] == {"at": "2021-10-19T19:10", "includes_late_files": True}
    assert "Thay đổi so với phiên bản 1" in second["html"]
    # v1 is untouched; `latest` points at v2
    folder = bulletin_settings.bulletins / REPORT_DATE.isoformat()
    assert json.loads((folder / "v1" / "bulletin.json").read_text(encoding="utf-8")) == first["doc"]
    assert (folder / "v1" / "bulletin.pdf").read_bytes()[:4] == b"%PDF"
    assert (folder / "latest").resolve() == (folder / "v2").resolve()


def test_untrusted_notes_are_shown_as_text_in_html_and_pdf(bulletin_settings):
    hostile = '<script>alert("x")</script> =HYPERLINK("http://evil.example","bấm vào đây")'
    with store.writer(bulletin_settings) as con:  # a note as it would sit in the marts after intake
        con.execute(
            "UPDATE marts.commune_daily SET notes = ? WHERE report_date = ? AND commune_code = "
            "(SELECT min(commune_code) FROM marts.commune_daily WHERE report_date = ?)",
            [hostile, REPORT_DATE, REPORT_DATE],
        )
    out = render(bulletin_settings)
    assert "<script>" not in out["html"]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; =HYPERLINK(" in out["html"]
    assert any(n["note"] == hostile for n in out["doc"]["figures"]["notes"])
    text = "".join(pdf_text(out["paths"]["pdf"]).split())  # the note wraps over two lines
    assert "".join(hostile.split()) in text


def test_a_resubmission_for_an_earlier_day_is_listed_apart_as_a_correction(bantin_settings_with_correction):
    settings, before, commune_name = bantin_settings_with_correction
    after = render(settings, pdf=False)
    corrections = after["doc"]["figures"]["corrections"]
    assert [
        (
            c["report_date"],
            c["district_name"],
            c["commune_name"],
            c["metric"],
            c["old_value"],
            c["new_value"],
            c["delta"],
        )
        for c in corrections
    ] == [("2021-10-17", "Thành phố Hạ Long", commune_name, "new_cases", 0, 2, 2)]
    rows = [r for r in table_rows(after["html"]) if r[:1] == ["17/10/2021"]]
    assert rows == [["17/10/2021", "Thành phố Hạ Long", commune_name, "Ca mắc mới", "0", "2", "+2"]]
    # today's figures do not absorb it
    assert after["doc"]["figures"]["province"]["new_cases"] == before["doc"]["figures"]["province"]["new_cases"]
    assert after["doc"]["version"] == 2 and any("Điều chỉnh" in c for c in after["doc"]["changes_from_previous"])


@pytest.fixture
def bantin_settings_with_correction(bulletin_settings):
    """v1 rendered; then Hạ Long resends its 17/10 file on the morning of the 19th with 2 more cases in one commune."""

    from bantin.submission_files import write_csv
    from bantin.submission_format import COLUMN_NAMES

    before = render(bulletin_settings, pdf=False)
    assert before["doc"]["figures"]["corrections"] == []
    assert "Không có điều chỉnh số liệu của các ngày trước." in before["html"]
    with store.writer(bulletin_settings) as con:
        rows = con.execute(
            f"SELECT {', '.join('r.' + c for c in COLUMN_NAMES)} FROM raw.submission_row r "
            "JOIN ops.submission s USING (submission_id) WHERE s.status = 'accepted' AND s.district_code = 193 "
            "AND s.report_date = DATE '2021-10-17' ORDER BY r.source_row"
        ).fetchall()
    rows = [dict(zip(COLUMN_NAMES, r, strict=True)) for r in rows]
    target = next(r for r in rows if r["new_cases"] == 0)
    target["new_cases"] = 2
    path = bulletin_settings.landing / "193" / "Ha Long 17-10 (sua lai).csv"
    write_csv(rows, path)
    receive(bulletin_settings, path, datetime(2021, 10, 19, 9, 0))  # 09:00 in Hanoi
    load(bulletin_settings)
    return bulletin_settings, before, target["commune_name"]


def test_the_warehouse_is_free_while_the_pdf_is_made(bulletin_settings):
    """WeasyPrint takes seconds: the render stage reads the figures, lets the writer lock go, then makes the PDF."""
    settings = bulletin_settings
    partial = settings.bulletins / REPORT_DATE.isoformat() / ".v1.partial"
    rendering = threading.Thread(target=pipeline.render, args=(settings, REPORT_DATE))
    rendering.start()
    while rendering.is_alive() and not (partial / "bulletin.json").exists():  # HTML and JSON written: PDF next
        time.sleep(0.005)
    free_during_pdf = store.writer_is_free(settings)
    rendering.join()
    assert (settings.bulletins / REPORT_DATE.isoformat() / "v1" / "bulletin.pdf").exists()
    assert free_during_pdf


def test_vietnamese_number_date_and_time_formats():
    from bantin.render import signed, vn_date, vn_dec, vn_time

    assert (vn_int(1234), vn_int(1234567), vn_int(None), vn_dec(3.14159), vn_pct(0.6834, 1)) == (
        "1.234",
        "1.234.567",
        "–",
        "3,1",
        "68,3%",
    )
    assert (vn_date(date(2021, 10, 19)), vn_date("2021-10-19T17:00:00"), vn_time("2021-10-19T17:00:00")) == (
        "19/10/2021",
        "19/10/2021",
        "17:00",
    )
    assert (signed(12), signed(-1234), signed(0)) == ("+12", "-1.234", "0")
