"""Many lightweight meters for bench/headend.py: CPython MQTT speakers, not the firmware.

Each meter is its own paho-mqtt client (the head-end's library): its own connection, client
id = meter number, persistent session, the last will `{"online": false}` retained on its state
topic, subscribed to its own `cmd`. They speak the topic contract of docs/interfaces.md
("Online meters") as firmware/net/link.py does:

- `state` (QoS 1, retained) on connect and then every `state_every` seconds of real time, each
  one 15 s of meter time later (time is compressed: the meter clock runs 15 s per state);
- `events` (QoS 1): a new journal event every `event_every` states, with its seq; events after
  the ack cursor go again 10 s after they were sent without an ack (and after a reconnect);
- `cmd`: `{"ack": seq}` moves the cursor (never back, never past what was sent); a token is
  answered on `result` with `accepted` the first time its id is seen and `used` after (the
  meter's TID memory; the token itself is not decrypted: these meters have no keys), then the
  state goes out with the new credit; `reading` answers the state; anything else an error.

All meters run in one thread of one process: their sockets in one `selectors` loop, paho's
loop_read / loop_write / loop_misc called for the sockets that are ready (paho's external
event loop interface), so 1,000 meters cost one core at most.
"""

import json
import selectors
import time

import paho.mqtt.client as mqtt

ROOT = "prepay/v1/"
METER_SECONDS_PER_STATE = 15  # the firmware's state period, in meter time
RESEND_S = 10.0  # firmware/net/link.py _RESEND_MS
EVENTS_PER_POLL = 8  # firmware/net/link.py _EVENTS_PER_POLL
METER_EPOCH_START = 220_000_000  # meter time (seconds since 2020-01-01) at the start: late 2026
OFFLINE = b'{"online": false}'

# The journal events these meters produce, in turn (docs/core.md, Events): mostly harmless
# ones, and now and then a zone change to `low`, which the head-end announces (outbox row).
EVENT_CYCLE = (
    ("tamper", 1, 0),
    ("tamper", 0, 0),
    ("power_trip", 0, 0),
    ("zone", 0, 1),  # normal -> low: a credit_low message
    ("power_restore", 0, 0),
    ("zone", 1, 0),
)


class Meter:
    """One simulated meter's protocol state."""

    def __init__(self, number, index):
        self.number = number
        self.index = index
        self.client = None
        self.connected = False
        self.states = 0
        self.credit = 50_000
        self.energy_wh = 1_000_000 + index
        self.seq = 0  # newest event in the journal
        self.cursor = 0  # acked by the head-end
        self.sent = 0  # published up to
        self.sent_at = 0.0
        self.events = {}  # seq -> payload, unacked ones only
        self.seen_ids = set()  # TID memory of the tokens delivered

    def meter_time(self):
        return METER_EPOCH_START + self.states * METER_SECONDS_PER_STATE

    def state_doc(self):
        return {
            "online": True,
            "time": self.meter_time(),
            "credit": self.credit,
            "credit_text": f"{self.credit / 1000:.3f}",
            "scale": 1000,
            "unit": "kWh",
            "zone": "normal",
            "relay": "closed",
            "energy_wh": self.energy_wh,
            "power_w": 400 + self.index % 600,
            "firmware": "bench",
        }


