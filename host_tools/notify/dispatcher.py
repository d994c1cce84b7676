"""`prepay notify run`: turn outbox rows into deliveries and send each AT MOST ONCE.

The protocol (docs/notify.md):
1. Fan-out, one transaction: an outbox row becomes one delivery per channel the customer opted
   in to (unique per row and channel), its text rendered, and the row is marked fanned.
2. Claim, one COMMITTED transaction: a due `pending` delivery becomes `sending` (compare and
   set on its state, so two dispatchers never both take it), with who claimed it and when.
3. Send. 4. Mark, one transaction: `sent`; or after a certain refusal (channels.Refused)
   `pending` again with exponential backoff, or `parked` after max_attempts; after an
   uncertain failure (it may have gone out) `parked` at once.
A delivery found `sending` whose dispatcher is gone (its pid is dead on this host, or it was
claimed longer than stale_after_seconds ago by another host) may or may not have gone out: it is
parked for a person (`prepay notify parked`, `prepay notify retry ID`), never resent by itself.
So a crash anywhere sends nothing twice, loses nothing (every message ends sent or parked), and
leaves nothing stuck.
"""

import os
import signal
import socket
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from host_tools.notify import channels, messages, settings
from host_tools.vending import StationError, db, registry

CRASH_ENV = "PREPAY_NOTIFY_CRASH_AT"  # fanned | claimed | sent | marked: SIGKILL there (tests)
_d, _o = db.notify_deliveries, db.notify_outbox
FAN_BATCH = 100
_STOPPED = (
    "uncertain: its dispatcher stopped while sending; "
    "check with the customer before `prepay notify retry`"
)


def _iso(moment):
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def whoami():
    return f"{socket.gethostname()}:{os.getpid()}"


class Dispatcher:
    """One dispatcher process on an opened station (`clock` returns an aware datetime)."""

    def __init__(self, station, clock=None):
        self.station = station
        self.clock = clock or (lambda: datetime.now(UTC))
        self.me = whoami()
        self.crash_at = os.environ.get(CRASH_ENV, "")
        self.counts = {"fanned": 0, "sent": 0, "retry": 0, "parked": 0}

    def _crash(self, point):
        if self.crash_at == point:
            os.kill(os.getpid(), signal.SIGKILL)

    # ---- quiet hours -------------------------------------------------------------------------

    def not_before(self, when, channel, critical, conf):
        """`when`, or the end of the quiet hours if an SMS would arrive in them (station time
        zone); a supply-cut message (critical) is sent at night too."""
        if channel != "sms" or critical:
            return when
        local = when.astimezone(self.station.tz)
        start = _minutes(conf["quiet_start"])
        end = _minutes(conf["quiet_end"])
        now_min = local.hour * 60 + local.minute
        quiet = (start <= now_min or now_min < end) if start > end else start <= now_min < end
        if not quiet or start == end:
            return when
        wake = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
        if wake <= local:
            wake += timedelta(days=1)
        return wake.astimezone(UTC)

    # ---- the steps ---------------------------------------------------------------------------

    def recover(self, conf):
        """Park deliveries left `sending` by a dispatcher that is gone (see the module doc)."""
        now = self.clock()
        stale = _iso(now - timedelta(seconds=int(conf["stale_after_seconds"])))
        host = socket.gethostname()

        def work(conn):
            rows = conn.execute(
                select(_d.c.id, _d.c.claimed_by, _d.c.claimed_at).where(_d.c.state == "sending")
            ).all()
            parked = 0
            for row in rows:
                owner_host, _, pid = (row.claimed_by or "").rpartition(":")
                gone = owner_host == host and pid.isdigit() and not _alive(int(pid))
                if row.claimed_by != self.me and (gone or (row.claimed_at or "") < stale):
                    parked += self._park(conn, row.id, _STOPPED, "sending")
            return parked

        self.counts["parked"] += self.station.write(work)

    def fan_out(self, conf):
        """Outbox rows -> deliveries, in batches of FAN_BATCH, each batch one transaction."""
        now = self.clock()

        def work(conn):
            rows = conn.execute(
                select(_o).where(_o.c.fanned_at.is_(None)).order_by(_o.c.id).limit(FAN_BATCH)
            ).all()
            for row in rows:
                try:
                    deliveries = list(self._deliveries(conn, row, conf, now))
                except Exception as error:  # noqa: BLE001 - one bad row must not block the rest
                    deliveries = [_unrenderable(row, now, error)]
                for delivery in deliveries:
                    conn.execute(_d.insert().values(**delivery))
                conn.execute(
                    _o.update()
                    .where(_o.c.id == row.id, _o.c.fanned_at.is_(None))
                    .values(fanned_at=_iso(now))
                )
            return len(rows)

        while True:
            done = self.station.write(work)
            self.counts["fanned"] += done
            if done:
                self._crash("fanned")
            if done < FAN_BATCH:
                return

    def _deliveries(self, conn, row, conf, now):
        contact = registry.get_contact(conn, row.meter)
        text = messages.render(contact["language"], row.kind, messages.figures(conn, row))
        critical = row.kind == "supply_cut"
        wanted = []
        if contact["email_opt_in"] and contact["email"]:
            wanted.append(("email", contact["email"], text["subject"], text["email"]))
        if contact["sms_opt_in"] and contact["sms_number"]:
            wanted.append(("sms", contact["sms_number"], "", text["sms"]))
        if conf["file_path"]:
            wanted.append(("file", f"meter {row.meter}", text["subject"], text["sms"]))
        for channel, recipient, subject, body in wanted:
            yield {
                "outbox_id": row.id,
                "channel": channel,
                "recipient": recipient,
                "subject": subject,
                "body": body,
                "critical": critical,
                "state": "pending",
                "attempts": 0,
                "next_at": _iso(self.not_before(now, channel, critical, conf)),
                "last_error": "",
            }

    def claim(self):
        """The next due delivery, now `sending` and committed as ours; None if none is due."""
        now = _iso(self.clock())

        def work(conn):
            while True:
                row = conn.execute(
                    select(_d)
                    .where(_d.c.state == "pending", _d.c.next_at <= now)
                    .order_by(_d.c.next_at, _d.c.id)
                    .limit(1)
                ).first()
                if row is None:
                    return None
                taken = conn.execute(
                    _d.update()
                    .where(_d.c.id == row.id, _d.c.state == "pending")
                    .values(state="sending", claimed_by=self.me, claimed_at=now,
                            attempts=row.attempts + 1)
                ).rowcount  # fmt: skip
                if taken:
                    return dict(row._mapping, attempts=row.attempts + 1)

        return self.station.write(work)

    def deliver(self, conf, delivery):
        """Send one claimed delivery and record the outcome."""
        try:
            channels.send(delivery["channel"], conf, delivery)
        except channels.Refused as error:
            self._crash("sent")
            return self._failed(conf, delivery, str(error))
        except Exception as error:  # noqa: BLE001 - anything else may have gone out
            self._crash("sent")
            return self._uncertain(delivery, f"{type(error).__name__}: {error}")
        self._crash("sent")
        now = _iso(self.clock())

        def work(conn):
            conn.execute(
                _d.update()
                .where(_d.c.id == delivery["id"], _d.c.state == "sending")
                .values(state="sent", sent_at=now, last_error="")
            )

        self.station.write(work)
        self.counts["sent"] += 1
        self._crash("marked")

    def _failed(self, conf, delivery, error):
        attempts = delivery["attempts"]
        if attempts >= int(conf["max_attempts"]):
            return self._uncertain(delivery, f"gave up after {attempts} attempts: {error}")
        delay = int(conf["backoff_seconds"]) * 2 ** (attempts - 1)
        when = self.not_before(
            self.clock() + timedelta(seconds=delay), delivery["channel"], delivery["critical"],
            conf)  # fmt: skip

        def work(conn):
            conn.execute(
                _d.update()
                .where(_d.c.id == delivery["id"], _d.c.state == "sending")
                .values(state="pending", next_at=_iso(when), last_error=error[:500])
            )

        self.station.write(work)
        self.counts["retry"] += 1

    def _uncertain(self, delivery, error):
        self.counts["parked"] += self.station.write(
            lambda conn: self._park(conn, delivery["id"], error, "sending")
        )

    @staticmethod
    def _park(conn, delivery_id, error, from_state):
        return conn.execute(
            _d.update()
            .where(_d.c.id == delivery_id, _d.c.state == from_state)
            .values(state="parked", last_error=error[:500])
        ).rowcount

    def run_once(self, stop=lambda: False):
        """Recover, fan out, and send everything due now (or until `stop()`: checked between
        deliveries, never while one is claimed). Returns the counts."""
        conf = self.station.read(settings.load)
        self.recover(conf)
        self.fan_out(conf)
        while not stop():
            delivery = self.claim()
            if delivery is None:
                break
            self._crash("claimed")
            self.deliver(conf, delivery)
        return dict(self.counts)

    def run_forever(self, poll=1.0, stop=lambda: False, wait=time.sleep):
        """Run until `stop()`; `wait(poll)` between runs (the head-end passes its stop Event's
        `wait`, so a SIGTERM does not sit out the poll)."""
        while not stop():
            self.run_once(stop)
            wait(poll)
        return dict(self.counts)


