"""Delivery through Airflow's SMTP connection to a real SMTP server (aiosmtpd), with the outbox copy."""

from __future__ import annotations

import dataclasses
import json
import smtplib
from datetime import date

import pytest

from bantin import delivery, pipeline, store
from bantin.render import html_to_pdf

REPORT_DATE = date(2021, 10, 19)


@pytest.fixture
def rendered(settings, tmp_path) -> dict:
    """A bulletin version as bantin.bulletin writes it: HTML, a real PDF, the JSON summary."""
    folder = tmp_path / "v2"
    folder.mkdir()
    html = "<html lang='vi'><body><h1>Bản tin COVID-19 tỉnh Quảng Ninh ngày 19/10/2021</h1></body></html>"
    (folder / "bulletin.html").write_text(html, encoding="utf-8")
    html_to_pdf(html, folder / "bulletin.pdf")
    summary = {"version": 2, "figures": {"province": {"province_name": "Quảng Ninh"}, "provisional": True}}
    (folder / "bulletin.json").write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    return {name: folder / f"bulletin.{name}" for name in ("html", "pdf", "json")}


def with_recipients(settings, *addresses):
    return dataclasses.replace(settings, mail_to=addresses)


def test_bulletin_arrives_with_html_body_and_pdf_attachment(settings, rendered, smtp_server):
    settings = with_recipients(settings, "bcd@quangninh.example", "soyte@quangninh.example")
    result = delivery.deliver(settings, REPORT_DATE, rendered)

    assert result["sent"] is True
    [received] = smtp_server.messages
    message = received["message"]
    assert sorted(received["to"]) == ["bcd@quangninh.example", "soyte@quangninh.example"]
    assert received["from"] == "bantin@soyte.quangninh.example"
    assert message["Subject"] == (
        "Bản tin COVID-19 tỉnh Quảng Ninh ngày 19/10/2021 (số liệu tạm thời) – cập nhật lần 1"
    )
    html = message.get_body(("html",)).get_content()
    assert "Bản tin COVID-19 tỉnh Quảng Ninh ngày 19/10/2021" in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "ban-tin-covid19-2021-10-19-v2.pdf"
    assert attachment.get_content()[:5] == b"%PDF-"
    assert attachment.get_content() == rendered["pdf"].read_bytes()

    # the outbox holds the same message, and a rerun does not mail it again
    copy = settings.outbox / "2021-10-19" / "v2.eml"
    assert copy.read_bytes().count(b"Content-Type: application/pdf") == 1
    again = delivery.deliver(settings, REPORT_DATE, rendered)
    assert again["already_sent"] is True and len(smtp_server.messages) == 1


def test_a_refusal_fails_at_once_for_the_task_to_retry_and_keeps_the_outbox_copy(settings, rendered, smtp_server):
    """One retry policy: the task's (growing pauses over minutes); a send is one attempt, not three stacked."""
    smtp_server.refuse_next = 1
    settings = with_recipients(settings, "bcd@quangninh.example")
    with pytest.raises(smtplib.SMTPDataError):
        delivery.deliver(settings, REPORT_DATE, rendered)
    assert smtp_server.messages == [] and smtp_server.refused == 1
    assert (settings.outbox / "2021-10-19" / "v2.eml").exists()
    assert not (settings.outbox / "2021-10-19" / "v2.sent.json").exists()
    again = delivery.deliver(settings, REPORT_DATE, rendered)  # what the task's retry does
    assert again["sent"] is True and len(smtp_server.messages) == 1 and smtp_server.refused == 1


def test_the_task_retry_policy_is_the_only_one():
    from bantin import operations

    assert operations.NETWORK_RETRIES["retries"] >= 3 and operations.NETWORK_RETRIES["retry_exponential_backoff"]
    assert not hasattr(delivery, "SEND_ATTEMPTS")


def test_no_recipients_means_outbox_only(settings, rendered, smtp_server):
    result = delivery.deliver(settings, REPORT_DATE, rendered)
    assert result["sent"] is False and smtp_server.messages == []
    assert (settings.outbox / "2021-10-19" / "v2.eml").exists()


def test_the_warehouse_is_free_while_the_mail_is_sent(settings, rendered, smtp_server):
    """A slow mail server (and the task retries behind it) must not keep a collection from the warehouse."""
    seen = []
    smtp_server.on_data = lambda: seen.append(store.writer_is_free(settings))
    result = pipeline.deliver(
        with_recipients(settings, "bcd@quangninh.example"),
        REPORT_DATE,
        {k: str(v) for k, v in rendered.items()},
        run_id="lock-test",
    )
    assert result["sent"] is True and seen == [True]
    with store.reader(settings.warehouse_path) as con:  # the stage is still recorded
        assert con.execute("SELECT stage FROM ops.pipeline_run WHERE run_id = 'lock-test'").fetchall() == [
            ("deliver_bulletin",)
        ]
