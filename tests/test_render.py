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
