"""The channels a message goes out on: e-mail over SMTP, SMS through an HTTP gateway, and a file
(the demo). `send(channel, settings, delivery)` returns normally only when the other side took
the message.

Failures come in two kinds, because the dispatcher sends at most once:
- `Refused`: certainly NOT delivered (connection refused, the server answered no): retried;
- any other exception: it may have gone out (a timeout or a dropped connection after the
  message was handed over): the message is parked for a person, never sent again by itself.
"""

import json
import os
import smtplib
import socket
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate


class Refused(Exception):
    """The message certainly did not go out; sending it again cannot make a duplicate."""


class NotConfigured(Refused):
    pass


def send(channel, settings, delivery):
    timeout = int(settings["timeout_seconds"])
    if channel == "email":
        return _email(settings, delivery, timeout)
    if channel == "sms":
        return _sms(settings, delivery, timeout)
    if channel == "file":
        return _file(settings, delivery)
    raise Refused(f"unknown channel {channel!r}")


def _email(settings, d, timeout):
    if not settings["smtp_host"]:
        raise NotConfigured("no smtp_host set (prepay notify set smtp_host HOST)")
    message = EmailMessage()
    message["From"] = settings["smtp_from"]
    message["To"] = d["recipient"]
    message["Subject"] = d["subject"]
    message["Date"] = formatdate(localtime=False)
    # Stable per delivery: a mail system that sees it twice can tell it is the same message.
    message["Message-ID"] = f"<prepay-{d['id']}@{settings['smtp_from'].partition('@')[2] or 'x'}>"
    message.set_content(d["body"])
    try:
        client = smtplib.SMTP(settings["smtp_host"], int(settings["smtp_port"]), timeout=timeout)
    except (OSError, smtplib.SMTPException) as error:
        raise Refused(f"SMTP connect: {error}") from None
    try:
        try:
            client.ehlo_or_helo_if_needed()
            client.mail(settings["smtp_from"])
            code, reply = client.rcpt(d["recipient"])
            if code not in (250, 251):
                raise Refused(f"SMTP RCPT refused: {code} {reply!r}")
            client.rset()
        except (OSError, smtplib.SMTPException) as error:
            raise Refused(f"SMTP before DATA: {error}") from None
        # From here the server may have the message: only an explicit refusal is certain.
        try:
            client.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
            raise Refused(f"SMTP refused: {error}") from None
        except smtplib.SMTPDataError as error:
            raise Refused(f"SMTP DATA refused: {error.smtp_code} {error.smtp_error!r}") from None
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass


def _sms(settings, d, timeout):
    if not settings["sms_url"]:
        raise NotConfigured("no sms_url set (prepay notify set sms_url URL)")
    body = json.dumps({"to": d["recipient"], "text": d["body"], "id": d["id"]}).encode()
    request = urllib.request.Request(
        settings["sms_url"],
        data=body,
        method="POST",
        # A gateway that honours it drops a repeat of the same message.
        headers={"Content-Type": "application/json", "Idempotency-Key": f"prepay-{d['id']}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise Refused(f"SMS gateway answered {error.code}") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, (ConnectionRefusedError, socket.gaierror)):
            raise Refused(f"SMS gateway: {error.reason}") from None
        raise


def _file(settings, d):
    path = settings["file_path"]
    if not path:
        raise NotConfigured("no file_path set (prepay notify set file_path PATH)")
    record = {k: d[k] for k in ("id", "channel", "recipient", "subject", "body")}
    line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode()
    # One write of one line with O_APPEND: a reader sees whole lines (a kill cannot split one
    # as long as the line is below the page size most file systems write atomically).
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
