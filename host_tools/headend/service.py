"""The head-end service: telemetry, events, online/offline and the remote top-up queue.

paho-mqtt's network thread only puts received messages on a queue; one worker (`run`) does all
database work in order, so SQLite and PostgreSQL see one writer and a message is acknowledged
(events) or answered (deliveries) only after its transaction committed.

- state (retained, last will `{"online": false}`): meter_links.online/state; online states also
  upsert the reading of their quarter hour (readings: meter time // 900).
- events: stored once per (meter, seq); the head-end then acks the newest seq up to which it
  holds every event (meter_links.acked_seq), so the meter's cursor never skips one. Events the
  meter announces lost (`{"gap": [first, last]}`) are stored as one `events_lost` row and the
  ack moves past them.
- deliveries: a pending token for an online meter is published on its cmd topic (QoS 1) and
  marked sent; without a result it is sent again after RESEND_S. The result closes it:
  accepted -> accepted, used (typed in first, or a resend already applied) -> done, any other
  code -> rejected. A meter applies a token once whatever the resends (TID memory).
"""

import json
import queue
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from sqlalchemy import and_, or_, select, update

from host_tools.headend.announce import announce
from host_tools.vending import StationError, db

ROOT = "prepay/v1/"
RESEND_S = 5.0
PUSH_EVERY_S = 0.2
READING_S = 900  # telemetry resolution: one reading per meter per quarter hour

_l, _ev, _rd, _dl = db.meter_links, db.meter_events, db.readings, db.deliveries
# A meter event the head-end writes for events the meter announced lost (seq = first lost,
# a = how many, b = last lost): an outage outlived the meter's 256-event ring.
EVENTS_LOST = "events_lost"
_CLOSING = {"accepted": "accepted", "used": "done"}  # any other result code: rejected


def _now_text():
    return datetime.now(UTC).isoformat(timespec="seconds")