def _unrenderable(row, now, error):
    """A delivery parked at once for an outbox row whose message cannot be made (a template or
    data error): a person sees it in `prepay notify parked` instead of the outbox stalling."""
    return {
        "outbox_id": row.id,
        "channel": "none",
        "recipient": "",
        "subject": "",
        "body": "",
        "critical": False,
        "state": "parked",
        "attempts": 0,
        "next_at": _iso(now),
        "last_error": f"cannot make the message: {type(error).__name__}: {error}"[:500],
    }


def _minutes(hhmm):
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---- for a person: parked messages -----------------------------------------------------------


def list_deliveries(conn, state=None, limit=200):
    query = select(_d, _o.c.kind, _o.c.meter, _o.c.dedupe_key).join(_o, _o.c.id == _d.c.outbox_id)
    if state:
        query = query.where(_d.c.state == state)
    rows = conn.execute(query.order_by(_d.c.id).limit(limit)).mappings().all()
    return [
        {k: row[k] for k in ("id", "kind", "meter", "channel", "recipient", "state", "attempts",
                             "next_at", "sent_at", "last_error", "dedupe_key")}
        for row in rows
    ]  # fmt: skip


def retry(conn, delivery_id, now):
    """A person's decision: send a parked delivery again (attempts start over)."""
    row = conn.execute(select(_d.c.state).where(_d.c.id == delivery_id)).first()
    if row is None:
        raise StationError(f"no message {delivery_id}")
    if row.state != "parked":
        raise StationError(f"message {delivery_id} is {row.state}, not parked: nothing to retry")
    conn.execute(
        _d.update()
        .where(_d.c.id == delivery_id, _d.c.state == "parked")
        .values(state="pending", attempts=0, next_at=_iso(now))
    )
