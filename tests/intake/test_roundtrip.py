"""Property: any valid table, written in any supported encoding, separator, header style, date style,
thousands mark or XLSX shape (by the project's own writers), reads back identical.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings, strategies as st

from bantin import intake, reference
from bantin.submission_files import DATE_STYLES, ENCODINGS, HEADER_STYLES, SEPARATORS, write_csv, write_xlsx
from bantin.submission_format import COUNT_COLUMNS

DISTRICT = 193  # Thành phố Hạ Long: 32 communes, names with every Vietnamese tone
COMMUNES = reference.communes(district_code=DISTRICT, on=date(2021, 10, 19))
AS_OF = date(2021, 10, 19)

# Vietnamese text a clerk may type in notes: letters cp1258 must compose, punctuation, separators
# and quotes that CSV must escape. No leading/trailing spaces (cells are trimmed) and no control chars.
_NOTE_CHARS = st.sampled_from(
    list("aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯ ,;.\"'-/0123456789")
    + list("áàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")
)
notes = st.one_of(st.just(""), st.text(_NOTE_CHARS, min_size=1, max_size=40).map(str.strip))
counts = st.integers(min_value=0, max_value=2_000_000)


@st.composite
def tables(draw):
    chosen = draw(st.lists(st.sampled_from(COMMUNES), min_size=1, max_size=6, unique_by=lambda c: c.code))
    day = AS_OF - timedelta(days=draw(st.integers(0, 6)))
    rows = []
    for commune in chosen:
        row = {
            "report_date": day,
            "district_code": DISTRICT,
            "commune_code": commune.code,
            "commune_name": commune.name,
            "notes": draw(notes),
        }
        row.update({name: draw(counts) for name in COUNT_COLUMNS})
        rows.append(row)
    return rows


@st.composite
def csv_options(draw):
    separator = draw(st.sampled_from(SEPARATORS))
    marks = [m for m in (False, True, " ") if not (m is True and separator == ".") and m != separator]
    return dict(
        encoding=draw(st.sampled_from(ENCODINGS)),
        separator=separator,
        headers=draw(st.sampled_from(HEADER_STYLES)),
        date_style=draw(st.sampled_from(DATE_STYLES)),
        thousands=draw(st.sampled_from(marks)),
    )


def _read_back(path) -> list[dict]:
    parsed = intake.read_submission(path, DISTRICT, max_bytes=10**7)
    assert not [f for f in parsed.findings if f.severity == "error"], parsed.findings
    return parsed.rows


def _expected(rows: list[dict]) -> list[dict]:
    return [{**r, "notes": r["notes"] or None} for r in rows]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=tables(), options=csv_options())
def test_csv_round_trip(tmp_path, rows, options):
    path = write_csv(rows, tmp_path / "table.csv", **options)
    assert _read_back(path) == _expected(rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=tables(),
    title_rows=st.booleans(),
    totals_row=st.booleans(),
    numbers_as_text=st.booleans(),
    dates_as_text=st.booleans(),
    sheet_name=st.sampled_from(["BaoCao", "Sheet1"]),
)
def test_xlsx_round_trip(tmp_path, rows, title_rows, totals_row, numbers_as_text, dates_as_text, sheet_name):
    path = write_xlsx(
        rows,
        tmp_path / "table.xlsx",
        province_name="Tỉnh Quảng Ninh",
        district_name="Thành phố Hạ Long",
        report_date=rows[0]["report_date"],
        title_rows=title_rows,
        totals_row=totals_row,
        numbers_as_text=numbers_as_text,
        dates_as_text=dates_as_text,
        sheet_name=sheet_name,
    )
    assert _read_back(path) == _expected(rows)
