"""The meter's MQTT link (docs/interfaces.md, Online meters): state, events, commands.

Imported only when the meter has network settings (firmware/net/settings.py), so a keypad-only
meter never loads the MQTT client. `poll()` is called every ~50 ms by the runner's network task
and never waits for a broker that is not there: a broken link is dropped and retried with a
backoff of 1 s doubling to 60 s. MQTT 3.1.1 is micropython-lib's `umqtt.simple` (fetched from
PyPI by host_tools/build/mplib.py, not written here).

Events and the upload cursor: the meter publishes every committed journal event after its
cursor on `events` (QoS 1), oldest first, and moves the cursor only when the head-end answers
`{"ack": seq}` on `cmd` (the head-end acks after it stored the event). The cursor survives
reboots and power cuts in the journal (a small record of its own, `MeterStore.save_cursor`),
written once a burst of acks is over; unacknowledged events are sent again after a reconnect
or 10 s without an ack, and the head-end stores each (meter, seq) once.

Events the meter no longer holds (an outage longer than its 256-event ring) are announced as
`{"gap": [first, last], "time": t}` before the next event it still has: the head-end stores
that as an `events_lost` event and acks past it, instead of waiting for them forever.
"""

import json

from firmware.core.ticks import ticks_diff
from firmware.net.settings import ca_der, parse_broker
from firmware.version import VERSION
from token_spec.compat import const

_BACKOFF_MIN_MS = const(1000)
_BACKOFF_MAX_MS = const(60000)
_STATE_EVERY_MS = const(15000)  # telemetry: the head-end keeps 15-minute readings
_RESEND_MS = const(10000)  # events not acknowledged by then are sent again
_PING_MS = const(20000)
_KEEPALIVE_S = const(60)
_SOCKET_TIMEOUT_S = const(2)
_EVENTS_PER_POLL = const(8)
# The cursor goes to flash when everything sent is acknowledged, else once acks stopped coming
# for _KEEP_AFTER_MS or it is _KEEP_EVERY events ahead of the one on flash.
_KEEP_AFTER_MS = const(1000)
_KEEP_EVERY = const(32)
_MAX_COMMANDS = const(4)  # commands queued between two polls; more are dropped (QoS 1 resends)

OFFLINE = b'{"online": false}'


def topic(meter_number, leaf):
    return "prepay/v1/" + meter_number + "/" + leaf


