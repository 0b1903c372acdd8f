"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the test, and Airflow's SMTP connection pointing at it."""

from __future__ import annotations

import json
import socket
from email import message_from_bytes, policy

import pytest


class Inbox:
    """aiosmtpd handler: keeps every message; can refuse the first N with a transient 451.

    `on_data`, when set, is called as each message arrives (to look at the sender's side meanwhile).
    """

    def __init__(self):
        self.messages, self.refuse_next, self.refused = [], 0, 0
        self.on_data = None

    async def handle_DATA(self, server, session, envelope):
        if self.on_data is not None:
            self.on_data()
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refused += 1
            return "451 4.3.0 Hệ thống bận / try again later"
        self.messages.append({"to": list(envelope.rcpt_tos), "from": envelope.mail_from,
                              "message": message_from_bytes(envelope.original_content, policy=policy.default)})
        return "250 2.0.0 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(monkeypatch):
    """The running server's Inbox; AIRFLOW_CONN_SMTP_DEFAULT (JSON form) points Airflow at it."""
    from aiosmtpd.controller import Controller

    from bantin import delivery

    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"from_email": "bantin@soyte.quangninh.example", "disable_tls": True, "disable_ssl": True,
                  "timeout": 10, "retry_limit": 0},
    }))
    monkeypatch.setattr(delivery, "RETRY_PAUSE_SECONDS", 0.05)
    try:
        yield inbox
    finally:
        controller.stop()
