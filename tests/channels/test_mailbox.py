"""The e-mail channel against a real Dovecot: registered senders' files in, everything else quarantined and answered."""

from __future__ import annotations

import pytest

from bantin import channels, intake, pipeline, replies, store
from bantin.channels import mailbox

from .conftest import CLERKS, DAY, HA_LONG, MONG_CAI, at, mail, report_csv


def collection_run(settings) -> dict:
    """What one run of collect_submissions does, in this process: pull, collect, validate, answer."""
    return {
        "mailbox": mailbox.pull_mailbox(settings),
        "collect": pipeline.collect(settings),
        "validate": pipeline.validate(settings),
        "answer": replies.answer_senders(settings),
    }


def ledger(settings) -> list[tuple]:
    with store.reader(settings.warehouse_path) as con:
        return con.execute(
            "SELECT district_code, file_name, status, received_at, is_late FROM ops.submission ORDER BY received_at"
        ).fetchall()


def replies_to(smtp_server, address: str) -> list:
    return [m["message"] for m in smtp_server.messages if address in m["to"]]


def test_a_registered_senders_good_file_is_accepted_and_answered_da_nhan(channel_env, dovecot, smtp_server, tmp_path):
    settings = channel_env(dovecot=dovecot)
    raw = mail(CLERKS[HA_LONG], {"bao-cao-ha-long.csv": report_csv(tmp_path / "a.csv")}, message_id="<m1@halong>")
    dovecot.deliver(raw, received_at=at(16, 5))

    run = collection_run(settings)

    assert run["mailbox"]["files"] == 1
    [(district, name, status, received_at, late)] = ledger(settings)
    assert (district, name, status, late) == (HA_LONG, "bao-cao-ha-long.csv", "accepted", False)
    assert received_at == at(16, 5).replace(tzinfo=None)  # the mail server's receipt time, not the pull's
    [reply] = replies_to(smtp_server, CLERKS[HA_LONG])
    assert reply["Subject"].startswith("Đã nhận – Thành phố Hạ Long – báo cáo ngày 19/10/2021")
    assert reply["In-Reply-To"] == "<m1@halong>"
    body = reply.get_body(("plain",)).get_content()
    assert body.index("ĐÃ NHẬN") < body.index("ACCEPTED")  # Vietnamese first, English below
    assert dovecot.count("INBOX") == 0 and dovecot.count(settings.imap_received_folder) == 1  # moved, not deleted
    receipt = channels.read_receipt(
        settings, HA_LONG, intake.sha256_of(settings.landing / str(HA_LONG) / "bao-cao-ha-long.csv")
    )
    assert receipt["channel"] == "imap" and receipt["message_id"] == "<m1@halong>"
    assert receipt["sender"] == CLERKS[HA_LONG]


def test_a_bad_file_is_answered_with_each_finding_row_and_column(channel_env, dovecot, smtp_server, tmp_path):
    settings = channel_env(dovecot=dovecot)
    from bantin import reference

    second = reference.communes(district_code=MONG_CAI, on=DAY)[1].code
    data = report_csv(tmp_path / "b.csv", MONG_CAI, **{f"c{second}": {"new_cases": -4}})
    dovecot.deliver(mail(CLERKS[MONG_CAI], {"mongcai.csv": data}, message_id="<bad@mongcai>"), received_at=at(15))

    collection_run(settings)

    assert [r[2] for r in ledger(settings)] == ["rejected"]
    [reply] = replies_to(smtp_server, CLERKS[MONG_CAI])
    assert reply["Subject"].startswith("Cần gửi lại – Thành phố Móng Cái")
    assert reply["In-Reply-To"] == "<bad@mongcai>"
    body = reply.get_body(("plain",)).get_content()
    assert 'Dòng 3, cột "Ca mắc mới", giá trị "-4"' in body  # header row 1, second commune on row 3
    assert 'Row 3, column "Ca mắc mới", value "-4"' in body
    attachment = next(reply.iter_attachments())
    assert attachment.get_filename().endswith(".html")  # the full feedback report


@pytest.mark.parametrize(
    "case, reason_vi",
    [
        ("unknown", "chưa được đăng ký"),
        ("no_attachment", "không có tệp đính kèm"),
        ("refused_type", "không thuộc định dạng được nhận"),
        ("spf_fail", "SPF/DKIM"),
        ("no_verdict", "SPF/DKIM"),
    ],
)
def test_a_message_that_cannot_be_taken_is_quarantined_and_answered(
    case, reason_vi, channel_env, dovecot, smtp_server, tmp_path
):
    settings = channel_env(dovecot=dovecot)
    good = {"bc.csv": report_csv(tmp_path / "c.csv")}
    sender = "la.mat@gmail.example" if case == "unknown" else CLERKS[HA_LONG]
    raw = {
        "unknown": lambda: mail(sender, good),
        "no_attachment": lambda: mail(sender, {}),
        "refused_type": lambda: mail(sender, {"bao-cao.zip": b"PK\x03\x04zip"}),
        "spf_fail": lambda: mail(sender, good, auth="mx.soyte.example; spf=fail smtp.mailfrom=x; dkim=none"),
        "no_verdict": lambda: mail(sender, good, auth=None),
    }[case]()
    dovecot.deliver(raw, received_at=at(14))

    stats = mailbox.pull_mailbox(settings)

    assert stats["quarantined"] == 1 and stats["files"] == 0
    assert not any(p.is_file() for p in settings.landing.rglob("*"))  # nothing in any inbox
    assert dovecot.count("INBOX") == 0 and dovecot.count(settings.imap_quarantine_folder) == 1
    [reply] = replies_to(smtp_server, sender)
    body = reply.get_body(("plain",)).get_content()
    assert reason_vi in body and "English" in body and "không bị xoá" in body
    assert reply["Auto-Submitted"] == "auto-replied"
    assert list((settings.channels / "quarantine").rglob("*.eml"))  # a local copy for the operators


