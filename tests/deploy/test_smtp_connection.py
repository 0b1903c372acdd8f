"""deploy/smtp-connection.sh, the code airflow-init runs, makes a connection that really sends mail.

The script itself (not a copy) writes the connection into a real Airflow metadata
DB; an Airflow task (`airflow dags test` of a one-task DAG, which reads the
connection through the execution API as any task does) then mails through it
with bantin.delivery to real aiosmtpd servers: plain SMTP, STARTTLS with login,
and implicit TLS, with a certificate made here and trusted through SSL_CERT_FILE
(the hook verifies certificates).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, REPO, Inbox

SCRIPT = REPO / "deploy" / "smtp-connection.sh"
MAIL_CHECK_DAG = """
import os
import pendulum
from airflow.sdk import dag, task


@dag(dag_id="mail_check", schedule=None, start_date=pendulum.datetime(2021, 10, 1, tz="UTC"))
def mail_check():
    @task(retries=0)
    def send():
        from email.message import EmailMessage

        from bantin import delivery

        message = EmailMessage()
        message["Subject"] = os.environ["SUBJECT"]
        message["From"] = "bantin@soyte.quangninh.example"
        message["To"] = "truc-ban@soyte.quangninh.example"
        message.set_content("Thư thử / test mail")
        delivery.send(message, "smtp_default")

    send()


mail_check()
"""


def _send_from_a_task(env: dict, tmp_path: Path, subject: str) -> subprocess.CompletedProcess:
    dags = tmp_path / "dags"
    dags.mkdir(exist_ok=True)
    (dags / "mail_check.py").write_text(MAIL_CHECK_DAG, encoding="utf-8")
    return subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "mail_check", "2021-10-19"],
        env={**env, "AIRFLOW__CORE__DAGS_FOLDER": str(dags), "SUBJECT": subject},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.crt", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Login:
    """aiosmtpd authenticator: one account."""

    def __init__(self, user: str, password: str):
        self.user, self.password = user.encode(), password.encode()
        self.seen: list[bytes] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.seen.append(auth_data.login)
        return AuthResult(success=(auth_data.login, auth_data.password) == (self.user, self.password))


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_the_deployment_connection_sends_mail(security, own_airflow_home, tmp_path):
    from aiosmtpd.controller import Controller

    cert, key = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    port = _free_port()
    inbox, login = Inbox(port), _Login("bantin@soyte.quangninh.example", "mat-khau-thu-9")
    options = {
        "none": {},
        "starttls": {
            "tls_context": server_tls,
            "require_starttls": True,
            "authenticator": login,
            "auth_required": True,
        },
        # aiosmtpd does not see its own implicit TLS as TLS: AUTH offered anyway (the socket is encrypted)
        "ssl": {"ssl_context": server_tls, "authenticator": login, "auth_required": True, "auth_require_tls": False},
    }[security]
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        env = {
            **own_airflow_home,
            "PATH": f"{BIN}:/usr/bin:/bin",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_SECURITY": security,
            "SMTP_FROM": "bantin@soyte.quangninh.example",
        }
        if security != "none":
            password_file = tmp_path / "smtp_password"
            password_file.write_text("mat-khau-thu-9\n".rstrip("\n"), encoding="utf-8")
            env.update(SMTP_USER="bantin@soyte.quangninh.example", SMTP_PASSWORD_FILE=str(password_file))
        made = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
        assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-3000:]
        assert f"127.0.0.1:{port} ({security})" in made.stdout

        subject = f"Thử kết nối SMTP ({security})"
        sent = _send_from_a_task({**env, "SSL_CERT_FILE": str(cert)}, tmp_path, subject)
        assert sent.returncode == 0 and "state=success" in sent.stdout + sent.stderr, (
            sent.stdout[-3000:] + sent.stderr[-3000:]
        )
    finally:
        controller.stop()

    [mail] = inbox.messages
    assert mail["message"]["Subject"] == subject
    assert mail["to"] == ["truc-ban@soyte.quangninh.example"]
    assert mail["from"] == "bantin@soyte.quangninh.example"
    assert "Thư thử / test mail" in mail["body"]
    if security != "none":
        assert login.seen == [b"bantin@soyte.quangninh.example"]  # logged in, over TLS


def test_an_untrusted_certificate_is_refused(own_airflow_home, tmp_path):
    """The hook verifies the relay's certificate: without SSL_CERT_FILE trusting it, nothing is sent."""
    from aiosmtpd.controller import Controller

    cert, key = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    port = _free_port()
    inbox = Inbox(port)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True)
    controller.start()
    try:
        env = {
            **own_airflow_home,
            "PATH": f"{BIN}:/usr/bin:/bin",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_FROM": "bantin@soyte.quangninh.example",
        }
        assert subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, timeout=300).returncode == 0
        sent = _send_from_a_task(env, tmp_path, "x")
    finally:
        controller.stop()
    assert "CERTIFICATE_VERIFY_FAILED" in sent.stdout + sent.stderr
    assert inbox.messages == []
