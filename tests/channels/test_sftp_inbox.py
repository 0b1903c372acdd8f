"""The SFTP channel against a real OpenSSH sshd: per-district folders, complete files only, feedback beside them."""

from __future__ import annotations

import contextlib
import threading
import time

import paramiko
import pytest

from bantin import channels, pipeline, replies, store
from bantin.channels import sftp_inbox

from .conftest import CLERKS, CO_TO, DAY, HA_LONG, MONG_CAI, at, report_csv


class Clerk:
    """A district clerk's SFTP client (paramiko, the test's key) uploading into `<district>/inbox/`."""

    def __init__(self, sshd):
        self.transport = paramiko.Transport(("127.0.0.1", sshd.port))
        self.transport.connect(
            username=sshd.user, pkey=paramiko.Ed25519Key.from_private_key_file(str(sshd.dir / "client_key"))
        )
        self.sftp = paramiko.SFTPClient.from_transport(self.transport)
        self.root = sshd.root

    def upload(self, district: int, name: str, data: bytes, modified=None) -> str:
        folder = f"{self.root}/{district}/inbox"
        for path in (f"{self.root}/{district}", folder):
            with contextlib.suppress(OSError):
                self.sftp.mkdir(path)
        remote = f"{folder}/{name}"
        with self.sftp.open(remote, "wb") as handle:
            handle.write(data)
        if modified is not None:  # `put -p`: the report day's time, as the archive of 2021 would carry
            self.sftp.utime(remote, (modified.timestamp(), modified.timestamp()))
        return remote

    def close(self):
        self.sftp.close()
        self.transport.close()


@pytest.fixture
def clerk(sshd):
    client = Clerk(sshd)
    yield client
    client.close()


def ledger(settings):
    with store.reader(settings.warehouse_path) as con:
        return con.execute("SELECT district_code, file_name, status, received_at FROM ops.submission").fetchall()


def test_a_complete_file_is_taken_moved_to_processed_and_answered_beside_it(
    channel_env, sshd, clerk, smtp_server, tmp_path
):
    settings = channel_env(sshd=sshd)
    data = report_csv(tmp_path / "a.csv", HA_LONG)
    clerk.upload(HA_LONG, "halong-19-10.csv", data, modified=at(16, 40))

    assert sftp_inbox.pull_sftp(settings)["files"] == 1
    pipeline.collect(settings)
    pipeline.validate(settings)
    replies.answer_senders(settings)

    [(district, name, status, received_at)] = ledger(settings)
    assert (district, name, status) == (HA_LONG, "halong-19-10.csv", "accepted")
    assert received_at == at(16, 40).replace(tzinfo=None)
    folder = sshd.root / str(HA_LONG)
    assert list((folder / "inbox").iterdir()) == []
    [processed] = list((folder / "processed").iterdir())
    assert processed.read_bytes() == data  # kept on the server, byte for byte
    [text] = list((folder / "feedback").glob("*.txt"))
    assert text.read_text(encoding="utf-8").startswith("Đã nhận – Thành phố Hạ Long")
    assert list((folder / "feedback").glob("*.html"))
    [mailed] = [m["message"] for m in smtp_server.messages if CLERKS[HA_LONG] in m["to"]]
    assert mailed["Subject"].startswith("Đã nhận")  # and to the district's registered address
    receipt = channels.read_receipt(settings, HA_LONG, __import__("hashlib").sha256(data).hexdigest())
    assert receipt["channel"] == "sftp" and receipt["remote_path"] == str(processed)


def test_a_bad_file_gets_its_findings_in_feedback_and_no_mail_without_an_address(
    channel_env, sshd, clerk, smtp_server, tmp_path
):
    from bantin import reference

    settings = channel_env(sshd=sshd)
    first = reference.communes(district_code=CO_TO, on=DAY)[0].code
    clerk.upload(
        CO_TO, "coto.csv", report_csv(tmp_path / "b.csv", CO_TO, **{f"c{first}": {"deaths": -1}}), modified=at(11)
    )

    sftp_inbox.pull_sftp(settings)
    pipeline.collect(settings)
    pipeline.validate(settings)
    assert replies.answer_senders(settings)["sftp_reports"] == 1

    [text] = list((sshd.root / str(CO_TO) / "feedback").glob("*.txt"))
    report = text.read_text(encoding="utf-8")
    assert report.startswith("Cần gửi lại – Huyện Cô Tô")
    assert 'Dòng 2, cột "Tử vong", giá trị "-1"' in report and 'Row 2, column "Tử vong"' in report
    assert smtp_server.messages == []  # Cô Tô has no registered address


def test_a_file_still_being_written_is_not_taken_until_complete(channel_env, sshd, clerk, tmp_path):
    settings = channel_env(sshd=sshd, sftp_settle_seconds=1.0)
    data = report_csv(tmp_path / "c.csv", MONG_CAI)
    remote = f"{sshd.root}/{MONG_CAI}/inbox/mongcai.csv"
    clerk.upload(MONG_CAI, "mongcai.csv", b"")
    handle = clerk.sftp.open(remote, "wb")
    writing = threading.Event()

    def slow_upload():  # a slow district line: a few hundred bytes every 50 ms
        for start in range(0, len(data), 64):
            handle.write(data[start : start + 64])
            handle.flush()
            writing.set()
            time.sleep(0.05)
        handle.close()

    uploader = threading.Thread(target=slow_upload)
    uploader.start()
    writing.wait(10)
    during = sftp_inbox.pull_sftp(settings)
    still_uploading = uploader.is_alive()
    uploader.join()

    assert still_uploading, "the upload must outlast the two looks for this test to mean anything"
    assert during["files"] == 0 and during["still_uploading"] == 1
    assert not any(p.is_file() and not p.name.startswith(".") for p in settings.landing.rglob("*"))
    after = sftp_inbox.pull_sftp(settings)
    assert after["files"] == 1
    assert (settings.landing / str(MONG_CAI) / "mongcai.csv").read_bytes() == data


def test_partial_names_are_never_taken(channel_env, sshd, clerk, tmp_path):
    settings = channel_env(sshd=sshd)
    clerk.upload(HA_LONG, "bc.csv.filepart", report_csv(tmp_path / "d.csv"))
    clerk.upload(HA_LONG, ".bc.csv", report_csv(tmp_path / "d.csv"))
    assert sftp_inbox.pull_sftp(settings)["files"] == 0


def test_the_sftp_server_down_fails_the_pull_and_the_local_inbox_still_works(channel_env, sshd, monkeypatch):
    settings = channel_env(sshd=sshd)
    sshd.stop()
    monkeypatch.setattr(sftp_inbox, "CONNECT_PAUSE_SECONDS", 0.01)
    inbox = settings.landing / str(HA_LONG)
    inbox.mkdir(parents=True)
    report_csv(inbox / "tai-cho.csv")

    with pytest.raises(channels.ChannelUnavailable, match="unreachable"):
        sftp_inbox.pull_sftp(settings)
    assert pipeline.collect(settings)["new"] == 1
