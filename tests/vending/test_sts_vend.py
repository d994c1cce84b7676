"""STS meters at the station (issue 16) on SQLite and PostgreSQL: sales decoded with the meter's
own derived key, idempotent references, distinct TIDs, key change receipts, rollover,
management tokens, the ledger and the audit chain."""

import json

import pytest
from sqlalchemy import select

from host_tools.vending import StationError, audit, db, mgmt, reports, sts_meters, vend
from tests.vending.sts_setup import (
    PAN_A,
    PAN_B,
    PAN_C,
    STS_KWH,
    STS_MONEY,
    STS_OTHER,
    VK02,
    VK04,
    add_sts_meters,
    decode,
    dk,
    minutes,
)
from tests.vending.test_vend import snapshot
from tests.vending.vending_setup import at
from token_spec.sts import amount as sts_amount
from token_spec.sts import token

WHEN = "2024-03-10 12:00"  # base 1993 still has room (its TIDs run out 2024-11-24 20:15)


@pytest.fixture
def sts_station(station):
    add_sts_meters(station)
    return station


def sell(station, meter, amount, ref, when=WHEN, cashier="clerk"):
    return vend.sell(station, meter, amount, ref, "cash", cashier, now=at(when))


def test_kwh_sale_decodes_with_the_meters_key(sts_station):
    r = sell(sts_station, STS_KWH, "10.00", "s1")  # flat 2.00/kWh: 5 kWh = 50 x 0.1 kWh
    cls, sub, tid, value, _rnd, ok = decode(r["token"], dk(PAN_A))
    assert (cls, sub, value, ok) == (0, 0, 50, True)
    assert tid == r["tid"] == minutes(WHEN, 1993)
    assert r["format"] == "sts" and r["units"] == 50 and r["units_text"] == "5.0 kWh"
    assert r["energy_minor"] == 1000 and r["carry_out_minor"] == 0
    # The published CTSA01 key: the station derives the vector's decoder key.
    assert dk(PAN_A).hex() == "e653341f9d5bf36f"
    assert audit.verify(sts_station)["ok"]


def test_same_reference_replays_the_same_token(sts_station):
    first = sell(sts_station, STS_KWH, "10.00", "same")
    before = snapshot(sts_station)
    again = sell(sts_station, STS_KWH, "10.00", "same", when="2024-03-10 12:05")
    assert again["replayed"] and again["token"] == first["token"]
    assert snapshot(sts_station) == before
    with pytest.raises(StationError, match="already used"):
        sell(sts_station, STS_KWH, "12.00", "same")


def test_same_minute_sales_get_distinct_tids(sts_station):
    tids = [sell(sts_station, STS_KWH, "2.00", f"m{i}")["tid"] for i in range(3)]
    assert tids == [tids[0], tids[0] + 1, tids[0] + 2]
    mgmt_tid = mgmt.issue(sts_station, STS_KWH, "clear-tamper", now=at(WHEN))["tid"]
    assert mgmt_tid == tids[0] + 3  # one allocator for credit and management tokens


def test_amount_the_encoding_cannot_hold_is_rounded_down_and_carried(sts_station):
    # 3 300.02 at 2.00/kWh = 16 500.1 units of 0.1 kWh; above 16 383 the encoding steps by 10.
    r = sell(sts_station, STS_KWH, "3300.02", "big", cashier="boss")
    assert sts_amount.carried(r["units"]) == r["units"] == 16494
    cls, sub, _tid, value, _rnd, ok = decode(r["token"], dk(PAN_A))
    assert (cls, sub, value, ok) == (0, 0, 16494, True)
    # 1 649.4 kWh at 2.00 = 3 298.80 charged, 1.22 carried forward, nothing lost or gained.
    assert r["energy_minor"] == 329880 and r["carry_out_minor"] == 122
    nxt = sell(sts_station, STS_KWH, "1.00", "after", when="2024-03-10 12:01")
    assert nxt["carry_in_minor"] == 122 and nxt["units"] == 11  # 2.22 buys 1.1 kWh


def test_currency_meter_gets_subclass_4_without_overcharge(sts_station):
    r = sell(sts_station, STS_MONEY, "10.00", "c1")
    key = dk(PAN_B, ea=11, dkga=4, sgc="123457")
    cls, sub, tid, value, _rnd, ok = decode(r["token"], key, ea=11)
    assert (cls, sub, ok) == (0, 4, True) and tid == minutes(WHEN, 1993)
    assert value == r["units"] <= 10 * 100000  # 10.00 in 10**-5 units, rounded down
    assert value > 10 * 100000 - 1000  # by less than one minor unit's worth
    assert r["prepayment_minor"] + r["carry_out_minor"] == 1000
    assert r["prepayment_minor"] * 1000 <= value  # the customer never pays for more


