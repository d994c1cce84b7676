"""The head-end service: telemetry, events, online/offline and the remote top-up queue.

paho-mqtt's network thread only puts received messages on a queue; one worker (`run`) does all
database work in order, so SQLite and PostgreSQL see one writer and a message is acknowledged
(events) or answered (deliveries) only after its transaction committed. The worker takes what
has queued up (up to BATCH_MAX messages) and handles it in one transaction: one commit (one
fsync) per batch instead of per message, the acks published after that commit
(bench/headend.py measures it).

- state (retained, last will `{"online": false}`): meter_links.online/state; online states also
  upsert the reading of their quarter hour (readings: meter time // 900).
- events: stored once per (meter, seq); the head-end then acks the newest seq up to which it
  holds every event (meter_links.acked_seq), so the meter's cursor never skips one. Each event
  is announced (customer message, announce.py) when that run grows past it: in seq order.
  Events the meter announces lost (`{"gap": [first, last]}`) are stored as one `events_lost`
  row (announced to nobody) and the ack moves past them.
- deliveries: a pending token for an online meter is published on its cmd topic (QoS 1) and
  marked sent; without a result it is sent again after RESEND_S. The result closes it:
  accepted -> accepted, used (typed in first, or a resend already applied) -> done, any other
  token result (reject: wrong key or forged, old: expired, overflow...) -> rejected, never sent
  again (a refused token counts towards the meter's keypad lockout). Except `locked`: the
  meter's lockout (wrong entries) refused to look at it, so it stays sent and goes again after
  LOCKED_RESEND_S, when the lockout (at most 1,280 s) may be over; slowly, because every entry
  is a journal event. A meter applies a token once whatever the resends (TID memory).

`serve` runs the worker and, beside it in a second thread, the customer-message dispatcher
(host_tools/notify/dispatcher.py, the loop of `prepay notify run`): `prepay headend`.
"""

import json
import os
import queue
import signal
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from sqlalchemy import and_, bindparam, or_, select, update

from host_tools.headend.announce import announce
from host_tools.headend.links import EVENTS_LOST
from host_tools.vending import StationError, db
from token_spec.errors import RESULT_CODES, RESULT_LOCKED

ROOT = "prepay/v1/"
# stored | pushed | closed: SIGKILL there, after the step's commit and before its publish or
# the next step (tests/online/test_fault_kill.py; inert unless set, like the dispatcher's)
CRASH_ENV = "PREPAY_HEADEND_CRASH_AT"
RESEND_S = 5.0
LOCKED_RESEND_S = 60.0
PUSH_EVERY_S = 0.2
BATCH_MAX = 500  # messages per transaction: bounds how long the write lock is held
READING_S = 900  # telemetry resolution: one reading per meter per quarter hour

_l, _ev, _rd, _dl = db.meter_links, db.meter_events, db.readings, db.deliveries
# States at QoS 0: telemetry that the next state replaces, and the retained one arrives at every
# (re)subscribe; so no PUBACK per state and, while the head-end is away, the broker's queue for
# it (max_queued_messages) holds events and results only, not 1,000 meters' states.
_SUBSCRIPTIONS = (("state", 0), ("events", 1), ("result", 1))
_CLOSING = {"accepted": "accepted", "used": "done"}  # any other result code: rejected


# The fields each message's work converts with int(): checked first (int() works), and every
# whole number must fit a BIGINT, so no message can fail inside a batch's transaction.
_NUMBERS = {"state": ("credit", "energy_wh", "power_w"), "events": ("time", "a", "b")}
_BIGINT = range(-(2**63), 2**63)


def _numbers_fit(doc, names):
    if any(isinstance(v, int) and v not in _BIGINT for v in doc.values()):
        return False
    for name in names:
        value = doc.get(name, 0)
        if value is None and name == "power_w":  # stored as 0
            continue
        try:
            if int(value) not in _BIGINT:
                return False
        except (TypeError, ValueError, OverflowError):
            return False
    return True


# The state path's statements, built once (bench/headend.py: building them per message cost
# more than running them).
_LINKS_OF = select(_l.c.meter, _l.c.online, _l.c.changed_at).where(
    _l.c.meter.in_(bindparam("meters", expanding=True))
)
_UPDATE_LINK = update(_l).where(_l.c.meter == bindparam("b_meter"))
_RESEND_TO = (
    update(_dl)
    .where(and_(_dl.c.meter == bindparam("b_meter"), _dl.c.status == "sent"))
    .values(status="pending")
)
_UPSERTS = {}


