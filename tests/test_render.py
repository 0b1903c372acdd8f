from datetime import date, datetime

from bantin.render import environment, signed, vn_date, vn_dec, vn_int, vn_pct, vn_time


def test_numbers_are_written_the_vietnamese_way():
    assert vn_int(1234) == "1.234"
    assert vn_int(1234567) == "1.234.567"
    assert vn_int(0) == "0"
    assert vn_dec(3.14159) == "3,1"
    assert vn_dec(12345.678, 2) == "12.345,68"
    assert vn_pct(0.683) == "68%"
    assert vn_pct(0.6834, 1) == "68,3%"
    assert signed(5) == "+5" and signed(-1200) == "-1.200"
    assert vn_int(None) == "–"


def test_dates_and_times():
    assert vn_date(date(2021, 10, 19)) == "19/10/2021"
    assert vn_date("2021-10-19") == "19/10/2021"
    assert vn_time(datetime(2021, 10, 19, 17, 0)) == "17:00"


def test_templates_escape_untrusted_text():
    template = environment().from_string("<p>{{ note }}</p>")
    assert template.render(note="<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_babel_vietnamese_formats_and_validation_messages_use_them():
    from bantin.render import vn_dec, vn_long_date
    from bantin.validation import finding_for

    assert vn_long_date(date(2021, 10, 9)) == "ngày 09 tháng 10 năm 2021"
    assert (vn_dec(9.1), vn_dec(12345.678, 2)) == ("9,1", "12.345,68")
    meta = {
        "severity": "warning",
        "rule": "history.new_cases_spike",
        "blame": "new_cases",
        "message_vi": "Ca mắc mới ({new_cases}) cao hơn {ratio} lần, mức gần đây {level} ca/ngày.",
        "message_en": "New cases ({new_cases}) above {ratio} times, recent level {level} a day.",
    }
    record = {"submission_id": "f", "source_row": 3, "new_cases": 57.0, "level": 9.142857}
    _, finding = finding_for(record, meta, {"ratio": 5.5})
    assert finding.message_vi == "Ca mắc mới (57) cao hơn 5,5 lần, mức gần đây 9,1 ca/ngày."
    assert finding.message_en == "New cases (57) above 5.5 times, recent level 9.1 a day."