def test_rekey_gives_kcts_first_then_one_token_again(sts_station):
    done = sts_meters.rekey(sts_station, STS_KWH, "2", new_ti="2")
    assert "KRN 1->2" in done["pending"]
    r = sell(sts_station, STS_KWH, "10.00", "k1")
    assert len(r["tokens"]) == 3 and r["tokens"][-1] == r["token"] and len(r["kcts"]) == 2
    old = dk(PAN_A)
    new = dk(PAN_A, krn=2, ti=2)
    cls, block = token.decode_block(r["kcts"][0], old, 7)
    assert cls == 2 and block >> 60 == token.KCT_1ST and token.crc_ok(cls, block)
    assert token.kct_fields(block)[1] == 2  # new KRN
    cls, block = token.decode_block(r["kcts"][1], old, 7)
    assert block >> 60 == token.KCT_2ND and token.kct_fields(block)[1] == 2  # new TI
    assert decode(r["token"], new)[3:][1] is not None
    assert decode(r["token"], new)[5] and not decode(r["token"], old)[5]
    report = sts_meters.rollover_report(sts_station)
    assert {m["meter"]: m["stage"] for m in report["meters"]}[STS_KWH] == "not started"
    st = sts_station.read(lambda conn: sts_meters.state(conn, STS_KWH))
    assert st["status"] == "issued" and st["pending"] is None
    later = sell(sts_station, STS_KWH, "10.00", "k2", when="2024-03-11 09:00")
    assert "kcts" not in later and decode(later["token"], new)[5]
    st = sts_station.read(lambda conn: sts_meters.state(conn, STS_KWH))
    assert st["status"] == "done"
    assert audit.verify(sts_station)["ok"]


def test_ea11_key_change_has_four_kcts(sts_station):
    sts_meters.rekey(sts_station, STS_MONEY, "2")
    r = sell(sts_station, STS_MONEY, "10.00", "e1")
    assert len(r["kcts"]) == 4
    old = dk(PAN_B, ea=11, dkga=4, sgc="123457")
    subs = [token.decode_block(d, old, 11)[1] >> 60 for d in r["kcts"]]
    assert subs == [3, 4, 8, 9]
    assert decode(r["token"], dk(PAN_B, ea=11, dkga=4, sgc="123457", krn=2), ea=11)[5]


def test_reversed_kct_sale_carries_the_kcts_again(sts_station):
    sts_meters.rekey(sts_station, STS_KWH, "2")
    first = sell(sts_station, STS_KWH, "10.00", "r1")
    vend.reverse(sts_station, first["receipt"], "wrong meter", "boss", now=at(WHEN))
    again = sell(sts_station, STS_KWH, "10.00", "r2", when="2024-03-10 12:03")
    assert again["kcts"] == first["kcts"]  # same KCTs (same keys), new credit token
    assert again["tid"] > first["tid"]


def test_rekey_errors_change_nothing(sts_station):
    before = snapshot(sts_station)
    for args, message in (
        ((STS_KWH, "1"), "those of its current key"),
        ((STS_KWH, "12"), "--new-krn must be a whole number 1..9"),
        ((STS_KWH, "2", None, "2014"), "needs --ro"),
        ((STS_MONEY, "2", None, None, "2"), "EA11"),
    ):
        with pytest.raises(StationError, match=message):
            sts_meters.rekey(sts_station, *args)
    from tests.vending.vending_setup import KWH_METER

    with pytest.raises(StationError, match="not an STS meter"):
        sts_meters.rekey(sts_station, KWH_METER, "2")
    assert snapshot(sts_station) == before


def test_rollover_moves_the_supply_group_and_reports_progress(sts_station):
    out = sts_meters.rollover(sts_station, "123456")
    assert out["moved"] == sorted([STS_KWH, STS_OTHER]) and out["already"] == []
    stages = {m["meter"]: m["stage"] for m in sts_meters.rollover_report(sts_station)["meters"]}
    assert stages == {STS_KWH: "pending", STS_OTHER: "pending", STS_MONEY: "not started"}
    when = "2025-06-01 08:00"  # past the 1993 rollover: only base 2014 can make tokens now
    r = sell(sts_station, STS_KWH, "10.00", "ro1", when=when)
    new = dk(PAN_A, dkga=4, base=2014, krn=2)
    cls, block = token.decode_block(r["kcts"][0], dk(PAN_A), 7)
    kenho, krn, ro, _res, kt = token.kct_fields(block)
    assert (krn, ro, kt) == (2, 1, 2)
    cls, sub, tid, value, _rnd, ok = decode(r["token"], new)
    assert (cls, sub, value, ok) == (0, 0, 50, True) and tid == minutes(when, 2014)
    with pytest.raises(StationError, match="outside base date 1993"):
        sell(sts_station, STS_MONEY, "10.00", "ro-late", when=when)
    sell(sts_station, STS_KWH, "10.00", "ro2", when="2025-06-02 08:00")
    report = sts_meters.rollover_report(sts_station, "123456")
    assert {m["meter"]: m["stage"] for m in report["meters"]} == {
        STS_KWH: "done",
        STS_OTHER: "pending",
    }
    assert report["counts"] == {"done": 1, "pending": 1}
    again = sts_meters.rollover(sts_station, "123456")
    assert sorted(again["already"]) == sorted([STS_KWH, STS_OTHER])
    assert audit.verify(sts_station)["ok"]


