"""Figures from the head-end's quarter-hour readings (host_tools/headend/consumption.py): days
left in the credit-low message and the energy used in the monthly statement. Known readings ->
the exact figure in the English and the Chinese text, through the outbox, the dispatcher, a real
SMTP server and an HTTP SMS gateway."""

import json

import pytest
from click.testing import CliRunner

from host_tools.cli import main
from host_tools.headend import announce
from host_tools.notify.dispatcher import Dispatcher
from host_tools.vending import db
from tests.notify.test_notify import configure, contact
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER, at
from token_spec.epoch import meter_time

DAY = 96  # quarter hours
T0 = 200_000  # a slot: meter time 180,000,000 s
NOON = at("2026-03-10 12:00")


def _store_readings(conn, meter, readings):
    for slot, (left, energy) in readings.items():
        conn.execute(
            db.readings.insert().values(
                meter=meter, slot=slot, credit=left, energy_wh=energy, power_w=0,
                relay="closed", zone="low",
            )
        )  # fmt: skip


def _low(station, meter, readings, credit, seq=1):
    """Store `readings` ({slot: (credit, energy_wh)}) and the meter's state, then announce a
    zone change into low as the head-end does when it stores that event."""

    def work(conn):
        conn.execute(
            db.meter_links.insert().values(
                meter=meter,
                online=True,
                changed_at=NOON.isoformat(),
                acked_seq=0,
                state=json.dumps({"online": True, "credit": credit}),
            )
        )
        _store_readings(conn, meter, readings)
        doc = {"seq": seq, "event": "zone", "a": announce.ZONE_NORMAL, "b": announce.ZONE_LOW}
        assert announce.announce(conn, meter, seq, doc, NOON.isoformat())

    station.write(work)
    Dispatcher(station, clock=lambda: NOON).run_once()


def test_a_kwh_meter_with_14_days_of_readings(station, smtp_server, sms_gateway):
    configure(station, smtp_server, sms_gateway)
    contact(station, KWH_METER)
    readings = {
        T0 - 3 * DAY: (99_000, 90_000),  # older than 14 days: outside the window
        T0: (9_000, 100_000),
        T0 + 7 * DAY: (6_000, 103_000),
        T0 + 14 * DAY: (2_345, 107_035),  # 7,035 Wh (1 Wh units) in 14 days
    }
    _low(station, KWH_METER, readings, credit=2_345)
    # 2,345 units x 14 days / 7,035 units = 4.67: 4 days, rounded down
    (sms,) = sms_gateway.received
    assert sms["text"] == (
        f"Meter {KWH_METER}: credit low, 2.345 kWh left (worth 2.34), "
        "about 4 days at your recent use. Please top up."
    )
    (mail,) = smtp_server.messages
    assert "At your use over the last 14 days it lasts about 4 days." in mail["body"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the same SQL as above
def test_a_newer_currency_meter_estimates_from_its_3_days(station, smtp_server, sms_gateway):
    configure(station, smtp_server, sms_gateway)
    contact(station, CURRENCY_METER, language="zh")
    readings = {
        T0: (3_000, 0),  # its first reading: 3 days before the newest
        T0 + DAY: (2_400, 0),  # 6.00 spent
        T0 + DAY + 4: (4_400, 0),  # a top-up: counts no spending
        T0 + 2 * DAY: (3_800, 0),
        T0 + 3 * DAY: (3_200, 0),  # 18.00 in 3 days
    }
    _low(station, CURRENCY_METER, readings, credit=3_200)
    # 3,200 x 3 days / 1,800 = 5.33: 5 days
    (sms,) = sms_gateway.received
    assert "剩余 32.00" in sms["text"] and "按近期用电约可用 5 天" in sms["text"]
    (mail,) = smtp_server.messages
    assert "按最近 3 天的用电量，约可再用 5 天。" in mail["body"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_less_than_a_day_of_readings_leaves_the_days_out(station, smtp_server, sms_gateway):
    configure(station, smtp_server, sms_gateway)
    contact(station, KWH_METER)
    _low(station, KWH_METER, {T0: (3_000, 0), T0 + DAY - 1: (2_000, 1_000)}, credit=2_000)
    (sms,) = sms_gateway.received
    assert "days" not in sms["text"] and "2.000 kWh left" in sms["text"]
    (mail,) = smtp_server.messages
    assert "days" not in mail["body"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_monthly_statement_shows_the_energy_the_meter_used(station, smtp_server):
    configure(station, smtp_server)
    contact(station, KWH_METER, sms=False)
    start = meter_time(at("2026-03-01 00:00")) // 900
    end = meter_time(at("2026-04-01 00:00")) // 900
    readings = {
        start - 2 * DAY: (0, 10_000),  # more than a day before March: not its start
        start - 4: (0, 50_000),  # the last reading of February: March starts here
        start + 10 * DAY: (0, 60_000),
        end - 1: (0, 73_250),  # the last quarter hour of March
        end + 5: (0, 80_000),  # April
    }
    station.write(lambda conn: _store_readings(conn, KWH_METER, readings))
    result = CliRunner().invoke(main, ["notify", "month", "--month", "2026-03", "--home",
                                       station.home])  # fmt: skip
    assert result.exit_code == 0, result.output
    Dispatcher(station, clock=lambda: at("2026-04-01 09:00")).run_once()
    (mail,) = smtp_server.messages
    assert "energy bought:      0.000 kWh" in mail["body"]
    assert "used (meter):       23.250 kWh" in mail["body"]  # 73,250 - 50,000 Wh
