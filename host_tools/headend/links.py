"""What the head-end knows of each online meter (`prepay headend meters`): online or offline
since when, the events stored in order, and the meter's last state document."""

import json

from sqlalchemy import func, select

from host_tools.vending import db

_l, _ev = db.meter_links, db.meter_events
# The meter event the head-end writes for events a meter announced lost (seq = first lost,
# a = how many, b = last lost): an outage outlived the meter's 256-event ring.
EVENTS_LOST = "events_lost"

# Only what an engineer checks; the state document itself is the meter's (docs/interfaces.md).
_STATE_FIELDS = ("credit_text", "zone", "relay", "power_w", "firmware", "time")


def list_links(conn, offline_only=False):
    """One dict per meter the head-end has heard from, offline ones first, then by number."""
    lost = (
        select(func.coalesce(func.sum(_ev.c.a), 0))
        .where(_ev.c.meter == _l.c.meter, _ev.c.kind == EVENTS_LOST)
        .scalar_subquery()
    )
    query = select(_l, lost.label("events_lost"))
    if offline_only:
        query = query.where(_l.c.online.is_(False))
    rows = conn.execute(query.order_by(_l.c.online, _l.c.meter)).mappings().all()
    out = []
    for row in rows:
        try:
            state = json.loads(row["state"]) if row["state"] else {}
        except ValueError:
            state = {}
        out.append(
            {
                "meter": row["meter"],
                "online": bool(row["online"]),
                "since": row["changed_at"],
                "events_stored": int(row["acked_seq"]),
                "events_lost": int(row["events_lost"]),
                **{name: state.get(name) for name in _STATE_FIELDS},
            }
        )
    return out