class Link:
    """One meter's connection to its broker."""

    def __init__(self, app, settings, legacy_cursor_path):
        self.app = app
        self.host, self.port, self.tls = parse_broker(settings["broker"])
        self.number = app.meter.meter_number
        self.user = settings.get("user", self.number)
        self.password = settings.get("password")
        self.ca = settings.get("ca")
        self.cursor = _boot_cursor(app.store, legacy_cursor_path)
        self.kept = self.cursor  # the cursor on flash
        self.acked_at = 0
        self.sent = self.cursor
        self.client = None
        self.connects = 0
        self.backoff = _BACKOFF_MIN_MS
        self.retry_at = app.hal.ticks_ms()
        self.sent_at = 0
        self.state_at = 0
        self.ping_at = 0
        self.last_error = None
        self._commands = []
        self._state_key = None
        start = getattr(app.hal, "net_start", None)  # Wi-Fi on a board; nothing on the unix port
        if start is not None:
            start(settings.get("ssid", ""), settings.get("wifi_password", ""))

    # ---- connection ------------------------------------------------------------------------
    def connected(self):
        return self.client is not None

    def _connect(self):
        import umqtt.simple
        from umqtt.simple import MQTTClient

        umqtt.simple.socket = _TimedSockets  # connect and CONNACK bounded too (see below)

        params = {}
        if self.tls:
            import ssl
            import sys

            # umqtt.simple 1.3.4 imports `ussl`; MicroPython 1.22+ has only `ssl` (same API)
            sys.modules.setdefault("ussl", ssl)

            # the broker's certificate must chain to the provisioned CA and name the host
            params = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": self.host}
            if self.ca:
                params["cadata"] = ca_der(self.ca)
        client = MQTTClient(
            self.number,
            self.host,
            self.port,
            self.user,
            self.password,
            keepalive=_KEEPALIVE_S,
            ssl=self.tls,
            ssl_params=params,
        )
        client.set_callback(self._on_message)
        client.set_last_will(topic(self.number, "state"), OFFLINE, retain=True, qos=1)
        self.client = client  # before connect: a failure half-way still gets closed
        client.connect(clean_session=False)  # the broker keeps our QoS 1 commands offline
        client.sock = _Bounded(client.sock)  # umqtt's blocking reads now give up after 2 s
        client.subscribe(topic(self.number, "cmd"), 1)
        self.connects += 1
        self.backoff = _BACKOFF_MIN_MS
        self.sent = self.cursor  # whatever was unacknowledged goes again
        self._state_key = None
        now = self.app.hal.ticks_ms()
        self.ping_at = now
        self.publish_state()

    def drop(self, error=None):
        """Close the link (network gone, broker gone, protocol error); retry after a backoff."""
        client, self.client = self.client, None
        if error is not None:
            self.last_error = type(error).__name__
        if client is not None and client.sock is not None:
            try:
                client.sock.close()
            except OSError:
                pass
        self.retry_at = self.app.hal.ticks_ms() + self.backoff
        self.backoff = min(self.backoff * 2, _BACKOFF_MAX_MS)

    def close(self):
        """The link is being replaced (new settings): keep the cursor, then drop."""
        self._keep_cursor(self.acked_at + _KEEP_AFTER_MS)
        self.drop()

    # ---- the network task -------------------------------------------------------------------
    def poll(self):
        """One bounded piece of network work; never raises."""
        hal = self.app.hal
        self._keep_cursor(hal.ticks_ms())
        if not hal.net_ready():
            if self.client is not None:
                self.drop()
            return
        now = hal.ticks_ms()
        try:
            if self.client is None:
                if ticks_diff(now, self.retry_at) >= 0:
                    self._connect()
                return
            for _ in range(_MAX_COMMANDS):
                if self.client.check_msg() is None and not self._commands:
                    break
                self._run_commands()
            self._run_commands()
            self._keep_cursor(now)
            # State first: the head-end words a customer's message (credit low, supply cut)
            # with the credit of the last state it holds, so it must not lag the event.
            if ticks_diff(now, self.state_at) >= _STATE_EVERY_MS or self._changed():
                self.publish_state()
            self._publish_events(now)
            if ticks_diff(now, self.ping_at) >= _PING_MS:
                self.client.ping()
                self.ping_at = now
        except Exception as exc:  # noqa: BLE001 - any failure means the link is broken
            self.drop(exc)

    def _on_message(self, topic_bytes, msg):
        # Acks come one per stored event, faster than the commands queue takes them: taken at
        # once (they only move the cursor), so none is dropped and the burst's last one lands.
        if msg[:7] == b'{"ack":':
            try:
                self.acknowledge(json.loads(msg)["ack"])
                return
            except (ValueError, KeyError, TypeError):
                pass  # not a plain ack after all: the command path answers it
        if len(self._commands) < _MAX_COMMANDS:
            self._commands.append(msg)

    # ---- what goes out -----------------------------------------------------------------------
    def _state(self):
        s = self.app.status()
        return {
            "online": True,
            "time": s["time"],
            "credit": s["credit"],
            "credit_text": s["credit_text"],
            "scale": s["scale"],
            "unit": s["unit"],
            "zone": s["zone"],
            "relay": s["relay"],
            "energy_wh": s["energy_wh"],
            "power_w": s["power_w"],
            "firmware": VERSION,
        }

    def _changed(self):
        m = self.app.meter
        key = (m.credit, m.relay, m.energy_wh)
        return key != self._state_key

    def publish_state(self):
        m = self.app.meter
        self._state_key = (m.credit, m.relay, m.energy_wh)
        self.state_at = self.app.hal.ticks_ms()
        self.client.publish(topic(self.number, "state"), json.dumps(self._state()), True, 1)

    def _publish_events(self, now):
        from firmware.app.meter_app import describe_event

        if self.sent > self.cursor and ticks_diff(now, self.sent_at) >= _RESEND_MS:
            self.sent = self.cursor  # no ack came: the head-end may not have them
        upto = self.app.store.journal.event_seq  # only committed events leave the meter
        if self.sent >= upto:
            return
        events = self.app.meter.events.since(self.sent)
        name = topic(self.number, "events")
        if not events and upto > self.sent:  # the ring lost even the newest (flash damage)
            self._gap(name, upto + 1, 0, now)
        for e in events[:_EVENTS_PER_POLL]:
            if e[0] > upto:
                break
            if e[0] > self.sent + 1:  # the ring no longer holds the ones before e
                self._gap(name, e[0], e[1], now)
            self.client.publish(name, json.dumps(describe_event(e)), False, 1)
            self.sent = e[0]
            self.sent_at = now

    def _gap(self, name, next_held, time, now):
        """Announce that events sent+1 .. next_held-1 are lost (older than anything still held,
        which happened at `time`): the head-end stores the gap and acks past it."""
        gap = {"gap": [self.sent + 1, next_held - 1], "time": time}
        self.client.publish(name, json.dumps(gap), False, 1)
        self.sent = next_held - 1
        self.sent_at = now

    def _result(self, out):
        self.client.publish(topic(self.number, "result"), json.dumps(out), False, 1)

    # ---- what comes in -----------------------------------------------------------------------
    def _run_commands(self):
        while self._commands:
            msg = self._commands.pop(0)
            try:
                cmd = json.loads(msg)
            except ValueError:
                cmd = None
            if not isinstance(cmd, dict):
                self._result({"error": "bad_request", "message": "a command is a JSON object"})
                continue
            self._command(cmd)

    def _command(self, cmd):
        app = self.app
        ident = cmd.get("id")
        if "ack" in cmd:  # moves the upload cursor only: never credit or supply
            self.acknowledge(cmd["ack"])
        elif "token" in cmd:
            from token_spec.codec import normalize_token
            from token_spec.errors import TokenError

            try:
                digits = normalize_token(str(cmd["token"])[:40])
            except TokenError:
                self._result({"id": ident, "result": "reject", "error": "bad_token"})
                return
            result = app.enter_token(digits)  # the keypad's path: rules, lockout, journal
            s = app.status()
            self._result({"id": ident, "token": digits, "result": result, "credit": s["credit"]})
            self.publish_state()
        elif "config" in cmd:
            from firmware.core.config import ConfigError

            try:
                counter = app.apply_config(str(cmd["config"]))
                self._result({"id": ident, "result": "applied", "counter": counter})
            except ConfigError as exc:
                self._result({"id": ident, "result": "refused", "message": str(exc)[:200]})
            self.publish_state()
        elif "reading" in cmd:
            self.publish_state()
            self._result({"id": ident, "result": "reading", "state": self._state()})
        else:
            self._result({"id": ident, "error": "unknown_command"})

    def acknowledge(self, seq):
        """The head-end stored every event up to `seq`: move the cursor (never backwards, never
        past what was sent) and keep it."""
        if not isinstance(seq, int) or seq <= self.cursor or seq > self.sent:
            return
        self.cursor = seq
        self.acked_at = self.app.hal.ticks_ms()

    def _keep_cursor(self, now):
        """Put the cursor on flash once a burst of acks is over: the head-end acks every stored
        event, contiguously, so the ack of the last event sent covers the others. One 32-byte
        record per burst instead of one per event; a burst whose last ack does not come is
        kept after 1 s. A power cut before that only sends those events again, which the
        head-end ignores."""
        if self.cursor != self.kept and (
            self.cursor == self.sent
            or self.cursor - self.kept >= _KEEP_EVERY
            or ticks_diff(now, self.acked_at) >= _KEEP_AFTER_MS
        ):
            self.app.store.save_cursor(self.cursor)
            self.kept = self.cursor

    def status(self):
        """For the `status` command: nothing secret."""
        return {
            "broker": self.host + ":" + str(self.port),
            "tls": self.tls,
            "connected": self.client is not None,
            "connects": self.connects,
            "cursor": self.cursor,
            "last_error": self.last_error,
        }