def _upsert_reading(dialect):
    """INSERT ... ON CONFLICT (meter, slot) DO UPDATE for this database (both have it)."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(_rd)
        fields = ("credit", "energy_wh", "power_w", "relay", "zone")
        stmt = stmt.on_conflict_do_update(
            index_elements=[_rd.c.meter, _rd.c.slot], set_={f: stmt.excluded[f] for f in fields}
        )
        _UPSERTS[dialect] = stmt
    return stmt


def _reading_row(doc):
    return {
        "credit": int(doc.get("credit", 0)),
        "energy_wh": int(doc.get("energy_wh", 0)),
        "power_w": int(doc.get("power_w") or 0),
        "relay": str(doc.get("relay")),
        "zone": str(doc.get("zone")),
    }


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
        self.crash_at = os.environ.get(CRASH_ENV, "")
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
        self._batch_conn = None  # the open transaction while a batch is handled
        self._after_commit = []  # (topic, payload) to publish once that transaction committed
        self._crashes = set()  # fault-test crash points reached in the open batch
        self._states = []  # (meter, doc): the batch's state messages not yet written
        self._state_meters = set()  # their meters

    def _on_connect(self, client, _u, _flags, code, _props):
        if code.value != 0:
            return
        for leaf, qos in _SUBSCRIPTIONS:
            client.subscribe(ROOT + "+/" + leaf, qos)
        self.connected.set()

    def _crash(self, point):
        if self.crash_at == point:
            os.kill(os.getpid(), signal.SIGKILL)

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
            batch = self._take(PUSH_EVERY_S)
            if batch:
                self.handle_batch(batch)
            if time.monotonic() >= next_push and self.connected.is_set():
                self.push_deliveries()
                next_push = time.monotonic() + PUSH_EVERY_S

    def _take(self, timeout):
        """The messages queued up (at most BATCH_MAX), waiting up to `timeout` for the first."""
        try:
            batch = [self.inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(batch) < BATCH_MAX:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def handle_batch(self, batch):
        """[(topic, payload)] in one transaction, in order; what they publish (acks) goes out
        after its commit. A retried transaction runs them all again from the start."""

        def work(conn):
            self._batch_conn, self._after_commit, self._crashes = conn, [], set()
            self._states, self._state_meters = [], set()
            try:
                for topic, payload in batch:
                    self._handle(topic, payload)
                self._flush_states(conn)
            finally:
                self._batch_conn = None
            return self._after_commit

        after_commit = self.station.write(work)
        for point in sorted(self._crashes):
            self._crash(point)  # the fault test's points: committed, nothing published yet
        for topic, payload in after_commit:
            self.client.publish(topic, payload, qos=1)
        self.stats["messages"] += len(batch)  # handled: committed

    def handle(self, topic, payload):
        """One received message, in its own transaction."""
        self.handle_batch([(topic, payload)])

    def _write(self, work):
        """`work(conn)` in the batch's transaction, or in its own outside a batch."""
        if self._batch_conn is not None:
            return work(self._batch_conn)
        return self.station.write(work)

    def _publish(self, topic, payload):
        """Publish now, or after the batch's transaction committed."""
        if self._batch_conn is not None:
            self._after_commit.append((topic, payload))
        else:
            self.client.publish(topic, payload, qos=1)

    def _handle(self, topic, payload):
        """One message of a batch; a malformed one is dropped (the broker ACL already vouches
        for which meter sent it: the topic's meter)."""
        parts = topic.split("/")
        if len(parts) != 4:
            return
        meter, leaf = parts[2], parts[3]
        try:
            doc = json.loads(payload)
        except ValueError:
            return
        if not isinstance(doc, dict) or not _numbers_fit(doc, _NUMBERS.get(leaf, ())):
            return  # checked before any write: a bad field never fails a whole batch
        if leaf == "state":
            self._states.append((meter, doc))  # written together: _flush_states
            self._state_meters.add(meter)
            return
        if meter in self._state_meters:
            self._flush_states(self._batch_conn)  # this meter's states first, in order
        if leaf == "events":
            self._event(meter, doc)
        elif leaf == "result":
            self._result(meter, doc)

    def _flush_states(self, conn):
        """The batch's state messages so far, in order, as a few multi-row statements: each
        meter's link (online, last state, changed_at when online changed), the reading of each
        quarter hour (the last state in it wins), and deliveries in flight go again at once
        for a meter back online. The same rows as one message at a time, fewer round trips."""
        pending, meters = self._states, self._state_meters
        self._states, self._state_meters = [], set()
        if not pending:
            return
        found = conn.execute(_LINKS_OF, {"meters": list(meters)}).all()
        known = {row.meter: {"online": row.online, "changed_at": row.changed_at} for row in found}
        links, readings, back_online = {}, {}, set()
        now = _now_text()
        for meter, doc in pending:
            online = doc.get("online") is True
            was = links.get(meter) or known.get(meter)
            changed = was is None or was["online"] != online
            links[meter] = {
                "online": online,
                "state": json.dumps(doc, sort_keys=True),
                "changed_at": now if changed else was["changed_at"],
            }
            if online and changed:
                back_online.add(meter)  # whatever was in flight goes again at once
            if online and isinstance(doc.get("time"), int):
                readings[(meter, doc["time"] // READING_S)] = _reading_row(doc)
        old = [dict(v, b_meter=m) for m, v in links.items() if m in known]
        new = [dict(v, meter=m, acked_seq=0) for m, v in links.items() if m not in known]
        if old:
            conn.execute(_UPDATE_LINK, old)
        if new:
            conn.execute(_l.insert(), new)
        if readings:
            rows = [dict(row, meter=m, slot=slot) for (m, slot), row in readings.items()]
            conn.execute(_upsert_reading(conn.dialect.name), rows)
        if back_online:
            conn.execute(_RESEND_TO, [{"b_meter": m} for m in back_online])

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
                and gap[1] in _BIGINT  # a seq the database can hold: one bad gap fails no batch
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
                conn.execute(
                    _ev.insert().values(
                        meter=meter,
                        seq=seq,
                        time=int(doc.get("time", 0)),
                        kind=str(doc.get("event")),
                        a=int(doc.get("a", 0)),
                        b=int(doc.get("b", 0)),
                        received_at=_now_text(),
                    )
                )
                self.stats["events_stored"] += 1
            top = acked
            while True:  # the newest seq with every event before it stored (or known lost)
                nxt = conn.execute(
                    select(_ev).where(and_(_ev.c.meter == meter, _ev.c.seq == top + 1))
                ).first()
                if nxt is None:
                    break
                if nxt.kind == EVENTS_LOST:
                    top = max(top + 1, nxt.b)  # lost on the meter: nothing to announce
                    continue
                top += 1
                # The customer's message (credit low, supply cut...) in this same transaction,
                # in seq order as the stored run grows past the event: a head-end restart can
                # store a later event before an earlier one (messages it took from the broker
                # died with it and come again only with the meter's resend), and a restore is
                # told apart by the relay event before it, which must be stored by then.
                ev_doc = {"event": nxt.kind, "a": nxt.a, "b": nxt.b}
                announce(conn, meter, nxt.seq, ev_doc, nxt.received_at)
            if top != acked:
                conn.execute(update(_l).where(_l.c.meter == meter).values(acked_seq=top))
            return top

        top = self._write(work)
        self._crashes.add("stored")  # SIGKILL after the batch's commit, before the ack goes
        if top:
            self._publish(ROOT + meter + "/cmd", json.dumps({"ack": top}))

    def _result(self, meter, doc):
        ident, result = doc.get("id"), doc.get("result")
        # A token's result (a config's is applied/refused, a reading's reading): also one
        # without "token", the meter's answer to digits it could not even parse.
        if not isinstance(ident, int) or result not in RESULT_CODES:
            return
        if result == RESULT_LOCKED:
            values = {"status": "sent", "result": result, "sent_at": _now_text()}
        else:
            values = {"status": _CLOSING.get(result, "rejected"), "result": result}
            values["closed_at"] = _now_text()

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
                .values(**values)
            )
            return done.rowcount

        closed = self._write(work)
        if "closed_at" in values:
            self.stats["closed"] += closed
        self._crashes.add("closed")

    # ---- remote top-up ----------------------------------------------------------------------
    def push_deliveries(self):
        """Publish every pending delivery (and every sent one past RESEND_S) for online meters."""
        now = time.time()
        cutoff = datetime.fromtimestamp(now - RESEND_S, UTC).isoformat(timespec="seconds")
        locked = datetime.fromtimestamp(now - LOCKED_RESEND_S, UTC).isoformat(timespec="seconds")
        unlocked = or_(_dl.c.result.is_(None), _dl.c.result != RESULT_LOCKED)

        def work(conn):
            rows = conn.execute(
                select(_dl.c.txn_id, _dl.c.meter, _dl.c.digits)
                .join(_l, _l.c.meter == _dl.c.meter)
                .where(
                    and_(
                        _l.c.online.is_(True),
                        or_(
                            _dl.c.status == "pending",
                            and_(_dl.c.status == "sent", _dl.c.sent_at < cutoff, unlocked),
                            and_(_dl.c.status == "sent", _dl.c.sent_at < locked),
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

        rows = self.station.write(work)
        if rows:
            self._crash("pushed")
        for row in rows:
            cmd = {"id": row.txn_id, "token": row.digits}
            self.client.publish(ROOT + row.meter + "/cmd", json.dumps(cmd), qos=1)
            self.stats["pushed"] += 1


def serve(headend, stop, notify=True, poll=1.0):
    """`headend.run(stop)` in this thread and, unless `notify` is False, the customer-message
    dispatcher in a second one, until `stop` is set (SIGTERM/SIGINT in `prepay headend`).

    The dispatcher stops between deliveries, never with one claimed, so a clean shutdown parks
    nothing. A failure in either thread sets `stop` (the other ends too) and is raised here: a
    head-end whose dispatcher died must not go on looking healthy. Another dispatcher (`prepay
    notify run`) may run at the same time: claims are compare-and-set (docs/notify.md)."""
    failures = []
    thread = None
    if notify:
        from host_tools.notify.dispatcher import Dispatcher

        dispatcher = Dispatcher(headend.station)

        def dispatch():
            try:
                dispatcher.run_forever(poll, stop=stop.is_set, wait=stop.wait)
            except BaseException as error:  # noqa: BLE001 - handed to the main thread
                failures.append(error)
                stop.set()

        thread = threading.Thread(target=dispatch, name="notify-dispatcher", daemon=True)
        thread.start()
    try:
        headend.run(stop)
    finally:
        stop.set()
        if thread is not None:
            thread.join()
    if failures:
        raise failures[0]
