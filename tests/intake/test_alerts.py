"""The urgent new-F0 alert: who counts as new, what is sent, and never twice (real SMTP server)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bantin import pipeline, store
from bantin.config import load_settings
from intake.conftest import district_rows, smtp_env

DAY = date(2021, 10, 19)


def community(n: int) -> dict:
    return {"new_cases": n, "new_cases_community": n, "tests_performed": n, "tests_positive": n, "in_treatment": n}


def test_new_f0_after_14_quiet_days_is_alerted_once(settings, drop, smtp_server, monkeypatch):
    for name, value in smtp_env(smtp_server.port).items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    # 7192 had a community case 10 days ago (not new); 7195 had one 15 days ago (quiet for 14: new);
    # 7198 reports community cases only in a file that is rejected (not known to be right: no alert).
    drop(207, "d-15.csv", district_rows(207, DAY - timedelta(days=15), c7195=community(1)), datetime(2021, 10, 4, 9))
    drop(207, "d-10.csv", district_rows(207, DAY - timedelta(days=10), c7192=community(1)), datetime(2021, 10, 9, 9))
    pipeline.collect(settings)
    pipeline.validate(settings)
    # (those old days are outside the news window: they are never alerted themselves)
    today = district_rows(207, DAY, c7192=community(2), c7195=community(3))
    drop(207, "today.csv", today, datetime(2021, 10, 19, 10))
    bad = district_rows(207, DAY, c7198=community(4), c7195={"deaths": "?"})
    drop(207, "today-broken.csv", bad, datetime(2021, 10, 19, 11))
    pipeline.collect(settings)
    pipeline.validate(settings)

    lock_free_while_sending = []
    smtp_server.on_data = lambda: lock_free_while_sending.append(store.writer_is_free(settings))
    first = pipeline.alert_new_f0(settings)
    assert (first["new_f0_communes"], first["sent"]) == (1, True)
    assert lock_free_while_sending == [True]  # a collection never waits behind the mail server
    assert len(smtp_server.messages) == 1
    recipients, message = smtp_server.messages[0]["to"], smtp_server.messages[0]["message"]
    assert sorted(recipients) == ["bcd@quangninh.test", "sub@soyte.test"]
    assert "Xã Đồng Tiến" in message["Subject"] and "Thị trấn Cô Tô" not in message["Subject"]
    assert "3 ca mắc mới trong cộng đồng ngày 19/10/2021" in smtp_server.messages[0]["body"]
    outbox = list((settings.outbox / "alerts").rglob("*.txt"))
    assert len(outbox) == 1 and "Subject: [KHẨN]" in outbox[0].read_text(encoding="utf-8")

    # a rerun, and a correction raising the same commune's figure, do not alert again
    assert pipeline.alert_new_f0(settings)["new_f0_communes"] == 0
    drop(
        207, "today-v2.csv", district_rows(207, DAY, c7192=community(2), c7195=community(5)), datetime(2021, 10, 19, 12)
    )
    pipeline.collect(settings)
    pipeline.validate(settings)
    assert pipeline.alert_new_f0(settings)["new_f0_communes"] == 0
    assert len(smtp_server.messages) == 1


def test_without_recipients_the_alert_stays_in_the_outbox(settings, drop, caplog):
    drop(207, "today.csv", district_rows(207, DAY, c7198=community(1)), datetime(2021, 10, 19, 10))
    pipeline.collect(settings)
    pipeline.validate(settings)
    stats = pipeline.alert_new_f0(settings)
    assert (stats["new_f0_communes"], stats["sent"]) == (1, False)
    assert "BANTIN_ALERT_TO is empty" in caplog.text
    saved = next((settings.outbox / "alerts").rglob("*.txt")).read_text(encoding="utf-8")
    assert "Xã Thanh Lân" in saved and "1 ca mắc mới trong cộng đồng" in saved
    with store.reader(settings.warehouse_path) as con:
        assert con.execute("SELECT commune_code, sent FROM ops.f0_alert").fetchall() == [(7198, False)]


def test_a_whole_day_run_in_one_process_alerts_as_the_dag_does(settings, drop):
    """`bantin run` / `run_day` is the DAG's stages in one process: the alert stage included."""
    drop(207, "today.csv", district_rows(207, DAY, c7198=community(1)), datetime(2021, 10, 19, 10))
    summary = pipeline.run_day(settings, DAY, bulletin=False)
    assert summary["alert_new_f0"]["new_f0_communes"] == 1
    with store.reader(settings.warehouse_path) as con:
        assert con.execute("SELECT report_date, commune_code FROM ops.f0_alert").fetchall() == [(DAY, 7198)]
        stages = [s for (s,) in con.execute("SELECT stage FROM ops.pipeline_run ORDER BY started_at").fetchall()]
    assert stages == ["collect", "validate", "alert_new_f0", "build_marts", "publish_snapshot"]
