"""The district daily submission format, contract v1 (docs/spec/submission-format.md).

One list of columns that intake, validation, the demo-data generator, the XLSX
template and the warehouse all read, so a column is defined exactly once.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


# kind: "id" (identifies the row), "daily" (happened on the report date),
# "stock" (state at the end of the day), "cumulative" (running total), "text".
# `description` is the column's meaning in English, as the warehouse and the data dictionary describe it.
@dataclass(frozen=True)
class Column:
    name: str
    header_vi: str
    type: str  # "date" | "integer" | "text"
    kind: str
    description: str
    required: bool = True


# Every consumer reads this list: intake, the GX suites' per-column rules, the warehouse's raw table and its
# column comments, the SQL models, the bulletin's corrections and changes, the demo data, the XLSX template.
# tests/test_one_list_of_metrics.py fails when one of them misses a count column.
COLUMNS: tuple[Column, ...] = (
    Column(
        "report_date",
        "Ngày báo cáo",
        "date",
        "id",
        "Report date the row is for, as the district wrote it (NULL when unreadable)",
    ),
    Column("district_code", "Mã huyện", "integer", "id", "GSO district code written in the row"),
    Column("commune_code", "Mã xã", "integer", "id", "GSO commune code"),
    Column(
        "commune_name", "Tên xã", "text", "text", "Commune name as written by the district (optional)", required=False
    ),
    Column("new_cases", "Ca mắc mới", "integer", "daily", "New cases on the report date"),
    Column(
        "new_cases_community",
        "Ca mắc mới trong cộng đồng",
        "integer",
        "daily",
        "Of which found in the community (outside quarantine)",
    ),
    Column("f1_traced", "F1 truy vết mới", "integer", "daily", "New F1 contacts traced on the report date"),
    Column("tests_performed", "Số mẫu xét nghiệm", "integer", "daily", "Samples tested on the report date"),
    Column("tests_positive", "Số mẫu dương tính", "integer", "daily", "Positive samples on the report date"),
    Column("recovered", "Khỏi bệnh", "integer", "daily", "Patients recovered on the report date"),
    Column("deaths", "Tử vong", "integer", "daily", "Deaths on the report date"),
    Column("in_treatment", "Đang điều trị", "integer", "stock", "Patients in treatment at the end of the day"),
    Column("severe", "Ca nặng", "integer", "stock", "Of which severe, at the end of the day"),
    Column(
        "quarantine_centralized",
        "Cách ly tập trung",
        "integer",
        "stock",
        "People in centralised quarantine at the end of the day",
    ),
    Column("quarantine_home", "Cách ly tại nhà", "integer", "stock", "People in home quarantine at the end of the day"),
    Column(
        "returnees",
        "Người về từ vùng dịch",
        "integer",
        "daily",
        "People arrived from epidemic areas on the report date",
    ),
    Column(
        "vaccinated_18plus_dose1",
        "Người từ 18 tuổi tiêm ít nhất 1 mũi",
        "integer",
        "cumulative",
        "People aged 18+ with at least one dose, cumulative",
    ),
    Column(
        "vaccinated_18plus_full",
        "Người từ 18 tuổi tiêm đủ liều",
        "integer",
        "cumulative",
        "People aged 18+ fully vaccinated, cumulative",
    ),
    Column(
        "vaccinated_65plus_full",
        "Người từ 65 tuổi tiêm đủ liều",
        "integer",
        "cumulative",
        "People aged 65+ fully vaccinated, cumulative",
    ),
    # Optional: only provinces whose rule set takes 50+ as the elderly group need it (docs/spec/epidemic-levels.md).
    Column(
        "vaccinated_50plus_full",
        "Người từ 50 tuổi tiêm đủ liều",
        "integer",
        "cumulative",
        "People aged 50+ fully vaccinated, cumulative (optional column)",
        required=False,
    ),
    Column(
        "mobile_medical_stations",
        "Trạm y tế lưu động",
        "integer",
        "stock",
        "Mobile medical stations operating at the end of the day",
    ),
    Column("notes", "Ghi chú", "text", "text", "Free-text notes from the district (optional)", required=False),
)

COLUMN_BY_NAME = {c.name: c for c in COLUMNS}
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
# Count columns: whole numbers >= 0, never empty unless the column is optional (`required=False`).
COUNT_COLUMNS = tuple(c.name for c in COLUMNS if c.type == "integer" and c.kind != "id")
CUMULATIVE_COLUMNS = tuple(c.name for c in COLUMNS if c.kind == "cumulative")

# Labels of a totals row at the bottom of the provincial template.
TOTALS_LABELS = ("tổng", "tổng cộng", "cộng")

SHEET_NAME = "BaoCao"


def normalise_header(text: object) -> str:
    """Header comparison key: NFC, case-folded, inner whitespace collapsed."""
    folded = unicodedata.normalize("NFC", str(text or "")).casefold()
    return " ".join(folded.replace("_", " ").split())


# Both the machine name and the Vietnamese header resolve to the machine name.
HEADER_LOOKUP: dict[str, str] = {}
for _c in COLUMNS:
    HEADER_LOOKUP[normalise_header(_c.name)] = _c.name
    HEADER_LOOKUP[normalise_header(_c.header_vi)] = _c.name
