"""A meter's consumption from the head-end's readings (one per quarter hour of meter time), for
the credit-low message's "days left" and the monthly statement's energy used (docs/notify.md).
Integers only.

Used, in the meter's register units, between two readings:
- a kWh meter: its energy register's rise, × scale ÷ 1,000 (register units per kWh; a top-up
  does not touch the energy register, so the figure is exact);
- a currency meter: the credit it spent, the sum of each quarter hour's fall in credit (a
  quarter hour whose credit rose — a top-up — counts nothing, so its spending is missed: an
  under-estimate of at most one quarter hour's use per top-up).
"""

from datetime import datetime

from sqlalchemy import and_, func, select

from host_tools.vending import db
from token_spec.epoch import meter_time

SLOT_S = 900  # the readings' resolution (service.READING_S)
DAY_SLOTS = 86400 // SLOT_S
WINDOW_S = 14 * 86400
MIN_WINDOW_S = 86400  # less than a day of readings says too little about a household's use

_rd = db.readings


def _used(rows, unit, scale):
    if unit == "kwh":
        return (rows[-1].energy_wh - rows[0].energy_wh) * scale // 1000
    return sum(max(0, a.credit - b.credit) for a, b in zip(rows, rows[1:], strict=False))


def _rows(conn, meter, first_slot, end_slot=None):
    where = [_rd.c.meter == meter, _rd.c.slot >= first_slot]
    if end_slot is not None:
        where.append(_rd.c.slot < end_slot)
    query = select(_rd.c.slot, _rd.c.credit, _rd.c.energy_wh).where(and_(*where))
    return conn.execute(query.order_by(_rd.c.slot)).all()


def recent_use(conn, meter, unit, scale):
    """(register units used, seconds measured) over the last 14 days before the meter's newest
    reading — or what the head-end holds of them, for a meter that is newer or was offline —
    or None when the readings cover less than a day or show no use."""
    newest = conn.execute(select(func.max(_rd.c.slot)).where(_rd.c.meter == meter)).scalar()
    if newest is None:
        return None
    rows = _rows(conn, meter, newest - WINDOW_S // SLOT_S)
    seconds = (rows[-1].slot - rows[0].slot) * SLOT_S
    if seconds < MIN_WINDOW_S:
        return None
    used = _used(rows, unit, scale)
    return (used, seconds) if used > 0 else None


def used_in_month(conn, meter, unit, scale, year, month, tz):
    """Register units used in a calendar month of the station's time zone `tz`: from the last
    reading before it (if within a day of its start, else its own first reading) to its last
    reading. None without two readings in that span."""
    start = meter_time(datetime(year, month, 1, tzinfo=tz)) // SLOT_S
    after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    end = meter_time(after) // SLOT_S
    before = conn.execute(
        select(func.max(_rd.c.slot)).where(
            and_(_rd.c.meter == meter, _rd.c.slot < start, _rd.c.slot >= start - DAY_SLOTS)
        )
    ).scalar()
    rows = _rows(conn, meter, start if before is None else before, end)
    return max(0, _used(rows, unit, scale)) if len(rows) >= 2 else None