class Swarm:
    """`count` meters on one broker; `run(stop)` drives them until `stop` is set."""

    def __init__(self, host, port, user, password, numbers, state_every, event_every, counters):
        self.host, self.port = host, port
        self.user, self.password = user, password
        self.meters = [Meter(n, i) for i, n in enumerate(numbers)]
        self.state_every = state_every
        self.event_every = event_every
        self.counters = counters  # name -> multiprocessing.Value: read by the bench
        self.published = {"state": 0, "events": 0, "result": 0}
        self.sel = selectors.DefaultSelector()
        self.dirty = set()  # clients with bytes left to write

    # ---- connections ----------------------------------------------------------------------
    def connect_all(self):
        for meter in self.meters:
            c = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=meter.number,
                clean_session=False,  # as the firmware: QoS 1 commands wait while we are away
                protocol=mqtt.MQTTv311,
                userdata=meter,
            )
            c.username_pw_set(self.user, self.password)
            c.will_set(ROOT + meter.number + "/state", OFFLINE, qos=1, retain=True)
            c.on_connect = self._on_connect
            c.on_message = self._on_message
            c.max_inflight_messages_set(100)
            meter.client = c
            c.connect(self.host, self.port, keepalive=60)
            self.sel.register(c.socket(), selectors.EVENT_READ, meter)

    def _on_connect(self, client, meter, _flags, code, _props):
        if code.value != 0:
            raise RuntimeError(f"meter {meter.number}: broker refused the connection: {code}")
        meter.connected = True
        client.subscribe(ROOT + meter.number + "/cmd", 1)
        meter.sent = meter.cursor  # whatever was unacknowledged goes again
        self._publish_state(meter)

    def _publish(self, meter, leaf, doc, retain=False):
        info = meter.client.publish(ROOT + meter.number + "/" + leaf, json.dumps(doc), 1, retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"meter {meter.number}: publish failed ({info.rc})")
        self.published[leaf] += 1
        if meter.client.want_write():
            self.dirty.add(meter.client)

    def _publish_state(self, meter):
        self._publish(meter, "state", meter.state_doc(), retain=True)

    # ---- what comes in ----------------------------------------------------------------------
    def _on_message(self, _client, meter, msg):
        try:
            cmd = json.loads(msg.payload)
        except ValueError:
            cmd = None
        if not isinstance(cmd, dict):
            self._publish(meter, "result", {"error": "bad_request"})
        elif "ack" in cmd:
            seq = cmd["ack"]
            if isinstance(seq, int) and meter.cursor < seq <= meter.sent:
                for s in range(meter.cursor + 1, seq + 1):
                    meter.events.pop(s, None)
                meter.cursor = seq
        elif "token" in cmd:
            ident = cmd.get("id")
            first = ident not in meter.seen_ids
            meter.seen_ids.add(ident)
            if first:
                meter.credit += 10_000
            result = {
                "id": ident,
                "token": str(cmd["token"]),
                "result": "accepted" if first else "used",
                "credit": meter.credit,
            }
            self._publish(meter, "result", result)
            self._publish_state(meter)
        elif "reading" in cmd:
            self._publish_state(meter)
            self._publish(meter, "result", {"id": cmd.get("id"), "result": "reading"})
        else:
            self._publish(meter, "result", {"id": cmd.get("id"), "error": "unknown_command"})

    # ---- what goes out ----------------------------------------------------------------------
    def _tick_meter(self, meter, now):
        """One state period of one meter: energy, maybe a new event, the state."""
        meter.states += 1
        meter.energy_wh += 2
        meter.credit -= 2
        if (meter.states + meter.index) % self.event_every == 0:
            meter.seq += 1
            kind, a, b = EVENT_CYCLE[meter.seq % len(EVENT_CYCLE)]
            meter.events[meter.seq] = {
                "event": kind,
                "seq": meter.seq,
                "time": meter.meter_time(),
                "a": a,
                "b": b,
            }
        self._send_events(meter, now)
        self._publish_state(meter)

    def _send_events(self, meter, now):
        if meter.sent > meter.cursor and now - meter.sent_at >= RESEND_S:
            meter.sent = meter.cursor  # no ack came: the head-end may not have them
        for seq in range(meter.sent + 1, min(meter.seq, meter.sent + EVENTS_PER_POLL) + 1):
            self._publish(meter, "events", meter.events[seq])
            meter.sent = seq
            meter.sent_at = now

    def _flush(self):
        for client in list(self.dirty):
            client.loop_write()
            if not client.want_write():
                self.dirty.discard(client)

    def _read_ready(self, timeout):
        for key, _mask in self.sel.select(timeout):
            meter = key.data
            rc = meter.client.loop_read(max_packets=16)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                raise RuntimeError(f"meter {meter.number}: connection lost ({rc})")
            if meter.client.want_write():
                self.dirty.add(meter.client)

    def _export(self):
        for name, value in self.published.items():
            self.counters[name].value = value
        self.counters["connected"].value = sum(m.connected for m in self.meters)

    def run(self, stop, publishing):
        """Until `stop`: read, answer, keep alive; while `publishing` is set, each meter sends
        its state every `state_every` s (staggered evenly: meter k of n at k/n of the period)."""
        n = len(self.meters)
        started = None
        done = 0  # state periods run so far, all meters together
        next_misc = next_export = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if publishing.is_set():
                if started is None:
                    started = now
                due = int((now - started) * n / self.state_every)
                for k in range(done, due):
                    meter = self.meters[k % n]
                    if meter.connected:
                        self._tick_meter(meter, now)
                done = max(done, due)
            self._flush()
            self._read_ready(0.005)
            self._flush()
            if now >= next_misc:
                for meter in self.meters:
                    meter.client.loop_misc()
                    if meter.connected and meter.sent > meter.cursor:
                        self._send_events(meter, now)  # resends without waiting for a tick
                next_misc = now + 1.0
            if now >= next_export:
                self._export()
                next_export = now + 0.05
        self._export()

    def close(self):
        for meter in self.meters:
            meter.client.disconnect()  # a clean disconnect: no last will
            meter.client.loop_write()
        self.sel.close()


def run_swarm(broker, numbers, state_every, event_every, counters, ready, publishing, stop):
    """Process entry: connect every meter, then run until `stop` (multiprocessing Events)."""
    host, port, user, password = broker
    swarm = Swarm(host, port, user, password, numbers, state_every, event_every, counters)
    swarm.connect_all()
    ready.set()
    try:
        swarm.run(stop, publishing)
    finally:
        swarm.close()
