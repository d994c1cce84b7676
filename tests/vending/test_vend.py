"""Vending on SQLite and PostgreSQL: idempotency, TIDs, tariffs, debt, reversal, books, audit."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from host_tools.vending import StationError, audit, db, mgmt, registry, reports, vend
from tests.vending.vending_setup import (
    CURRENCY_METER,
    DEBT_METER,
    FLAT_METER,
    KWH_METER,
    METERS,
    at,
)
from token_spec import (
    TYPE_CREDIT,
    TYPE_POWER_LIMIT,
    TokenError,
    add_key_part,
    decode_token,
    derive_decoder_key,
    empty_key_parts,
    make_meter_number,
)
from token_spec.config_blob import verify_config

NOON = at("2026-03-10 12:00:30")
# Minutes since 2020-01-01T00:00Z, counted independently of the code under test.
NOON_TID = (NOON - at("2020-01-01 00:00")) // timedelta(minutes=1)


def sell(station, meter, amount, ref, now=NOON, channel="cash", cashier="clerk"):
    return vend.sell(station, meter, amount, ref, channel, cashier, now=now)


def decode(station, meter, digits, revision=1):
    return decode_token(derive_decoder_key(station.key, meter, revision), meter, digits)


def snapshot(station):
    """Row counts of every table plus the chain head: "no state change" means this is equal."""

    def work(conn):
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables
        }
        counts["head"] = tuple(conn.execute(db.chain_head.select()).one())
        counts["revisions"] = tuple(
            conn.execute(select(db.meters.c.key_revision).order_by(db.meters.c.number)).scalars()
        )
        return counts

    return station.read(work)


def test_token_carries_units_and_tid(station):
    r = sell(station, KWH_METER, "20", "pay-1")
    # 20.00 at 1.00/kWh in the first block = 20 kWh = 20,000 Wh register units.
    assert r["units"] == 20000 and r["units_text"] == "20.000 kWh"
    assert decode(station, KWH_METER, r["token"]) == (TYPE_CREDIT, 20000, NOON_TID % 2**24)
    assert r["tid"] == NOON_TID
    assert r["token_grouped"].replace(" ", "") == r["token"]


def test_same_ref_returns_same_receipt_and_token(station):
    first = sell(station, KWH_METER, "20", "pay-1")
    again = sell(station, KWH_METER, "20.00", "pay-1", now=NOON + timedelta(minutes=5))
    assert again["token"] == first["token"] and again["receipt"] == first["receipt"]
    assert again["tid"] == first["tid"] and again["replayed"] is True
    assert vend.find_receipt(station, ref="pay-1")["token"] == first["token"]
    assert vend.find_receipt(station, first["receipt"])["token"] == first["token"]
    before = snapshot(station)
    with pytest.raises(StationError, match="already used"):
        sell(station, KWH_METER, "21", "pay-1")
    with pytest.raises(StationError, match="already used"):
        sell(station, FLAT_METER, "20", "pay-1")
    assert snapshot(station) == before


def test_non_ascii_reference_is_stored_as_given(station):
    # On PostgreSQL the sale row travels as JSON text: the reference must come back unchanged.
    ref = "M-Pesa ü€ 😀 ref"
    first = sell(station, KWH_METER, "20", ref)
    stored = station.read(lambda conn: conn.execute(select(db.sales.c.ref)).scalars().all())
    assert stored == [ref]
    assert vend.find_receipt(station, ref=ref)["token"] == first["token"]
    assert sell(station, KWH_METER, "20", ref)["receipt"] == first["receipt"]
    assert audit.verify(station)["ok"]


def test_same_minute_tokens_get_tids_two_apart(station):
    # Two apart: the TID after each token stays free for its void token (SPEC.md §5.8).
    tids = [sell(station, KWH_METER, "5", f"r{i}")["tid"] for i in range(3)]
    mgmt_tid = mgmt.issue(station, KWH_METER, "power-limit", "4000", now=NOON)["tid"]
    other = sell(station, FLAT_METER, "5", "other")["tid"]  # another meter: its own sequence
    assert tids + [mgmt_tid] == [NOON_TID, NOON_TID + 2, NOON_TID + 4, NOON_TID + 6]
    assert other == NOON_TID
    # A minute later the allocator is still ahead (TID NOON+6 is taken), so it continues.
    later = sell(station, KWH_METER, "5", "r9", now=NOON + timedelta(minutes=1))["tid"]
    assert later == NOON_TID + 8
    far = sell(station, KWH_METER, "5", "r10", now=NOON + timedelta(hours=1))["tid"]
    assert far == NOON_TID + 60


def test_block_tariff_resets_at_month_boundary(station):
    jan_a = sell(station, KWH_METER, "40", "a", now=at("2026-01-31 23:50"))
    jan_b = sell(station, KWH_METER, "25", "b", now=at("2026-01-31 23:59:59"))
    feb = sell(station, KWH_METER, "25", "c", now=at("2026-02-01 00:00:01"))
    # January: 40 kWh at 1.00; then 10 kWh at 1.00 (to 50) and 15.00 / 1.50 = 10 kWh.
    assert jan_a["units"] == 40000 and jan_b["units"] == 20000
    # February starts in the first block again.
    assert feb["units"] == 25000
    # One purchase of 65.00 buys what the two January ones bought together.
    whole = sell(station, KWH_METER, "65", "d", now=at("2026-03-15 10:00"))
    assert whole["units"] == jan_a["units"] + jan_b["units"]


def test_kwh_rounding_remainder_is_carried_not_lost(station):
    # FLAT_METER counts 0.1 kWh at 2.00/kWh: a unit costs 0.20, so 1.05 buys 5 units + 0.05.
    first = sell(station, FLAT_METER, "1.05", "p1")
    assert (first["units"], first["carry_out_minor"]) == (5, 5)
    second = sell(station, FLAT_METER, "1.15", "p2")
    assert (second["carry_in_minor"], second["units"], second["carry_out_minor"]) == (5, 6, 0)
    shown = mgmt.meter_summary(station, FLAT_METER)
    assert shown["carried_forward"] == "0.00"


def test_reversing_a_sale_whose_carry_was_spent_never_makes_a_debt(station):
    first = sell(station, FLAT_METER, "1.05", "p1")  # 5 units, 0.05 carried
    sell(station, FLAT_METER, "1.15", "p2")  # spends the 0.05
    vend.reverse(station, first["receipt"], "wrong meter", "boss", now=NOON)
    assert mgmt.meter_summary(station, FLAT_METER)["carried_forward"] == "0.00"
    day = reports.day(station, "2026-03-10")
    # The refund is the whole 1.05; the spent 0.05 is the station's, booked to `reversals`.
    assert day["accounts"]["reversals"] == "0.05" and day["books_balance"]
    assert day["channels"]["cash"]["net"] == "1.15"


def test_currency_meter_carries_what_a_token_cannot(station):
    ok = sell(station, CURRENCY_METER, "163.83", "p1")
    assert ok["units"] == 16383 and ok["units_text"] == "163.83 credit"
    # 16,385 cents is not representable (the top of the x1 range is 16,383): 163.83 now and
    # 0.02 carried to the next sale.
    odd = sell(station, CURRENCY_METER, "163.85", "p2")
    assert (odd["units"], odd["prepayment"], odd["carry_out"]) == (16383, "163.83", "0.02")
    nxt = sell(station, CURRENCY_METER, "1.00", "p3")
    assert (nxt["carry_in"], nxt["units"], nxt["carry_out"]) == ("0.02", 102, "0.00")


def test_debt_recovery_oldest_first_with_percent_and_cap(station):
    old = mgmt.add_arrears(station, DEBT_METER, "8", "old account", now=NOON)["receipt"]
    new = mgmt.add_arrears(station, DEBT_METER, "30", "meter damage", now=NOON)["receipt"]
    first = sell(station, DEBT_METER, "20", "p1")  # 25 % = 5.00, all from the oldest
    assert first["debt_recovered"] == "5.00" and first["units"] == 7500  # 15.00 / 2.00
    second = sell(station, DEBT_METER, "100", "p2")  # 25 % = 25.00, capped at 10.00
    assert second["debt_recovered"] == "10.00" and second["units"] == 45000
    summary = mgmt.meter_summary(station, DEBT_METER)
    assert summary["arrears"] == {new: "23.00"} and old not in summary["arrears"]

    def recovered(conn):
        e = db.entries
        return conn.execute(
            select(func.sum(e.c.amount)).where(e.c.account == "debt_recovery")
        ).scalar_one()

    assert station.read(recovered) == -1500


def test_debt_order_newest_is_configurable(station):
    mgmt.add_arrears(station, DEBT_METER, "8", "old", now=NOON)
    newer = mgmt.add_arrears(station, DEBT_METER, "30", "new", now=NOON)["receipt"]
    station.config["debt_order"] = "newest"
    sell(station, DEBT_METER, "20", "p1")
    assert mgmt.meter_summary(station, DEBT_METER)["arrears"][newer] == "25.00"


def test_standing_charge_once_per_month(station):
    stamp = station.stamp()
    meter = make_meter_number("0000000005")
    station.write(
        lambda conn: registry.add_meter(
            conn, meter, "kwh", 1000, 1000, "standing", "", "", False, stamp
        )
    )
    before = snapshot(station)
    with pytest.raises(StationError, match="buys no energy"):  # 3.00 < the 5.00 charge
        sell(station, meter, "3", "a", now=at("2026-05-01 08:00"))
    assert snapshot(station) == before
    b = sell(station, meter, "10", "b", now=at("2026-05-01 08:00"))
    c = sell(station, meter, "10", "c", now=at("2026-05-31 23:00"))
    d = sell(station, meter, "10", "d", now=at("2026-06-01 08:00"))
    # 5.00 a month at the month's first vend; the rest buys energy at 2.00/kWh.
    assert (b["standing_charge"], b["units"]) == ("5.00", 2500)
    assert (c["standing_charge"], c["units"]) == ("0.00", 5000)
    assert (d["standing_charge"], d["units"]) == ("5.00", 2500)


def test_reversal_is_a_new_balancing_txn(station):
    mgmt.add_arrears(station, DEBT_METER, "40", "old", now=NOON)
    sale = sell(station, DEBT_METER, "20", "p1")
    row_before = station.read(lambda c: tuple(c.execute(db.txns.select()).all()))
    with pytest.raises(StationError, match="not a registered supervisor"):
        vend.reverse(station, sale["receipt"], "typo", "clerk", now=NOON)
    rev = vend.reverse(station, sale["receipt"], "wrong meter", "boss", now=NOON)
    assert rev["reverses"] == sale["receipt"] and rev["kind"] == "reversal"
    assert vend.find_receipt(station, sale["receipt"])["reversed_by"] == rev["receipt"]
    with pytest.raises(StationError, match="already reversed"):
        vend.reverse(station, sale["receipt"], "again", "boss", now=NOON)
    # The original rows are untouched; the arrears are owed again in full.
    rows_after = station.read(lambda c: tuple(c.execute(db.txns.select()).all()))
    assert rows_after[: len(row_before)] == row_before
    assert mgmt.meter_summary(station, DEBT_METER)["arrears_total"] == "40.00"
    day = reports.day(station, "2026-03-10")
    assert day["channels"]["cash"]["net"] == "0.00" and day["books_balance"]


def test_reversed_units_do_not_count_toward_the_block(station):
    big = sell(station, KWH_METER, "50", "p1")
    vend.reverse(station, big["receipt"], "cancelled", "boss", now=NOON)
    again = sell(station, KWH_METER, "50", "p2")
    assert again["units"] == 50000  # still the first block


def test_cashier_limit_and_bad_input_change_nothing(station):
    sell(station, KWH_METER, "10", "seed")
    before = snapshot(station)
    bad = [
        (KWH_METER, "-5", "x"),
        (KWH_METER, "0", "x"),
        (KWH_METER, "0.00", "x"),
        (KWH_METER, "1.234", "x"),
        (KWH_METER, "1e3", "x"),
        (KWH_METER, "abc", "x"),
        (KWH_METER, "12,50", "x"),
        (KWH_METER, "1000.01", "x"),  # above the clerk's limit of 1,000.00
        ("00000000017", "10", "x"),  # bad Luhn digit
        ("0000000001", "10", "x"),  # 10 digits
        ("00000000067", "10", "x"),  # valid number, not registered
        (KWH_METER, "10", ""),
        (KWH_METER, "10", "x" * 65),
    ]
    for meter, amount, ref in bad:
        with pytest.raises(StationError):
            sell(station, meter, amount, ref)
    with pytest.raises(StationError, match="--channel"):
        sell(station, KWH_METER, "10", "x", channel="cheque")
    with pytest.raises(StationError):
        vend.reverse(station, "999", "no such", "boss")
    with pytest.raises(StationError):
        mgmt.issue(station, KWH_METER, "power-limit", "70000")
    with pytest.raises(StationError):
        mgmt.issue(station, KWH_METER, "set-price", "1.00")  # kWh meter: no price token
    with pytest.raises(StationError):
        mgmt.key_change(station, KWH_METER, new_revision=1)
    assert snapshot(station) == before
    # The supervisor's limit is higher; unknown cashiers get the station default (5,000.00).
    assert sell(station, KWH_METER, "1000.01", "big", cashier="boss")["amount"] == "1000.01"
    with pytest.raises(StationError, match="vend limit 5000.00"):
        sell(station, KWH_METER, "5000.01", "huge", cashier="temp")


def test_management_tokens_and_key_change(station):
    limit = mgmt.issue(station, KWH_METER, "power-limit", "4600", ref="ops-1", now=NOON)
    assert decode(station, KWH_METER, limit["token"]) == (TYPE_POWER_LIMIT, 4600, NOON_TID)
    assert (
        mgmt.issue(station, KWH_METER, "power-limit", "4600", ref="ops-1")["token"]
        == (limit["token"])
    )
    with pytest.raises(StationError, match="another request"):
        mgmt.issue(station, KWH_METER, "power-limit", "100", ref="ops-1")
    price = mgmt.issue(station, CURRENCY_METER, "set-price", "1.25", now=NOON)
    assert decode(station, CURRENCY_METER, price["token"])[1] == 125  # cents per kWh

    change = mgmt.key_change(station, KWH_METER, now=NOON)
    parts, result = empty_key_parts(), None
    for digits in reversed(change["tokens"]):  # any order of entry works
        token_type, payload, _tid = decode(station, KWH_METER, digits, revision=1)
        parts, result = add_key_part(parts, token_type, payload, 1)
    assert result == (derive_decoder_key(station.key, KWH_METER, 2), 2)
    assert mgmt.meter_summary(station, KWH_METER)["key_revision"] == 2
    after = sell(station, KWH_METER, "10", "after-change")
    assert decode(station, KWH_METER, after["token"], revision=2)[1] == 10000
    with pytest.raises(TokenError):
        decode(station, KWH_METER, after["token"], revision=1)


def test_config_counter_strictly_increases(station):
    overlay = {"low_credit": 500, "never_disconnect": True}
    first = mgmt.sign(station, CURRENCY_METER, overlay, now=NOON)
    second = mgmt.sign(station, CURRENCY_METER, overlay, now=NOON)
    config = first["config"]
    assert config["low_credit"] == 500 and config["tariff"]["type"] == "flat"
    assert second["changes"] == [] and "low_credit: (unset) -> 500" in first["changes"]
    key = derive_decoder_key(station.key, CURRENCY_METER, 1)
    assert verify_config(key, CURRENCY_METER, first["blob"], 0) == (1, config)
    assert verify_config(key, CURRENCY_METER, second["blob"], 1) == (2, config)


def test_books_balance_after_a_mixed_day(station):
    mgmt.add_arrears(station, DEBT_METER, "12.34", "old", now=NOON)
    for i, meter in enumerate(METERS * 3):
        channel = ("cash", "card", "transfer", "mobile")[i % 4]
        sell(
            station,
            meter,
            f"{7 + i}.{(13 * i) % 100:02d}" if meter != CURRENCY_METER else f"{7 + i}.00",
            f"mix-{i}",
            channel=channel,
        )
    vend.reverse(station, "00000003", "test", "boss", now=NOON)
    day = reports.day(station, "2026-03-10")
    assert day["books_balance"] and day["problems"] == []
    assert day["counts"]["sale"] == 12 and day["counts"]["reversal"] == 1

    def sums(conn):
        e = db.entries
        total = conn.execute(select(func.sum(e.c.amount))).scalar_one()
        per_txn = conn.execute(
            select(e.c.txn_id).group_by(e.c.txn_id).having(func.sum(e.c.amount) != 0)
        ).all()
        cash = conn.execute(
            select(func.sum(e.c.amount)).where(e.c.account.like("cash:%"))
        ).scalar_one()
        paid = conn.execute(select(func.sum(db.sales.c.amount))).scalar_one()
        return total, per_txn, cash, paid

    total, per_txn, cash, paid = station.read(sums)
    assert total == 0 and per_txn == []
    reversed_amount = int(day["channels"]["card"]["reversed"].replace(".", ""))
    assert cash == paid - reversed_amount
    assert audit.verify(station)["ok"]


TXN = "(SELECT id FROM txns WHERE seq = {})"
TAMPERS = {
    "edit entry": "UPDATE entries SET amount = amount + 100 WHERE line = 0 AND txn_id = "
    + TXN.format(2),
    "edit body": 'UPDATE txns SET body = REPLACE(body, \'"channel":"cash"\', '
    '\'"channel":"card"\') WHERE seq = 2',
    "edit token": "UPDATE tokens SET digits = '00000000000000000000' WHERE txn_id = "
    + TXN.format(3),
    "edit sale": "UPDATE sales SET amount = 1 WHERE txn_id = " + TXN.format(2),
    "delete middle": [
        "DELETE FROM entries WHERE txn_id = " + TXN.format(2),
        "DELETE FROM tokens WHERE txn_id = " + TXN.format(2),
        "DELETE FROM sales WHERE txn_id = " + TXN.format(2),
        "DELETE FROM deliveries WHERE txn_id = " + TXN.format(2),
        "DELETE FROM txns WHERE seq = 2",
    ],
    "delete last": [
        "DELETE FROM entries WHERE txn_id = " + TXN.format(4),
        "DELETE FROM tokens WHERE txn_id = " + TXN.format(4),
        "DELETE FROM sales WHERE txn_id = " + TXN.format(4),
        "DELETE FROM deliveries WHERE txn_id = " + TXN.format(4),
        "DELETE FROM txns WHERE seq = 4",
    ],
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_audit_catches_a_tampered_row(station, tamper):
    for i in range(4):
        sell(station, KWH_METER, "10", f"t{i}")
    assert audit.verify(station) == {"ok": True, "txns": 4, "problems": []}
    statements = TAMPERS[tamper]
    with station.engine.begin() as conn:
        for sql in [statements] if isinstance(statements, str) else statements:
            conn.execute(text(sql))
    result = audit.verify(station)
    assert not result["ok"] and result["problems"], result


def test_month_follows_the_station_time_zone(tmp_path, fast_kdf, station_env):
    """23:30 UTC on 31 January is already February in Johannesburg (UTC+2): a new block month."""
    from host_tools.vending.home import read_config, write_config
    from host_tools.vending.station import Station
    from tests.vending.vending_setup import make_station

    home = tmp_path / "home"
    make_station(home).close()
    config = read_config(home)
    config["timezone"] = "Africa/Johannesburg"
    write_config(home, config)
    station = Station(home)
    jan = sell(station, KWH_METER, "50", "jan", now=at("2026-01-31 21:00"))  # 23:00 local
    feb = sell(station, KWH_METER, "50", "feb", now=at("2026-01-31 23:30"))  # 01:30 local
    assert jan["units"] == feb["units"] == 50000
    assert reports.day(station, "2026-02-01")["counts"]["sale"] == 1
    station.close()


def test_schema_version_mismatch_is_a_clear_error(station):
    with station.engine.begin() as conn:
        conn.execute(text("UPDATE station_meta SET value = '1' WHERE key = 'schema_version'"))
    from host_tools.vending.station import Station

    reopened = Station(station.home)
    with pytest.raises(StationError, match=f"version 1, this prepay uses {db.SCHEMA_VERSION}"):
        reopened.read(lambda conn: None)
    reopened.close()
