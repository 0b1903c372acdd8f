"""The district daily submission format, contract v1 (docs/spec/submission-format.md).

One list of columns that intake, validation, the demo-data generator, the XLSX
template and the warehouse all read, so a column is defined exactly once.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

CONTRACT_VERSION = 1

# kind: "id" (identifies the row), "daily" (happened on the report date),
# "stock" (state at the end of the day), "cumulative" (running total), "text".
@dataclass(frozen=True)
class Column:
    name: str
    header_vi: str
    type: str  # "date" | "integer" | "text"
    kind: str
    required: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("report_date", "Ngày báo cáo", "date", "id"),
    Column("district_code", "Mã huyện", "integer", "id"),
    Column("commune_code", "Mã xã", "integer", "id"),
    Column("commune_name", "Tên xã", "text", "text", required=False),
    Column("new_cases", "Ca mắc mới", "integer", "daily"),
    Column("new_cases_community", "Ca mắc mới trong cộng đồng", "integer", "daily"),
    Column("f1_traced", "F1 truy vết mới", "integer", "daily"),
    Column("tests_performed", "Số mẫu xét nghiệm", "integer", "daily"),
    Column("tests_positive", "Số mẫu dương tính", "integer", "daily"),
    Column("recovered", "Khỏi bệnh", "integer", "daily"),
    Column("deaths", "Tử vong", "integer", "daily"),
    Column("in_treatment", "Đang điều trị", "integer", "stock"),
    Column("severe", "Ca nặng", "integer", "stock"),
    Column("quarantine_centralized", "Cách ly tập trung", "integer", "stock"),
    Column("quarantine_home", "Cách ly tại nhà", "integer", "stock"),
    Column("returnees", "Người về từ vùng dịch", "integer", "daily"),
    Column("vaccinated_18plus_dose1", "Người từ 18 tuổi tiêm ít nhất 1 mũi", "integer", "cumulative"),
    Column("vaccinated_18plus_full", "Người từ 18 tuổi tiêm đủ liều", "integer", "cumulative"),
    Column("vaccinated_65plus_full", "Người từ 65 tuổi tiêm đủ liều", "integer", "cumulative"),
    # Optional: only provinces whose rule set takes 50+ as the elderly group need it (docs/spec/epidemic-levels.md).
    Column("vaccinated_50plus_full", "Người từ 50 tuổi tiêm đủ liều", "integer", "cumulative", required=False),
    Column("mobile_medical_stations", "Trạm y tế lưu động", "integer", "stock"),
    Column("notes", "Ghi chú", "text", "text", required=False),
)

COLUMN_BY_NAME = {c.name: c for c in COLUMNS}
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
# Count columns: whole numbers >= 0, never empty unless the column is optional (`required=False`).
COUNT_COLUMNS = tuple(c.name for c in COLUMNS if c.type == "integer" and c.kind != "id")
METRIC_COLUMNS = COUNT_COLUMNS
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
