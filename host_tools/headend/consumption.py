"""A meter's recent consumption from the head-end's readings (one per quarter hour of meter
time), for the credit-low message's "days left" (docs/notify.md). Integers only.

The window is the last 14 days before the meter's newest reading, or what the head-end holds of
them for a meter that is newer (or was offline): at least one day, else no estimate. Used, in
the meter's register units:
- a kWh meter: its energy register's rise over the window, × scale ÷ 1,000 (register units per
  kWh; a top-up does not touch the energy register, so the figure is exact);
- a currency meter: the credit it spent, the sum of each quarter hour's fall in credit (a
  quarter hour whose credit rose — a top-up — counts nothing, so its spending is missed: an
  under-estimate of at most one quarter hour's use per top-up).
"""

from sqlalchemy import and_, func, select

from host_tools.vending import db

SLOT_S = 900  # the readings' resolution (service.READING_S)
WINDOW_S = 14 * 86400
MIN_WINDOW_S = 86400  # less than a day of readings says too little about a household's use

_rd = db.readings


def recent_use(conn, meter, unit, scale):
    """(register units used, seconds measured) over the window, or None when the readings
    cover less than a day or show no use."""
    newest = conn.execute(select(func.max(_rd.c.slot)).where(_rd.c.meter == meter)).scalar()
    if newest is None:
        return None
    rows = conn.execute(
        select(_rd.c.slot, _rd.c.credit, _rd.c.energy_wh)
        .where(and_(_rd.c.meter == meter, _rd.c.slot >= newest - WINDOW_S // SLOT_S))
        .order_by(_rd.c.slot)
    ).all()
    seconds = (rows[-1].slot - rows[0].slot) * SLOT_S
    if seconds < MIN_WINDOW_S:
        return None
    if unit == "kwh":
        used = (rows[-1].energy_wh - rows[0].energy_wh) * scale // 1000
    else:
        used = sum(max(0, a.credit - b.credit) for a, b in zip(rows, rows[1:], strict=False))
    return (used, seconds) if used > 0 else None