def parse_broker_url(url):
    """(host, port, tls) of mqtt://host[:port] or mqtts://host[:port]; StationError if not."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise StationError(f"broker {url!r} is not a URL like mqtt://host:1883")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


def _store_gap(conn, meter, gap, acked, doc):
    """Store the events a meter says it lost (`gap` = [first, last]) as `events_lost` rows
    (seq = the first lost, a = how many, b = the last), only for seqs the head-end holds
    nothing for and has not acked: a gap announced again, or one over events that did arrive
    (from an earlier send), stores just the holes, once. Returns the rows added."""
    first, last = max(gap[0], acked + 1), gap[1]
    if first > last:
        return 0
    held = conn.execute(
        select(_ev.c.seq, _ev.c.kind, _ev.c.b)
        .where(and_(_ev.c.meter == meter, _ev.c.seq >= first, _ev.c.seq <= last))
        .order_by(_ev.c.seq)
    ).all()
    before = conn.execute(  # a stored gap that began before `first` may reach into it
        select(_ev.c.b)
        .where(and_(_ev.c.meter == meter, _ev.c.seq < first, _ev.c.kind == EVENTS_LOST))
        .order_by(_ev.c.seq.desc())
        .limit(1)
    ).first()
    at = first if before is None else max(first, before.b + 1)
    holes = []
    for row in held:
        if row.seq > at:
            holes.append((at, row.seq - 1))
        at = max(at, (row.b if row.kind == EVENTS_LOST else row.seq) + 1)
    if at <= last:
        holes.append((at, last))
    now = _now_text()
    t = doc.get("time")
    for lo, hi in holes:
        conn.execute(
            _ev.insert().values(
                meter=meter,
                seq=lo,
                time=t if isinstance(t, int) else 0,
                kind=EVENTS_LOST,
                a=hi - lo + 1,
                b=hi,
                received_at=now,
            )
        )
    return len(holes)


class Headend:
    """One head-end process: `start()` connects, `run(stop)` works until `stop` is set."""

    def __init__(self, station, broker_url, user, password, ca_file=None, client_id="headend"):
        self.station = station
        self.host, self.port, self.tls = parse_broker_url(broker_url)
        self.inbox = queue.Queue()
        self.stats = {"messages": 0, "events_stored": 0, "pushed": 0, "closed": 0}
        self.connected = threading.Event()
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,  # QoS 1 messages for us wait at the broker while we are away
            protocol=mqtt.MQTTv311,
        )
        c.username_pw_set(user, password)
        if self.tls:
            c.tls_set(ca_certs=ca_file)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *a: self.connected.clear()
        c.on_message = lambda _c, _u, m: self.inbox.put((m.topic, m.payload))
        c.reconnect_delay_set(1, 30)
        self.client = c

    def _on_connect(self, client, _u, _flags, code, _props):
        if code.value != 0:
            return
        for leaf in ("state", "events", "result"):
            client.subscribe(ROOT + "+/" + leaf, 1)
        self.connected.set()

    def start(self):
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()

    # ---- the worker -------------------------------------------------------------------------
    def run(self, stop):
        next_push = 0.0
        while not stop.is_set():
            try:
                topic, payload = self.inbox.get(timeout=PUSH_EVERY_S)
                self.handle(topic, payload)
            except queue.Empty:
                pass
            if time.monotonic() >= next_push and self.connected.is_set():
                self.push_deliveries()
                next_push = time.monotonic() + PUSH_EVERY_S

    def handle(self, topic, payload):
        """One received message; a malformed one is dropped (the broker ACL already vouches
        for which meter sent it: the topic's meter)."""
        self.stats["messages"] += 1
        parts = topic.split("/")
        if len(parts) != 4:
            return
        meter, leaf = parts[2], parts[3]
        try:
            doc = json.loads(payload)
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        if leaf == "state":
            self._state(meter, doc)
        elif leaf == "events":
            self._event(meter, doc)
        elif leaf == "result":
            self._result(meter, doc)

    def _state(self, meter, doc):
        online = doc.get("online") is True

        def work(conn):
            found = conn.execute(select(_l.c.online).where(_l.c.meter == meter)).first()
            values = {"online": online, "state": json.dumps(doc, sort_keys=True)}
            if found is None:
                conn.execute(
                    _l.insert().values(meter=meter, changed_at=_now_text(), acked_seq=0, **values)
                )
            else:
                if found.online != online:
                    values["changed_at"] = _now_text()
                conn.execute(update(_l).where(_l.c.meter == meter).values(**values))
            if online and isinstance(doc.get("time"), int):
                self._reading(conn, meter, doc)
            if online and (found is None or not found.online):
                # back online: whatever was in flight goes again at once
                conn.execute(
                    update(_dl)
                    .where(and_(_dl.c.meter == meter, _dl.c.status == "sent"))
                    .values(status="pending")
                )

        self.station.write(work)

    def _reading(self, conn, meter, doc):
        slot = doc["time"] // READING_S
        row = {
            "credit": int(doc.get("credit", 0)),
            "energy_wh": int(doc.get("energy_wh", 0)),
            "power_w": int(doc.get("power_w") or 0),
            "relay": str(doc.get("relay")),
            "zone": str(doc.get("zone")),
        }
        key = and_(_rd.c.meter == meter, _rd.c.slot == slot)
        if conn.execute(select(_rd.c.slot).where(key)).first() is None:
            conn.execute(_rd.insert().values(meter=meter, slot=slot, **row))
        else:
            conn.execute(update(_rd).where(key).values(**row))

    def _event(self, meter, doc):
        """One event (`seq`), or a gap the meter announces (`{"gap": [first, last]}`: events it
        no longer holds, docs/online.md), stored once; then ack the newest contiguous seq."""
        gap = doc.get("gap")
        if gap is not None:
            if not (
                isinstance(gap, list)
                and len(gap) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) for n in gap)
                and 0 < gap[0] <= gap[1]
            ):
                return
            seq = gap[0]
        else:
            seq = doc.get("seq")
            if not isinstance(seq, int) or seq <= 0:
                return

        def work(conn):
            link = conn.execute(select(_l.c.acked_seq).where(_l.c.meter == meter)).first()
            if link is None:
                conn.execute(
                    _l.insert().values(
                        meter=meter, online=True, changed_at=_now_text(), acked_seq=0
                    )
                )
                acked = 0
            else:
                acked = link.acked_seq
            if gap is not None:
                self.stats["events_stored"] += _store_gap(conn, meter, gap, acked, doc)
            elif (
                conn.execute(
                    select(_ev.c.seq).where(and_(_ev.c.meter == meter, _ev.c.seq == seq))
                ).first()
                is None
            ):
                now = _now_text()
                conn.execute(
                    _ev.insert().values(
                        meter=meter,
                        seq=seq,
                        time=int(doc.get("time", 0)),
                        kind=str(doc.get("event")),
                        a=int(doc.get("a", 0)),
                        b=int(doc.get("b", 0)),
                        received_at=now,
                    )
                )
                # The customer's message (credit low, supply cut...) in the same transaction.
                announce(conn, meter, seq, doc, now)
                self.stats["events_stored"] += 1
            top = acked
            while True:  # the newest seq with every event before it stored (or known lost)
                nxt = conn.execute(
                    select(_ev.c.kind, _ev.c.b).where(
                        and_(_ev.c.meter == meter, _ev.c.seq == top + 1)
                    )
                ).first()
                if nxt is None:
                    break
                top = max(top + 1, nxt.b) if nxt.kind == EVENTS_LOST else top + 1
            if top != acked:
                conn.execute(update(_l).where(_l.c.meter == meter).values(acked_seq=top))
            return top

        top = self.station.write(work)
        if top:
            self.client.publish(ROOT + meter + "/cmd", json.dumps({"ack": top}), qos=1)

    def _result(self, meter, doc):
        ident, result = doc.get("id"), doc.get("result")
        if not isinstance(ident, int) or not isinstance(result, str) or "token" not in doc:
            return
        status = _CLOSING.get(result, "rejected")

        def work(conn):
            done = conn.execute(
                update(_dl)
                .where(
                    and_(
                        _dl.c.txn_id == ident,
                        _dl.c.meter == meter,
                        _dl.c.status.in_(("pending", "sent")),
                    )
                )
                .values(status=status, result=result, closed_at=_now_text())
            )
            return done.rowcount

        self.stats["closed"] += self.station.write(work)

    # ---- remote top-up ----------------------------------------------------------------------
    def push_deliveries(self):
        """Publish every pending delivery (and every sent one past RESEND_S) for online meters."""
        cutoff = datetime.fromtimestamp(time.time() - RESEND_S, UTC).isoformat(timespec="seconds")

        def work(conn):
            rows = conn.execute(
                select(_dl.c.txn_id, _dl.c.meter, _dl.c.digits)
                .join(_l, _l.c.meter == _dl.c.meter)
                .where(
                    and_(
                        _l.c.online.is_(True),
                        or_(
                            _dl.c.status == "pending",
                            and_(_dl.c.status == "sent", _dl.c.sent_at < cutoff),
                        ),
                    )
                )
                .order_by(_dl.c.txn_id)
                .limit(200)
            ).all()
            for row in rows:
                conn.execute(
                    update(_dl)
                    .where(_dl.c.txn_id == row.txn_id)
                    .values(status="sent", sent_at=_now_text(), attempts=_dl.c.attempts + 1)
                )
            return rows

        for row in self.station.write(work):
            cmd = {"id": row.txn_id, "token": row.digits}
            self.client.publish(ROOT + row.meter + "/cmd", json.dumps(cmd), qos=1)
            self.stats["pushed"] += 1
