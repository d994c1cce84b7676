"""Customer messages from the meter events the head-end stores (host_tools/notify, docs/notify.md).

The journal's events map to the outbox's kinds: ZONE into `low` -> credit_low; RELAY opened
for credit (no_credit, friendly_floor) -> supply_cut; RELAY closed after such a cut ->
supply_restored; EMERGENCY activated -> emergency_credit. Everything else announces nothing.
`announce` runs in the transaction that stores the event, so the message is queued if and only
if the event is stored, and once (outbox dedupe key `event:<meter>:<seq>`).
"""

import json

from sqlalchemy import and_, select

from host_tools.headend.consumption import recent_use
from host_tools.notify import events as notify_events
from host_tools.vending import db, registry

# The event fields as the meter sends them (docs/core.md, Events; the values are
# firmware/core/policy.py's, which host code does not import: tests/online/test_announce.py
# holds the two equal). Zones: normal 0, low 1. Relay reasons that open for credit: no_credit 16,
# friendly_floor 17.
ZONE_NORMAL, ZONE_LOW = 0, 1
CUT_REASONS = (16, 17)


def _kind(conn, meter, seq, doc):
    """The notify kind of one journal event, or None."""
    name, a, b = doc.get("event"), doc.get("a"), doc.get("b")
    if name == "zone" and a == ZONE_NORMAL and b == ZONE_LOW:
        return "credit_low"
    if name == "emergency" and a == 1:
        return "emergency_credit"
    if name != "relay":
        return None
    if a == 0:
        return "supply_cut" if b in CUT_REASONS else None
    # Closed: a restore only if the relay event before it was a cut for credit (not the end
    # of a relay test or a power trip).
    ev = db.meter_events
    before = conn.execute(
        select(ev.c.a, ev.c.b)
        .where(and_(ev.c.meter == meter, ev.c.kind == "relay", ev.c.seq < seq))
        .order_by(ev.c.seq.desc())
        .limit(1)
    ).first()
    return "supply_restored" if before and before.a == 0 and before.b in CUT_REASONS else None


def _credit(conn, meter):
    """Register units left by the meter's last state document (0 if none yet)."""
    state = conn.execute(
        select(db.meter_links.c.state).where(db.meter_links.c.meter == meter)
    ).scalar()
    try:
        return int(json.loads(state or "{}").get("credit", 0))
    except (TypeError, ValueError):
        return 0


def announce(conn, meter, seq, doc, now_text):
    """Queue the customer message of a just-stored event (in its transaction `conn`, dated
    `now_text`, the head-end's UTC time: a meter's clock may be unset); True if one was queued.
    A meter not in the station's registry announces nothing."""
    kind = _kind(conn, meter, seq, doc)
    if kind is None:
        return False
    registered = conn.execute(
        select(db.meters.c.number, db.meters.c.unit, db.meters.c.scale).where(
            db.meters.c.number == meter
        )
    ).first()
    if registered is None:
        return False
    # Days left: from the last 14 days of readings (consumption.py); None leaves them out.
    use = recent_use(conn, meter, registered.unit, registered.scale)
    event = {
        "seq": seq,
        "kind": kind,
        "credit": _credit(conn, meter),
        "used_14d": use[0] if use and kind == "credit_low" else None,
        "used_seconds": use[1] if use and kind == "credit_low" else None,
        "granted": int(doc.get("b", 0)),
        "at": now_text,
    }
    return notify_events.on_meter_event(conn, registry.check_meter(meter), event)