class _TimedSockets:
    """Stands in for the `socket` module inside umqtt.simple, whose `connect()` makes its own
    socket: the same sockets, born with the 2 s timeout, so a broker host that does not answer
    (or accepts the TCP connection and then says nothing) cannot hold the loop."""

    @staticmethod
    def getaddrinfo(*args):
        import socket

        return socket.getaddrinfo(*args)

    @staticmethod
    def socket(*args):
        import socket

        sock = socket.socket(*args)
        sock.settimeout(_SOCKET_TIMEOUT_S)
        try:
            # umqtt writes a packet in pieces and waits for each PUBACK: with Nagle's delay
            # (and the peer's delayed ACK) every QoS 1 publish took ~40 ms, 25 events/s.
            # IPPROTO_TCP = 6 and TCP_NODELAY = 1 on Linux and lwIP alike.
            sock.setsockopt(
                getattr(socket, "IPPROTO_TCP", 6), getattr(socket, "TCP_NODELAY", 1), 1
            )
        except (OSError, AttributeError):
            pass  # a port without the option: slower, not wrong
        return sock


class _Bounded:
    """umqtt.simple's socket with a timeout: its `setblocking(True)` (while it reads the rest
    of a packet or waits for a PUBACK) becomes a 2 s timeout, so a broker that stops answering
    without closing the connection ends in OSError (the link drops and retries) instead of
    hanging the asyncio loop, and with it the meter loop."""

    def __init__(self, sock):
        self.sock = sock
        self.setblocking(True)

    def setblocking(self, flag):
        if flag and hasattr(self.sock, "settimeout"):
            self.sock.settimeout(_SOCKET_TIMEOUT_S)
        else:
            self.sock.setblocking(flag)

    def read(self, n):
        return self.sock.read(n)

    def write(self, buf, n=None):
        return self.sock.write(buf) if n is None else self.sock.write(buf, n)

    def close(self):
        self.sock.close()


def _boot_cursor(store, legacy_path):
    """The upload cursor at boot: the journal's; else, on a meter whose firmware kept it in a
    `net_cursor` file (before the cursor moved into the journal), that file's, moved into the
    journal; else 0. The file goes once the journal has a cursor (record first, then the file:
    a cut in between finds both, and the journal's wins)."""
    import os

    cursor = store.upload_cursor()
    try:
        with open(legacy_path) as f:
            text = f.read()
    except OSError:
        return cursor or 0
    if cursor is None:
        try:
            cursor = min(int(text), store.journal.event_seq)
        except ValueError:
            cursor = 0
        if cursor > 0:
            store.save_cursor(cursor)
    for path in (legacy_path, legacy_path + ".tmp"):
        try:
            os.remove(path)
        except OSError:
            pass
    return cursor or 0
