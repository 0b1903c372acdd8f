"""The Director's sign-off from a terminal (`bantin levels`), and what the bulletin shows of it.

The same bantin.signoff code records the decisions of the DAG's human-in-the-loop
task (tested on a running Airflow in tests/operations/test_signoff_distributed.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bantin import cli, pipeline, signoff, store

from .conftest import REPORT_DATE
from .test_bulletin import render

DAY = REPORT_DATE.isoformat()


def _declared(settings) -> dict:
    with store.reader(settings.warehouse_path) as con:
        rows = con.execute(
            "SELECT unit_type, unit_code, computed_level, declared_level, status, decided_by, "
            "decision_reason, channel FROM marts.level_signoff WHERE report_date = ? "
            "AND unit_type <> 'commune'",
            [REPORT_DATE],
        ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def test_provisional_then_an_override_then_an_approval_each_make_a_version(bulletin_settings, capsys):
    first = render(bulletin_settings, run_id="deadline-run", pdf=False)
    s1 = first["doc"]["figures"]
    assert s1["signoff"] == {"status": "provisional", "label": "cấp độ đề xuất, chưa phê duyệt"}
    assert s1["province"]["level"]["declared_level"] is None and s1["province"]["level"]["computed_level"] == 1
    assert "Cấp độ đề xuất, chưa phê duyệt:" in first["html"]

    # the Director declares the province at level 2 and Hạ Long at 2, with a reason
    assert (
        cli.main(
            [
                "levels",
                "override",
                "--date",
                DAY,
                "--by",
                "Giám đốc Sở Y tế",
                "--reason",
                "Ổ dịch mới chưa vào số liệu",
                "--set",
                "tỉnh=2",
                "--set",
                "huyện 193=2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "overridden" in out and "province 22: 1 → 2" in out and "bulletin:" in out
    declared = _declared(bulletin_settings)
    assert declared[("province", 22)] == (1, 2, "overridden", "Giám đốc Sở Y tế", "Ổ dịch mới chưa vào số liệu", "cli")
    assert declared[("district", 193)][:3] == (1, 2, "overridden")
    assert declared[("district", 194)][:3] == (1, 1, "approved")  # the rest as computed

    folder = bulletin_settings.bulletins / DAY
    second = json.loads((folder / "v2" / "bulletin.json").read_text(encoding="utf-8"))
    s2 = second["figures"]
    assert s2["signoff"]["status"] == "overridden" and s2["signoff"]["decided_by"] == "Giám đốc Sở Y tế"
    province = s2["province"]["level"]
    assert (province["level"], province["declared_level"], province["computed_level"], province["differs"]) == (
        2,
        2,
        1,
        True,
    )
    assert province["colour_vi"] == "vàng" and province["signoff"]["reason"] == "Ổ dịch mới chưa vào số liệu"
    changes = second["changes_from_previous"]
    assert changes[0] == "Cấp độ công bố toàn tỉnh: chưa phê duyệt → 2"  # the province first
    assert "Cấp độ công bố Thành phố Hạ Long: chưa phê duyệt → 2" in changes
    assert any(c.startswith("Lãnh đạo Sở: công bố cấp độ khác cấp độ đề xuất (Giám đốc Sở Y tế") for c in changes)
    html = (folder / "v2" / "bulletin.html").read_text(encoding="utf-8")
    assert "Cấp 2 · vàng" in html and "(đề xuất: cấp 1)" in html
    assert "Toàn tỉnh: công bố cấp 2, đề xuất cấp 1 — lý do: Ổ dịch mới chưa vào số liệu." in html
    assert "chưa phê duyệt:" not in html
    assert (folder / "v2" / "bulletin.pdf").read_bytes()[:4] == b"%PDF"

    # a later approval of the computed levels supersedes the override: v3
    assert cli.main(["levels", "approve", "--date", DAY, "--by", "Giám đốc Sở Y tế"]) == 0
    third = json.loads((folder / "v3" / "bulletin.json").read_text(encoding="utf-8"))
    assert third["figures"]["signoff"]["status"] == "approved"
    assert third["changes_from_previous"][0] == "Cấp độ công bố toàn tỉnh: 2 → 1"
    assert _declared(bulletin_settings)[("province", 22)][:3] == (1, 1, "approved")
    with store.reader(bulletin_settings.warehouse_path) as con:  # both decisions kept
        assert con.execute("SELECT count(DISTINCT decided_at) FROM ops.level_decision").fetchone()[0] >= 1
        assert con.execute("SELECT count(*) FROM ops.level_decision WHERE unit_type = 'province'").fetchone()[0] == 2
    # and the analysts' snapshot has them
    with store.reader(bulletin_settings.analytics_path) as con:
        assert con.execute(
            "SELECT declared_level, status FROM marts.level_signoff WHERE unit_type = 'province' AND report_date = ?",
            [REPORT_DATE],
        ).fetchone() == (1, "approved")


def test_levels_show_never_waits_for_the_writer(bulletin_settings, capsys):
    """`bantin levels show` reads the live file when it is free, and the snapshot (saying so) while a run
    holds the writer, instead of queueing behind the run for up to BANTIN_LOCK_WAIT_S."""
    assert cli.main(["levels", "show", "--date", DAY]) == 0
    live = capsys.readouterr().out
    assert "Quảng Ninh (province 22): đề xuất/computed 1, công bố/declared – [provisional]" in live
    assert "bản sao" not in live

    def loading(command: list[str]):
        """Runs `command` while another process has the warehouse open for writing (a DAG run loading)."""
        holding = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys\nfrom bantin import config, store\n"
                "with store.writer(config.load_settings()):\n    print('held', flush=True); sys.stdin.read()",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        try:
            assert holding.stdout.readline().strip() == "held"
            return cli.main(command)
        finally:
            holding.communicate("")

    assert not bulletin_settings.analytics_path.exists()
    assert loading(["levels", "show", "--date", DAY]) == 2
    assert "Kho dữ liệu đang được ghi, chưa có bản sao" in capsys.readouterr().err

    pipeline.publish(bulletin_settings, run_id="test")
    assert loading(["levels", "show", "--date", DAY]) == 0
    from_snapshot = capsys.readouterr().out
    assert from_snapshot.startswith("(Kho dữ liệu đang được ghi: số liệu theo bản sao lúc ")
    assert "Quảng Ninh (province 22): đề xuất/computed 1" in from_snapshot
    assert cli.main(["levels", "show", "--date", "2021-10-01"]) == 0
    assert "Chưa có cấp độ ngày 01/10/2021" in capsys.readouterr().out


def test_an_answer_in_airflow_that_cannot_be_recorded_is_mailed_to_the_operators(
    bulletin_settings, smtp_server, monkeypatch
):
    """The director_signoff task's answer (signoff.record_answer, what DirectorSignoff.execute_complete calls):
    an override with the levels box left empty cannot be recorded; the bulletin goes out provisional, and the
    operators get a mail saying so, with the command that records the decision."""
    from datetime import UTC, datetime

    from bantin.config import load_settings

    monkeypatch.setenv("BANTIN_ALERT_TO", "truc-ban@soyte.quangninh.example")
    settings = load_settings()
    answered = datetime(2021, 10, 19, 11, 30, tzinfo=UTC)  # 18:30 local
    outcome = signoff.record_answer(
        settings,
        REPORT_DATE,
        chosen=signoff.OVERRIDE_OPTION,
        params={"dieu_chinh": "", "ly_do": "Ổ dịch mới", "nguoi_quyet_dinh": "Giám đốc Sở Y tế"},
        user={"id": "director", "name": "director"},
        responded_at=answered,
    )
    assert outcome["status"] == signoff.PROVISIONAL and outcome["operators_told"] is True
    assert outcome["error_vi"] == "Chọn công bố cấp khác nhưng ô Điều chỉnh để trống."
    assert all(v[2] == "provisional" for v in _declared(settings).values())  # nothing recorded
    [mail] = smtp_server.messages
    assert mail["to"] == ["truc-ban@soyte.quangninh.example"]
    assert mail["message"]["Subject"] == (
        "[bantin] Quyết định cấp độ ngày 19/10/2021 chưa được ghi / sign-off of 2021-10-19 not recorded"
    )
    body = mail["body"]
    assert "Câu trả lời của Giám đốc Sở Y tế lúc 18:30 19/10/2021" in body
    assert "Chọn công bố cấp khác nhưng ô Điều chỉnh để trống." in body and "Override chosen but no unit level" in body
    assert 'bantin levels override --date 2021-10-19 --by "Giám đốc Sở Y tế"' in body

    # the same answer with the levels filled in is recorded, through the Airflow channel, and mails no one
    outcome = signoff.record_answer(
        settings,
        REPORT_DATE,
        chosen=signoff.OVERRIDE_OPTION,
        params={"dieu_chinh": "tỉnh=2", "ly_do": "Ổ dịch mới", "nguoi_quyet_dinh": "Giám đốc Sở Y tế"},
        user={"id": "director"},
        responded_at=answered,
    )
    assert outcome["status"] == signoff.OVERRIDDEN and "operators_told" not in outcome
    assert _declared(settings)[("province", 22)] == (
        1,
        2,
        "overridden",
        "Giám đốc Sở Y tế",
        "Ổ dịch mới",
        "airflow_hitl",
    )
    assert len(smtp_server.messages) == 1
    # no answer by the sign-off time: the scheduler's default, nothing to record or tell
    late = signoff.record_answer(
        settings, REPORT_DATE, chosen=signoff.LATER_OPTION, params={}, user={}, responded_at=None
    )
    assert late == {
        "report_date": DAY,
        "waited": True,
        "chosen": signoff.LATER_OPTION,
        "status": "provisional",
        "why": "timed out",
    }


def test_a_bad_decision_is_refused_in_both_languages_and_records_nothing(bulletin_settings, capsys):
    assert cli.main(["levels", "override", "--date", DAY, "--by", "GĐ", "--set", "tỉnh=3"]) == 2
    assert "phải ghi lý do" in capsys.readouterr().err
    assert cli.main(["levels", "override", "--date", DAY, "--by", "GĐ", "--reason", "x", "--set", "huyện=3"]) == 2
    assert "Không hiểu" in capsys.readouterr().err
    assert cli.main(["levels", "override", "--date", DAY, "--by", "GĐ", "--reason", "x", "--set", "huyện 9999=3"]) == 2
    assert "No unit district 9999" in capsys.readouterr().err
    assert all(v[2] == "provisional" for v in _declared(bulletin_settings).values())


def test_overrides_are_read_as_a_director_writes_them():
    assert signoff.parse_overrides("tỉnh=2; huyện 193=3\nxã 6655 = 2, district:205=1", 22) == {
        ("province", 22): 2,
        ("district", 193): 3,
        ("commune", 6655): 2,
        ("district", 205): 1,
    }
    assert signoff.parse_overrides("", 22) == {}


def test_the_change_list_tells_level_declared_and_rule_set_changes_province_first():
    from bantin.bulletin import _changes

    def figures(province: tuple, district: tuple, commune: tuple | None, status: str, rule_version: int) -> dict:
        def level(computed, declared):
            return {"level": declared or computed, "computed_level": computed, "declared_level": declared}

        return {
            "reporting": {"missing_or_rejected": []},
            "corrections": [],
            "province": {"level": level(*province)},
            "districts": [
                {"district_code": 193, "district_name": "Thành phố Hạ Long", "new_cases": 0, "level": level(*district)}
            ],
            "communes_at_level_2_or_above": []
            if commune is None
            else [
                {
                    "commune_code": 6655,
                    "commune_name": "Phường Hà Khánh",
                    "level": commune[1] or commune[0],
                    "computed_level": commune[0],
                    "declared_level": commune[1],
                }
            ],
            "signoff": {
                "status": status,
                "decided_by": "GĐ" if status != "provisional" else None,
                "decided_at": "2021-10-19T18:30:00",
            },
            "rule_set": {"rule_set_id": "4800/QĐ-BYT", "version": rule_version},
        }

    old = figures((1, None), (1, None), None, "provisional", 1)
    new = figures((2, 2), (2, 3), (2, None), "overridden", 2)
    assert _changes(old, new) == [
        "Cấp độ đề xuất toàn tỉnh: 1 → 2",
        "Cấp độ công bố toàn tỉnh: chưa phê duyệt → 2",
        "Cấp độ đề xuất Thành phố Hạ Long: 1 → 2",
        "Cấp độ công bố Thành phố Hạ Long: chưa phê duyệt → 3",
        "Cấp độ đề xuất Phường Hà Khánh: 1 → 2",
        "Lãnh đạo Sở: công bố cấp độ khác cấp độ đề xuất (GĐ, 18:30 19/10/2021)",
        "Bộ tiêu chí đánh giá: 4800/QĐ-BYT v1 → 4800/QĐ-BYT v2",
    ]


def test_the_wait_for_the_director_ends_at_the_signoff_time_or_the_deadline_warning_if_earlier(bulletin_settings):
    from dataclasses import replace
    from datetime import date, datetime, time, timedelta

    tz = bulletin_settings.timezone
    day = date(2021, 10, 19)
    noon = datetime(2021, 10, 19, 12, 0, tzinfo=tz)
    usual = replace(bulletin_settings, cutoff=time(17), deadline=time(20), signoff_by=time(19))
    assert signoff.wait_for(usual, day, noon) == timedelta(hours=7)  # until 19:00
    # a deadline moved to 18:00: the operators are warned at 17:30, and the wait ends there
    early = replace(usual, deadline=time(18))
    assert signoff.wait_for(early, day, noon) == timedelta(hours=5, minutes=30)
    assert signoff.wait_for(early, day, datetime(2021, 10, 19, 17, 45, tzinfo=tz)) <= timedelta(0)
    assert signoff.wait_for(early, day, noon, wait_minutes=20) == timedelta(minutes=20)  # the run's own bound


def test_a_commune_declared_at_another_level_is_in_the_next_versions_change_list(bulletin_settings, capsys):
    render(bulletin_settings, run_id="deadline-run", pdf=False)
    with store.reader(bulletin_settings.warehouse_path) as con:
        code, name = con.execute(
            "SELECT unit_code, unit_name FROM marts.epidemic_level WHERE report_date = ? AND unit_type = 'commune' "
            "AND level = 1 ORDER BY unit_code LIMIT 1",
            [REPORT_DATE],
        ).fetchone()
    argv = ["levels", "override", "--date", DAY, "--by", "GĐ", "--reason", "Ổ dịch mới", "--set", f"xã {code}=2"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    second = json.loads((bulletin_settings.bulletins / DAY / "v2" / "bulletin.json").read_text(encoding="utf-8"))
    assert f"Cấp độ công bố {name}: chưa phê duyệt → 2" in second["changes_from_previous"]
    above = {c["commune_code"]: c for c in second["figures"]["communes_at_level_2_or_above"]}
    assert (above[code]["computed_level"], above[code]["declared_level"]) == (1, 2)
