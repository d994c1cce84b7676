"""A lightweight CPython meter speaking the online-meter topic contract (docs/interfaces.md,
"Online meters") for tests that need several meters and no firmware: the head-end cannot tell
it from `firmware/net/link.py`.

- `state` retained (QoS 1) on connect, on change and on `tick()` every `state_every_s`, with
  the last will `{"online": false}`;
- `events` (QoS 1): the events added by `add_event`, in seq order, at most 8 per tick after
  the upload cursor; the cursor moves only on `{"ack": seq}` (never past what was sent), and
  unacknowledged events go again after a reconnect or `resend_s` without an ack — the
  firmware's rule (its `_RESEND_MS` is 10 s);
- `cmd`: `{"id", "token"}` is "applied" once per 20 digits (TID memory): `accepted` the
  first time, `used` for a repeat or a token typed in first (`keypad`); the result goes out
  on `result` like the firmware's `{"id", "token", "result", "credit"}`.

It keeps what a test checks afterwards: `events`, `cursor`, `applied` (digits -> how many
times it credited them: must be 1) and `results`. Not the firmware: no token decryption (a
token is its digits), no relay or credit arithmetic.
"""

import json
import threading
import time

import paho.mqtt.client as mqtt

OFFLINE = '{"online": false}'
EVENTS_PER_TICK = 8


class SpeakerMeter:
    def __init__(self, number, broker, password, resend_s=10.0, state_every_s=15.0):
        self.number = number
        self.resend_s = resend_s
        self.state_every_s = state_every_s
        self.lock = threading.Lock()
        self.events = []  # [{"event", "seq", "time", "a", "b"}], seq = index + 1
        self.cursor = 0  # acknowledged by the head-end
        self.sent = 0  # published up to
        self.sent_at = 0.0
        self.state_at = 0.0
        self.time = 1_000_000  # meter time, seconds
        self.credit = 0
        self.applied = {}  # digits -> times credited
        self.results = []  # (id, digits, result)
        self.connected = threading.Event()
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=number,
            clean_session=False,  # commands for us wait at the broker
            protocol=mqtt.MQTTv311,
        )
        c.username_pw_set(number, password)
        c.will_set(self._topic("state"), OFFLINE, qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *a: self.connected.clear()
        c.on_message = self._on_message
        self.client = c
        c.connect(broker.host, broker.port, keepalive=30)
        c.loop_start()

    def _topic(self, leaf):
        return f"prepay/v1/{self.number}/{leaf}"

    def _on_connect(self, client, _u, _flags, code, _props):
        if code.value != 0:
            return
        client.subscribe(self._topic("cmd"), 1)
        with self.lock:
            self.sent = self.cursor  # whatever was unacknowledged goes again
            self._publish_state()
        self.connected.set()

    def _publish_state(self):
        self.state_at = time.monotonic()
        doc = {"online": True, "time": self.time, "credit": self.credit, "zone": 0, "relay": 1,
               "energy_wh": 0, "power_w": 0, "firmware": "speaker"}  # fmt: skip
        self.client.publish(self._topic("state"), json.dumps(doc), qos=1, retain=True)

    # ---- what the meter does ----------------------------------------------------------------
    def add_event(self, name, a=0, b=0):
        """Commit one journal event; returns its seq."""
        with self.lock:
            self.time += 1
            seq = len(self.events) + 1
            self.events.append({"event": name, "seq": seq, "time": self.time, "a": a, "b": b})
            return seq

    def keypad(self, digits):
        """The customer types a token in: the same rule as a delivered one."""
        with self.lock:
            return self._apply(digits)

    def _apply(self, digits):
        if digits in self.applied:
            return "used"
        self.applied[digits] = 1
        self.credit += 1
        return "accepted"

    def tick(self):
        """One bounded piece of link work (the firmware's `poll`): events and state."""
        now = time.monotonic()
        with self.lock:
            if not self.connected.is_set():
                return
            if self.sent > self.cursor and now - self.sent_at >= self.resend_s:
                self.sent = self.cursor  # no ack came: the head-end may not have them
            for event in self.events[self.sent : self.sent + EVENTS_PER_TICK]:
                self.client.publish(self._topic("events"), json.dumps(event), qos=1)
                self.sent = event["seq"]
                self.sent_at = now
            if now - self.state_at >= self.state_every_s:
                self._publish_state()

    # ---- what comes in ----------------------------------------------------------------------
    def _on_message(self, _client, _u, message):
        try:
            cmd = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(cmd, dict):
            return
        with self.lock:
            if "ack" in cmd:
                seq = cmd["ack"]
                if isinstance(seq, int) and self.cursor < seq <= self.sent:
                    self.cursor = seq
            elif "token" in cmd:
                digits = str(cmd["token"])
                result = self._apply(digits)
                self.results.append((cmd.get("id"), digits, result))
                out = {"id": cmd.get("id"), "token": digits, "result": result,
                       "credit": self.credit}  # fmt: skip
                self.client.publish(self._topic("result"), json.dumps(out), qos=1)
                self._publish_state()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()
