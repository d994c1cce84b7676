"""A standard station for the vending tests: tariffs, meters and cashiers."""

from datetime import UTC, datetime

from host_tools.vending import registry
from host_tools.vending.money import parse_amount
from host_tools.vending.station import Station, init_station
from token_spec import make_meter_number

KWH_METER = make_meter_number("0000000001")  # block tariff, 1 Wh register units
FLAT_METER = make_meter_number("0000000002")  # flat tariff kWh meter, 0.1 kWh units
CURRENCY_METER = make_meter_number("0000000003")  # currency meter, cents
DEBT_METER = make_meter_number("0000000004")  # flat tariff with 25 % recovery capped at 10.00
METERS = (KWH_METER, FLAT_METER, CURRENCY_METER, DEBT_METER)

# 50 kWh at 1.00, to 200 kWh at 1.50, then 2.00 (per kWh)
BLOCKS = "50:1.00,200:1.50,*:2.00"

# The refusals a cashier or clerk can meet; anything else is a failure
# (the property tests of the station and of station + meter).
REFUSALS = (
    "buys no energy",
    "buys no credit",
    "more than one token can carry",
    "more credit than one token can carry",
    "above its maximum",
    "already reversed",
    "already written off",
    "already recovered",
    "nothing outstanding",
    "is already",
    "above the maximum",
    "charges the standing charge per day",
    "time-of-use needs a currency meter",
)


def at(text):
    """An aware UTC datetime from "YYYY-MM-DD HH:MM[:SS]"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_station(home, db_url=None):
    init_station(home, db_url)
    station = Station(home)
    stamp = station.stamp()

    def setup(conn):
        block = registry.tariff_blocks("block", None, BLOCKS)
        registry.add_tariff(conn, "domestic", "block", block, 0, 0, None, stamp)
        flat = registry.tariff_blocks("flat", "2.00", None)
        registry.add_tariff(conn, "flat", "flat", flat, 0, 0, None, stamp)
        registry.add_tariff(conn, "recover", "flat", flat, 0, 25, parse_amount("10"), stamp)
        registry.add_tariff(conn, "standing", "flat", flat, parse_amount("5"), 0, None, stamp)
        registry.add_meter(
            conn, KWH_METER, "kwh", 1000, 1000, "domestic", "A. Block", "", False, stamp
        )
        registry.add_meter(conn, FLAT_METER, "kwh", 10, 1000, "flat", "B. Flat", "", False, stamp)
        registry.add_meter(
            conn, CURRENCY_METER, "currency", 100, 1000, "flat", "C. Money", "", True, stamp
        )
        registry.add_meter(
            conn, DEBT_METER, "kwh", 1000, 1000, "recover", "D. Debt", "", False, stamp
        )
        registry.add_cashier(conn, "clerk", "Clerk", parse_amount("1000"), False)
        registry.add_cashier(conn, "boss", "Supervisor", parse_amount("100000"), True)

    station.write(setup)
    return station
