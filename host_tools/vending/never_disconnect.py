"""Never-disconnect for critical customers (hospitals, water works): the supervisor's flag.

The flag is the registry's `critical` column (`meter add --critical`, or set here); the meter
obeys only its signed config's `never_disconnect`. So setting or removing the flag re-signs the
meter's config in the same transaction, through the functions `config sign` uses
(mgmt.rebuilt_config, meter_config.guard_never_disconnect, mgmt.record_config): the last signed
config with the registry's part built afresh, so nothing else of it changes. The config reaches
the meter like a tariff change's: every sale's receipt for the meter carries it until
`prepay config applied` records that the meter has it (or an engineer loads it with
`prepay device config`). Removing it follows the CLI's rule: the meter number typed again and a
reason, both kept in the config txn's body, with the user in its cashier column (the audit
chain). See docs/web.md.
"""

from sqlalchemy import select

from host_tools.vending import StationError, db, meter_config, mgmt, registry

# How the web page names the confirmation and reason fields in a refusal.
WEB_WORDS = ("the confirmation", "a reason")


def flagged(station):
    """The meters flagged never-disconnect, with the state of their signed config."""

    def work(conn):
        m = db.meters
        rows = conn.execute(select(m).where(m.c.critical.is_(True)).order_by(m.c.number)).all()
        return [_state(conn, row) for row in rows]

    return station.read(work)


def _state(conn, row):
    last = meter_config.last_signed(conn, row.number)
    waiting = meter_config.pending(conn, row.number)
    return {
        "number": row.number,
        "customer": row.customer,
        "tariff": row.tariff,
        "signed_counter": meter_config.signed_counter(conn, row.number),
        "in_config": bool((last or {}).get("never_disconnect")),
        "pending": waiting["counter"] if waiting else None,
    }


def set_flag(
    station, meter, on, user, confirm=None, reason="", words=meter_config.CLI_WORDS, now=None
):
    """Flag (`on`) or unflag `meter` never-disconnect and sign its config, as `user`; returns
    the config's receipt (counter, changes, config, blob). Removing needs `confirm` (the meter
    number typed again) and `reason`; a refusal changes nothing."""
    meter = registry.check_meter(meter)
    stamp = station.stamp(now)
    vending_key = station.key

    def work(conn):
        before = registry.get_meter(conn, meter, lock=True)
        last = meter_config.last_signed(conn, meter) or {}
        if on and before.critical and last.get("never_disconnect") is True:
            counter = meter_config.signed_counter(conn, meter)
            raise StationError(
                f"meter {meter} is already never-disconnect (its signed config {counter} has it)"
            )
        if not on and not before.critical and not last.get("never_disconnect"):
            raise StationError(f"meter {meter} is not never-disconnect")
        conn.execute(db.meters.update().where(db.meters.c.number == meter).values(critical=on))
        row = registry.get_meter(conn, meter)
        tariff = registry.get_tariff(conn, row.tariff)
        old, config = mgmt.rebuilt_config(conn, station, row, tariff, drop=("never_disconnect",))
        removed = meter_config.guard_never_disconnect(
            before, old, config, not on, confirm, reason, words
        )
        if not on and not removed:
            raise StationError(
                f"the station's default meter config (station.json meter_config) keeps meter "
                f"{meter} never-disconnect: change that first"
            )
        if on:
            extra = {"never_disconnect_set": True}
        else:
            extra = {"never_disconnect_removed": {"confirmed": meter, "reason": reason.strip()}}
        changed = meter_config.changes(old, config)
        return mgmt.record_config(
            conn, station, row, config, changed, stamp, user, extra, vending_key
        )

    return station.write(work)
