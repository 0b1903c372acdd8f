"""End to end through Airflow: the report date's files arriving by e-mail and SFTP give the same warehouse and
bulletin as the same files dropped into the local inboxes.

Both worlds run the real DAGs with `airflow dags test`: the channel world runs
`collect_submissions` (pull Dovecot and sshd, collect, validate, answer) and then
`daily_bulletin`; the local world runs `daily_bulletin` on the inboxes directly.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import paramiko
import pytest

from bantin import store

from .conftest import write_senders
from .servers import Dovecot, Sshd
from conftest import (
    DEMO_END,
    DEMO_PROVINCE,
    _report_date_of,
    assert_dag_run_succeeded,
    copy_receipts,
    run_airflow,
    smtp_connection,
)

pytestmark = pytest.mark.e2e

TABLES = {
    "ops.submission": "SELECT district_code, report_date, file_name, sha256, size_bytes, received_at, version, status, "
    "error_count, warning_count, is_late FROM ops.submission ORDER BY sha256",
    "ops.finding": "SELECT * FROM ops.finding ORDER BY ALL",
    "raw.submission_row": "SELECT * FROM raw.submission_row ORDER BY ALL",
    "marts.commune_daily": "SELECT * FROM marts.commune_daily ORDER BY ALL",
    "marts.district_daily": "SELECT * FROM marts.district_daily ORDER BY ALL",
    "marts.province_daily": "SELECT * FROM marts.province_daily ORDER BY ALL",
    "marts.reporting_status": "SELECT * FROM marts.reporting_status ORDER BY ALL",
}


def _day_files(template: Path) -> list[Path]:
    return sorted(p for p in template.rglob("*") if p.is_file() and _report_date_of(p) == DEMO_END)


def _env(base: dict, home: Path, **extra) -> dict:
    return {**base, "BANTIN_HOME": str(home), "BANTIN_PROVINCE": str(DEMO_PROVINCE), **extra}


def _tables(home: Path) -> dict:
    with store.reader(home / "warehouse" / "bantin.duckdb") as con:
        return {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}


def _figures(home: Path) -> dict:
    return json.loads((home / "bulletins" / DEMO_END.isoformat() / "v1" / "bulletin.json").read_text())["figures"]


def test_files_by_email_and_sftp_give_the_same_warehouse_and_bulletin_as_local_inboxes(
    demo_landing_template, own_airflow_home, smtp_server, tmp_path, monkeypatch
):
    files = _day_files(demo_landing_template)
    districts = sorted({int(p.parent.name) for p in files})
    by_mail = set(districts[::2])  # half the districts e-mail, the other half use SFTP
    base = {**own_airflow_home, "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(smtp_server.port)}

    # the local world: the same files written into the inboxes, with their receipt times
    local = tmp_path / "local"
    for path in files:
        target = local / "landing" / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    copy_receipts(demo_landing_template, local / "landing")
    assert_dag_run_succeeded(run_airflow(_env(base, local), "dags", "test", "daily_bulletin", DEMO_END.isoformat()))

    # the channel world: e-mails in Dovecot (INTERNALDATE = receipt time), uploads on sshd (mtime = receipt time)
    remote = tmp_path / "remote"
    remote.mkdir()
    home = tmp_path / "channels"
    dovecot, sshd = Dovecot().start(), Sshd(remote).start()
    try:
        senders = {d: f"vanthu.{d}@huyen.example" for d in districts}
        write_senders(home / "senders.csv", senders)
        mailed = 0
        from datetime import datetime
        from email.message import EmailMessage

        transport = paramiko.Transport(("127.0.0.1", sshd.port))
        transport.connect(
            username=sshd.user, pkey=paramiko.Ed25519Key.from_private_key_file(str(sshd.dir / "client_key"))
        )
        sftp = paramiko.SFTPClient.from_transport(transport)
        for path in files:
            district, received = int(path.parent.name), datetime.fromtimestamp(path.stat().st_mtime).astimezone()
            if district in by_mail:
                message = EmailMessage()
                message["Authentication-Results"] = "mx.soyte.example; spf=pass; dkim=pass header.d=huyen.example"
                message["From"], message["To"] = senders[district], "baocao@soyte.example"
                message["Subject"], message["Message-ID"] = "Báo cáo", f"<{path.stem}.{district}@huyen.example>"
                message.set_content("Gửi Sở báo cáo ngày.")
                message.add_attachment(
                    path.read_bytes(), maintype="application", subtype="octet-stream", filename=path.name
                )
                dovecot.deliver(message.as_bytes(), received_at=received)
                mailed += 1
            else:
                for folder in (f"{remote}/{district}", f"{remote}/{district}/inbox"):
                    with contextlib.suppress(OSError):
                        sftp.mkdir(folder)
                target = f"{remote}/{district}/inbox/{path.name}"
                sftp.put(str(path), target)
                sftp.utime(target, (received.timestamp(), received.timestamp()))
        sftp.close()
        transport.close()
        channel_env = _env(
            base,
            home,
            BANTIN_IMAP_CONN_ID="imap_bantin",
            AIRFLOW_CONN_IMAP_BANTIN=dovecot.connection(),
            BANTIN_SFTP_CONN_ID="sftp_bantin",
            AIRFLOW_CONN_SFTP_BANTIN=sshd.connection(),
            BANTIN_SFTP_ROOT=str(remote),
            BANTIN_SFTP_SETTLE_SECONDS="1",
        )
        assert_dag_run_succeeded(
            run_airflow(channel_env, "dags", "test", "collect_submissions", f"{DEMO_END}T16:30:00+07:00")
        )
        assert_dag_run_succeeded(run_airflow(channel_env, "dags", "test", "daily_bulletin", DEMO_END.isoformat()))
        assert dovecot.count("INBOX") == 0 and dovecot.count("bantin-received") == mailed
    finally:
        dovecot.cleanup()
        sshd.cleanup()

    assert mailed and len(files) - mailed  # both channels carried files
    assert _tables(home) == _tables(local)
    assert _figures(home) == _figures(local)
    _board_agrees_with_the_bulletins_reporting_status(home, monkeypatch)
    # and every clerk heard back: a reply per e-mail, a report beside each SFTP file
    replied = [m for m in smtp_server.messages if m["message"]["In-Reply-To"]]
    assert len(replied) == mailed
    assert len(list(remote.glob("*/feedback/*.txt"))) == len(files) - mailed
    assert (home / "board" / DEMO_END.isoformat() / "status.html").exists()


def _board_agrees_with_the_bulletins_reporting_status(home: Path, monkeypatch) -> None:
    """The board's reading of the ledger says what marts.reporting_status (the bulletin's section) says."""
    from bantin import reporting
    from bantin.config import load_settings

    monkeypatch.setenv("BANTIN_HOME", str(home))
    monkeypatch.setenv("BANTIN_PROVINCE", str(DEMO_PROVINCE))
    settings = load_settings()
    with store.reader(settings.warehouse_path) as con:
        board = {s["district_code"]: s["bulletin_status"] for s in reporting.district_status(con, settings, DEMO_END)}
        marts = dict(
            con.execute(
                "SELECT district_code, status FROM marts.reporting_status WHERE report_date = ?", [DEMO_END]
            ).fetchall()
        )
    assert board == marts and set(board.values()) >= {"on_time"}