def test_rollover_waits_for_an_unproven_key_change(sts_station):
    sts_meters.rekey(sts_station, STS_KWH, "2")
    sell(sts_station, STS_KWH, "10.00", "w1")
    out = sts_meters.rollover(sts_station, "123456")
    assert out["waiting"] == [STS_KWH] and out["moved"] == [STS_OTHER]
    with pytest.raises(StationError, match="SGC must be exactly 6 digits"):
        sts_meters.rollover(sts_station, "12345")


def test_management_tokens_are_non_monetary_and_in_the_audit_chain(sts_station):
    issued = {
        "power-limit": mgmt.issue(sts_station, STS_KWH, "power-limit", "1000", now=at(WHEN)),
        "clear-credit": mgmt.issue(sts_station, STS_KWH, "clear-credit", now=at(WHEN)),
        "clear-tamper": mgmt.issue(sts_station, STS_KWH, "clear-tamper", ref="ct", now=at(WHEN)),
    }
    expect = {"power-limit": (0, 1000), "clear-credit": (1, 0xFFFF), "clear-tamper": (5, 0)}
    for verb, receipt in issued.items():
        cls, sub, tid, value, _rnd, ok = decode(receipt["token"], dk(PAN_A))
        assert (cls, sub, value, ok) == (2, *expect[verb], True) and tid == receipt["tid"]
        assert receipt["kind"] == "token"
    replay = mgmt.issue(sts_station, STS_KWH, "clear-tamper", ref="ct", now=at(WHEN))
    assert replay["token"] == issued["clear-tamper"]["token"]

    def entries(conn):
        seqs = [int(r["receipt"]) for r in issued.values()]
        ids = conn.execute(select(db.txns.c.id).where(db.txns.c.seq.in_(seqs))).scalars().all()
        return conn.execute(select(db.entries).where(db.entries.c.txn_id.in_(ids))).all()

    assert sts_station.read(entries) == []  # no money moved
    day = reports.day(sts_station, "2024-03-10")
    assert day["counts"]["token"] == 3 and day["books_balance"]
    with pytest.raises(StationError, match="not a whole number of watts"):
        mgmt.issue(sts_station, STS_KWH, "power-limit", "1.5", now=at(WHEN))
    with pytest.raises(StationError, match="not exactly representable"):
        mgmt.issue(sts_station, STS_KWH, "power-limit", "16385", now=at(WHEN))
    with pytest.raises(StationError, match="STS meters take power-limit"):
        mgmt.issue(sts_station, STS_KWH, "set-price", "1.00", now=at(WHEN))
    with pytest.raises(StationError, match="meter rekey"):
        mgmt.key_change(sts_station, STS_KWH, now=at(WHEN))
    assert audit.verify(sts_station)["ok"]


def test_audit_catches_an_edited_sts_token(sts_station):
    sell(sts_station, STS_KWH, "10.00", "t1")
    with sts_station.engine.begin() as conn:
        conn.execute(db.tokens.update().where(db.tokens.c.meter == STS_KWH).values(tid=1))
    assert not audit.verify(sts_station)["ok"]


def test_no_sts_key_ever_reaches_the_database(sts_station):
    sts_meters.rekey(sts_station, STS_KWH, "2")
    sell(sts_station, STS_KWH, "10.00", "x1")
    secrets = [VK02.hex(), VK04.hex(), dk(PAN_A).hex(), dk(PAN_A, krn=2).hex()]

    def dump(conn):
        out = []
        for table in db.metadata.sorted_tables:
            out += [json.dumps(list(row), default=str) for row in conn.execute(table.select())]
        return "\n".join(out).lower()

    text = sts_station.read(dump)
    assert not [s for s in secrets if s in text]
    for path in sts_station.home.iterdir():
        data = path.read_bytes().lower() if path.is_file() else b""
        assert not [s for s in secrets if s.encode() in data], path
    assert PAN_C in text  # the dump does hold what we registered


def test_provision_args_carry_the_sts_object(sts_station):
    from host_tools.provisioning import meter_settings, provision_args
    from host_tools.vending import registry
    from tests.vending.vending_setup import KWH_METER

    def rows(conn):
        return [registry.meter_dict(registry.get_meter(conn, n)) for n in (STS_MONEY, KWH_METER)]

    sts_row, v1_row = sts_station.read(rows)
    args = provision_args(sts_station, sts_row, meter_settings(sts_station, sts_row))
    assert args["format"] == "sts"
    assert args["sts"] == {
        "dk": dk(PAN_B, ea=11, dkga=4, sgc="123457").hex().upper(),
        "ea": 11,
        "kt": 2,
        "krn": 1,
        "ti": 1,
        "ken": 255,
        "sgc": "123457",
        "base": 1993,
        "mfr": 100,  # IIN 0000: the IAIN's first 4 digits, "0100"
        "ddtk": False,
    }
    assert len(args["sts"]["dk"]) == 32 and args["decoder_key"]  # v1 key: config blobs
    v1 = provision_args(sts_station, v1_row, meter_settings(sts_station, v1_row))
    assert "format" not in v1 and "sts" not in v1