def test_the_same_message_pulled_twice_is_recorded_once(channel_env, dovecot, smtp_server, tmp_path):
    settings = channel_env(dovecot=dovecot)
    raw = mail(CLERKS[HA_LONG], {"bc.csv": report_csv(tmp_path / "d.csv")}, message_id="<once@halong>")
    dovecot.deliver(raw, received_at=at(10))
    dovecot.deliver(raw, received_at=at(10, 1))  # the same message twice in the inbox
    collection_run(settings)
    dovecot.deliver(raw, received_at=at(11), folder="INBOX")  # and put back after it was taken
    second = collection_run(settings)

    assert second["mailbox"]["already_taken"] == 1 and second["mailbox"]["files"] == 0
    assert len(ledger(settings)) == 1
    assert len(replies_to(smtp_server, CLERKS[HA_LONG])) == 1
    assert dovecot.count(settings.imap_received_folder) == 3 and dovecot.count("INBOX") == 0  # none deleted


def test_a_message_received_after_the_cutoff_is_late_whenever_it_is_pulled(channel_env, dovecot, tmp_path):
    settings = channel_env(dovecot=dovecot)
    dovecot.deliver(mail(CLERKS[HA_LONG], {"bc.csv": report_csv(tmp_path / "e.csv")}), received_at=at(17, 20))
    mailbox.pull_mailbox(settings)
    pipeline.collect(settings)
    [(_, _, _, received_at, late)] = ledger(settings)
    assert late is True and received_at == at(17, 20).replace(tzinfo=None)


def test_the_mailbox_down_fails_the_pull_and_the_local_inbox_still_works(channel_env, dovecot, monkeypatch, tmp_path):
    settings = channel_env(dovecot=dovecot)
    dovecot.stop()
    monkeypatch.setattr(mailbox, "CONNECT_PAUSE_SECONDS", 0.01)
    inbox = settings.landing / str(HA_LONG)
    inbox.mkdir(parents=True)
    report_csv(inbox / "tai-cho.csv")

    with pytest.raises(channels.ChannelUnavailable, match="unreachable"):
        mailbox.pull_mailbox(settings)
    assert pipeline.collect(settings)["new"] == 1  # the DAG runs collect whatever the pull's state


def test_authentication_results_only_from_the_trusted_server(channel_env, dovecot):
    from email import message_from_bytes, policy

    forged = message_from_bytes(mail("a@b.example", auth="evil.example; spf=pass; dkim=pass"), policy=policy.default)
    assert mailbox.authentication_verdict(forged) == "pass"
    assert mailbox.authentication_verdict(forged, "mx.soyte.example") == "none"
    dmarc = message_from_bytes(mail("a@b.example", auth="mx; spf=pass; dkim=pass; dmarc=fail"), policy=policy.default)
    assert mailbox.authentication_verdict(dmarc) == "fail"


def test_an_operator_releases_a_quarantined_message_after_registering_its_sender(
    channel_env, dovecot, smtp_server, tmp_path
):
    from .conftest import write_senders

    settings = channel_env(dovecot=dovecot)
    newcomer = "clerk.moi@ytehalong.example"
    dovecot.deliver(mail(newcomer, {"bc.csv": report_csv(tmp_path / "f.csv")}), received_at=at(9))
    assert mailbox.pull_mailbox(settings)["quarantined"] == 1
    assert mailbox.pull_mailbox(settings)["messages"] == 0  # nothing left in the inbox

    write_senders(settings.senders, {**CLERKS, HA_LONG: newcomer})
    client = dovecot.client()
    client.select(f'"{settings.imap_quarantine_folder}"')
    assert client.uid("MOVE", "1:*", "INBOX")[0] == "OK"
    client.logout()
    released = mailbox.pull_mailbox(settings)

    assert released["files"] == 1 and dovecot.count(settings.imap_received_folder) == 1
    assert [p.name for p in (settings.landing / str(HA_LONG)).iterdir()] == ["bc.csv"]
    assert len(replies_to(smtp_server, newcomer)) == 1  # the quarantine answer, once


def test_the_ledger_keeps_the_name_the_clerk_gave_when_two_days_send_the_same_name(channel_env, dovecot, tmp_path):
    from datetime import timedelta

    settings = channel_env(dovecot=dovecot)
    for day in (DAY - timedelta(days=1), DAY):
        data = report_csv(tmp_path / f"{day}.csv", HA_LONG, day)
        dovecot.deliver(mail(CLERKS[HA_LONG], {"baocao.csv": data}), received_at=at(9, day=day))
    mailbox.pull_mailbox(settings)
    pipeline.collect(settings)

    assert len(list((settings.landing / str(HA_LONG)).iterdir())) == 2  # two files in the inbox, two names
    assert [r[1] for r in ledger(settings)] == ["baocao.csv", "baocao.csv"]
