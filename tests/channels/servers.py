"""Real IMAP and SFTP servers for the channel tests: Dovecot and OpenSSH from Debian, each with its own config.

Nothing of the machine's own services is used or changed: each server gets a
private folder, a free high port, and is stopped at the end. Dovecot stores
mail as an unprivileged uid (nobody), never as root.
"""

from __future__ import annotations

import getpass
import imaplib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MAILBOX_USER, MAILBOX_PASSWORD = "baocao", "mat-khau-thu"
NOBODY = 65534


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}): {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}: {log.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --------------------------------------------------------------------------- Dovecot (IMAP)


class _TestServer:
    """A server process of the tests' own, in its own folder (`workdir`): stopped, then its folder removed."""

    process: subprocess.Popen | None = None

    @property
    def workdir(self) -> Path:
        raise NotImplementedError

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Dovecot(_TestServer):
    """`dovecot -F -c <own config>`: static passdb/userdb, Maildir as uid nobody, IMAP on a high port."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="bantin-dovecot-"))  # not under pytest's 0700 tmp: uid nobody reads it
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.process = None

    @property
    def workdir(self) -> Path:
        return self.root

    def config(self) -> str:
        r = self.root
        return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{r}/mail/%u
first_valid_uid = {NOBODY}
last_valid_uid = {NOBODY}
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = static
  args = password={MAILBOX_PASSWORD}
}}
userdb {{
  driver = static
  args = uid={NOBODY} gid={NOBODY} home={r}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
"""

    def start(self) -> Dovecot:
        (self.root / "mail").mkdir()
        os.chown(self.root / "mail", NOBODY, NOBODY)
        (self.root / "dovecot.conf").write_text(self.config(), encoding="utf-8")
        (self.root / "dovecot.log").touch()
        log = open(self.root / "stderr.log", "wb")  # noqa: SIM115  written by the server for its whole life
        self.process = subprocess.Popen(
            ["/usr/sbin/dovecot", "-F", "-c", str(self.root / "dovecot.conf")], stdout=subprocess.DEVNULL, stderr=log
        )
        _wait_for_port(self.port, self.process, self.root / "stderr.log")
        return self

    @staticmethod
    def version() -> str:
        return subprocess.run(["/usr/sbin/dovecot", "--version"], capture_output=True, text=True).stdout.split()[0]

    def connection(self) -> str:
        """Airflow's IMAP connection to this server (AIRFLOW_CONN_<ID> as JSON): plain IMAP on localhost."""
        return json.dumps(
            {
                "conn_type": "imap",
                "host": "127.0.0.1",
                "port": self.port,
                "login": MAILBOX_USER,
                "password": MAILBOX_PASSWORD,
                "extra": {"use_ssl": False},
            }
        )

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(MAILBOX_USER, MAILBOX_PASSWORD)
        return client

    def deliver(self, raw: bytes, received_at=None, folder: str = "INBOX") -> None:
        """The mail server receiving a message: stored in the folder with its INTERNALDATE (receipt time)."""
        client = self.client()
        try:
            when = imaplib.Time2Internaldate(received_at.timestamp()) if received_at else None
            typ, data = client.append(folder, None, when, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.client()
        try:
            typ, data = client.select(f'"{folder}"', readonly=True)
            return int(data[0]) if typ == "OK" else 0
        finally:
            client.logout()


# --------------------------------------------------------------------------- OpenSSH (SFTP)


class Sshd(_TestServer):
    """`sshd -D -f <own config>` on a high port: key authentication only, internal-sftp, nothing else."""

    def __init__(self, root: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="bantin-sshd-"))
        self.root = root  # the folder the puller sees (its SFTP root: one folder per district below)
        self.port = free_port()
        self.user = getpass.getuser()
        self.process = None

    @property
    def workdir(self) -> Path:
        return self.dir

    def start(self) -> Sshd:
        d = self.dir
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
        shutil.copy(d / "client_key.pub", d / "authorized_keys")
        (d / "sshd_config").write_text(
            f"""
Port {self.port}
ListenAddress 127.0.0.1
HostKey {d}/host_key
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowUsers {self.user}
Subsystem sftp internal-sftp
ForceCommand internal-sftp
AllowTcpForwarding no
X11Forwarding no
LogLevel VERBOSE
""",
            encoding="utf-8",
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory the Debian service would make
        log = open(d / "sshd.log", "wb")  # noqa: SIM115  written by the server for its whole life
        self.process = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")], stdout=subprocess.DEVNULL, stderr=log
        )
        _wait_for_port(self.port, self.process, d / "sshd.log")
        return self

    def connection(self) -> str:
        """Airflow's SFTP connection to this server (AIRFLOW_CONN_<ID> as JSON): key file, this test's host key."""
        host_key = " ".join((self.dir / "host_key.pub").read_text().split()[:2])  # "ssh-ed25519 AAAA…"
        return json.dumps(
            {
                "conn_type": "sftp",
                "host": "127.0.0.1",
                "port": self.port,
                "login": self.user,
                "extra": {"key_file": str(self.dir / "client_key"), "host_key": host_key, "conn_timeout": 10},
            }
        )
