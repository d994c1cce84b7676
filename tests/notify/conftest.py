"""Fixtures for customer messages: a station, a real local SMTP server (aiosmtpd) and an HTTP
SMS gateway, both started here; a server that cannot start fails the test."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.vending.conftest import db_url, fast_kdf, pg_server, station, station_env  # noqa: F401


class _Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(
            {
                "to": envelope.rcpt_tos,
                "subject": str(message["Subject"]),
                "body": message.get_content(),
                "message_id": str(message["Message-ID"]),
            }
        )
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (free port); `.messages` holds what it accepted."""
    import socket

    mailbox = _Mailbox()
    with socket.socket() as probe:  # aiosmtpd checks its port by connecting: name one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()  # raises (the test fails) if it cannot listen
    mailbox.host, mailbox.port = "127.0.0.1", port
    yield mailbox
    controller.stop()


class SmsGateway:
    """An HTTP receiver standing in for an SMS gateway: records every POST; `status` is what it
    answers, `delay` how long it waits first (to make the sender time out)."""

    def __init__(self):
        self.received = []
        self.status = 200
        self.delay = 0.0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                import time

                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.received.append(
                    dict(json.loads(body), key=self.headers.get("Idempotency-Key"))
                )
                time.sleep(gateway.delay)
                try:
                    self.send_response(gateway.status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender was killed or gave up: it got the message all the same

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sms_gateway():
    gateway = SmsGateway()
    yield gateway
    gateway.close()
