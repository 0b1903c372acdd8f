"""Channel tests run against real servers: Dovecot (IMAP), OpenSSH (SFTP), aiosmtpd (the replies)."""

from __future__ import annotations

from datetime import date, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from intake.conftest import district_rows

from bantin.submission_files import write_csv

from .servers import Dovecot, Sshd
from conftest import DEMO_PROVINCE

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2021, 10, 19)
HA_LONG, MONG_CAI, CO_TO = 193, 194, 207
CLERKS = {HA_LONG: "vanthu.halong@ytehalong.example", MONG_CAI: "baocao@ytemongcai.example"}


@pytest.fixture
def dovecot():
    server = Dovecot().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def sshd(tmp_path):
    root = tmp_path / "sftp"
    root.mkdir()
    server = Sshd(root).start()
    try:
        yield server
    finally:
        server.cleanup()


def write_senders(path: Path, clerks: dict[int, str] = CLERKS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["address,district_code,name"] + [f"{a},{d},Văn thư {d}" for d, a in clerks.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def channel_env(settings, smtp_server, monkeypatch):
    """Settings with the sender registry written; returns a function turning channels on (env + reload)."""
    from bantin.config import load_settings

    write_senders(settings.senders)

    def _with(dovecot=None, sshd=None, **extra):
        if dovecot is not None:
            monkeypatch.setenv("BANTIN_IMAP_CONN_ID", "imap_bantin")
            monkeypatch.setenv("AIRFLOW_CONN_IMAP_BANTIN", dovecot.connection())
        if sshd is not None:
            monkeypatch.setenv("BANTIN_SFTP_CONN_ID", "sftp_bantin")
            monkeypatch.setenv("AIRFLOW_CONN_SFTP_BANTIN", sshd.connection())
            monkeypatch.setenv("BANTIN_SFTP_ROOT", str(sshd.root))
            monkeypatch.setenv("BANTIN_SFTP_SETTLE_SECONDS", "0.5")
        for key, value in extra.items():
            monkeypatch.setenv(f"BANTIN_{key.upper()}", str(value))
        return load_settings()

    return _with


def report_csv(path: Path, district: int = HA_LONG, day: date = DAY, **figures) -> bytes:
    write_csv(district_rows(district, day, **figures), path)
    return path.read_bytes()


def mail(
    sender: str,
    attachments: dict[str, bytes] | None = None,
    *,
    subject: str = "Báo cáo COVID-19",
    auth: str | None = "mx.soyte.example; spf=pass smtp.mailfrom={domain}; dkim=pass header.d={domain}",
    message_id: str | None = None,
) -> bytes:
    """A clerk's message as the province's mail server stored it (its Authentication-Results on top)."""
    message = EmailMessage()
    if auth:
        message["Authentication-Results"] = auth.format(domain=sender.split("@")[-1])
    message["From"] = sender
    message["To"] = "baocao@soyte.quangninh.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain=sender.split("@")[-1])
    message.set_content("Kính gửi Sở Y tế, đơn vị gửi báo cáo ngày.")
    for name, data in (attachments or {}).items():
        maintype, subtype = ("text", "csv") if name.endswith(".csv") else ("application", "octet-stream")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL)


_ = DEMO_PROVINCE
