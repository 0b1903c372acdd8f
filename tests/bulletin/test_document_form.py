"""The report's form names the province in its own words: a city's quận and thành phố, a province's huyện."""

from __future__ import annotations

from datetime import date

from bantin import bulletin, config, reference


def _form(code: int) -> dict:
    province = reference.province(code, on=date(2022, 1, 14))
    return bulletin.document_form(
        config.load_settings(), {"province_code": code, "province_name": province.name}, date(2022, 1, 14)
    )


def test_a_centrally_run_city_is_a_thanh_pho_with_quan_huyen_thi_xa():
    form = _form(1)  # Hà Nội
    assert form["scope"] == "toàn thành phố" and form["district_kinds"] == "quận, huyện, thị xã"
    assert form["recipients"] == [
        "Ban Chỉ đạo phòng, chống dịch COVID-19 thành phố",
        "UBND thành phố (b/c)",
        "UBND các quận, huyện, thị xã",
        "Lưu: VT, NVY",
    ]


def test_a_province_keeps_its_huyen_thi_xa_thanh_pho():
    form = _form(22)  # Quảng Ninh
    assert form["scope"] == "toàn tỉnh" and form["district_kinds"] == "huyện, thị xã, thành phố"
    assert form["recipients"][1] == "UBND tỉnh (b/c)"
