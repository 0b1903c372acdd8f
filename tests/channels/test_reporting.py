"""Reminders before the cutoff and the live reporting board, from the real ledger, mailed through aiosmtpd."""

from __future__ import annotations

import json

from bantin import pipeline, reporting

from .conftest import DAY, HA_LONG, MONG_CAI, at, report_csv, write_senders
from conftest import receive

CAM_PHA, UONG_BI = 195, 196


def _drop(settings, district, name, received, **figures):
    inbox = settings.landing / str(district)
    inbox.mkdir(parents=True, exist_ok=True)
    report_csv(inbox / name, district, **figures)
    receive(settings, inbox / name, received)


def _day_so_far(settings):
    """Hạ Long on time, Móng Cái rejected, Cẩm Phả received twice (superseded), Uông Bí late-by-proxy later."""
    from bantin import reference

    _drop(settings, HA_LONG, "hl.csv", at(9))
    first = reference.communes(district_code=MONG_CAI, on=DAY)[0].code
    _drop(settings, MONG_CAI, "mc.csv", at(10), **{f"c{first}": {"new_cases": -1}})
    _drop(settings, CAM_PHA, "cp1.csv", at(11))
    _drop(
        settings,
        CAM_PHA,
        "cp2.csv",
        at(12),
        **{f"c{reference.communes(district_code=CAM_PHA, on=DAY)[0].code}": {"new_cases": 1}},
    )
    pipeline.collect(settings)
    pipeline.validate(settings)


def test_the_reminder_at_1630_goes_to_exactly_the_districts_without_an_accepted_file(channel_env, smtp_server):
    settings = channel_env(alert_to="truc.ban@soyte.example")
    everyone = {d.code: f"vanthu.{d.code}@huyen.example" for d in reporting.reporting_districts(22)}
    write_senders(settings.senders, everyone)
    _day_so_far(settings)

    assert reporting.after_collection(settings, at(16, 10))["reminder"] == "15:00"  # the 15:00 one, late
    first_wave = len(smtp_server.messages)
    smtp_server.messages.clear()
    result = reporting.after_collection(settings, at(16, 30))

    waiting = set(everyone) - {HA_LONG, CAM_PHA}  # Móng Cái rejected: still nothing accepted
    assert set(result["reminded"]) == waiting
    to_districts = [m for m in smtp_server.messages if m["to"] != ["truc.ban@soyte.example"]]
    assert sorted(a for m in to_districts for a in m["to"]) == sorted(everyone[d] for d in waiting)
    [operators] = [m["message"] for m in smtp_server.messages if m["to"] == ["truc.ban@soyte.example"]]
    body = operators.get_body(("plain",)).get_content()
    assert "Thành phố Móng Cái (194): Bị từ chối" in body and "Thành phố Hạ Long" not in body
    assert first_wave == len(waiting) + 1

    smtp_server.messages.clear()
    again = reporting.after_collection(settings, at(16, 45))  # the next run: nothing twice
    assert again["reminded"] == [] and smtp_server.messages == []
    assert reporting.after_collection(settings, at(17, 5))["reminder"] is None  # none after the cutoff


def test_no_reminder_before_the_first_time_and_times_are_configurable(channel_env, smtp_server):
    settings = channel_env(reminders="11:00")
    _day_so_far(settings)
    assert reporting.after_collection(settings, at(10, 45))["reminder"] is None
    result = reporting.after_collection(settings, at(11))
    assert result["reminder"] == "11:00"
    # only districts with a registered address are mailed; the others are on the operators' list
    assert result["reminded"] == [MONG_CAI] and UONG_BI in result["no_address"]


def test_the_board_shows_each_district_with_times_against_cutoff_and_deadline(channel_env):
    settings = channel_env()
    _day_so_far(settings)
    _drop(settings, UONG_BI, "ub.csv", at(17, 40))  # after the cutoff
    pipeline.collect(settings)
    pipeline.validate(settings)

    reporting.after_collection(settings, at(17, 45), remind=False)

    board = json.loads((settings.board / DAY.isoformat() / "status.json").read_text(encoding="utf-8"))
    status = {d["district_code"]: d for d in board["districts"]}
    assert status[HA_LONG]["status"] == "accepted" and status[HA_LONG]["accepted_received_at"].endswith("09:00")
    assert status[MONG_CAI]["status"] == "rejected" and "giá trị -1" in status[MONG_CAI]["why_rejected"][0]
    assert status[CAM_PHA]["status"] == "accepted" and status[CAM_PHA]["superseded"] == 1
    assert status[UONG_BI]["status"] == "late" and status[UONG_BI]["bulletin_status"] == "late"
    assert status[198]["status"] == "missing"
    assert board["cutoff"].startswith("2021-10-19T17:00") and board["deadline"].startswith("2021-10-19T20:00")
    assert board["after_cutoff"]
    assert len(board["districts"]) == len(reporting.reporting_districts(22))
    html = (settings.board / DAY.isoformat() / "status.html").read_text(encoding="utf-8")
    assert "Đã qua giờ chốt" in html and "Bị từ chối" in html and "<script" not in html
