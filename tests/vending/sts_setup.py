"""STS meters and keys for the station tests (issue 16), on top of vending_setup's station.

The keys and PANs are STS.md §7's, so the decoder keys are checked against published values
as well as re-derived here with host_tools.sts.keys."""

from datetime import datetime

from host_tools.sts import keys
from host_tools.vending import registry, sts_keys, sts_meters
from token_spec import make_meter_number
from token_spec.sts import token

VK02 = bytes.fromhex("abababababababab")
VK04 = bytes.fromhex("abababababababab949494949494949401234567")
PAN_A = "600727000000000009"
PAN_B = "000001000000000082"
PAN_C = "600727000000000017"  # another valid Luhn digit
STS_KWH = make_meter_number("0000000011")  # PAN A, EA07, DKGA02, base 1993, SGC 123456
STS_MONEY = make_meter_number("0000000012")  # PAN B, EA11, DKGA04, base 1993, SGC 123457
STS_OTHER = make_meter_number("0000000013")  # PAN C, EA07, DKGA02, base 1993, SGC 123456

BASE_PARAMS = {"sgc": "123456", "ti": 1, "kt": 2, "krn": 1, "ken": 255, "dkga": 2, "base": 1993}


def add_sts_meters(station):
    """The three STS meters and both STS vending keys."""
    sts_keys.store(station, 2, VK02)
    sts_keys.store(station, 4, VK04)
    stamp = station.stamp()

    def work(conn):
        for number, pan, unit, scale, ea, changes in (
            (STS_KWH, PAN_A, "kwh", 1000, 7, {}),
            (STS_MONEY, PAN_B, "currency", 100, 11, {"dkga": 4, "sgc": "123457"}),
            (STS_OTHER, PAN_C, "kwh", 1000, 7, {}),
        ):
            registry.add_meter(conn, number, unit, scale, 1000, "flat", "S", "", False, stamp)
            sts_meters.add(conn, number, pan, dict(BASE_PARAMS, **changes), ea, stamp)

    station.write(work)


def dk(pan, ea=7, **changes):
    """A decoder key computed directly from STS.md's algorithms (not through the station)."""
    p = dict(BASE_PARAMS, **changes)
    vk = VK02 if p["dkga"] == 2 else VK04
    return keys.decoder_key(
        vk, p["dkga"], pan, p["sgc"], p["ti"], p["kt"], p["krn"], p["base"], ea
    )


def decode(digits, key, ea=7):
    """(class, subclass, tid, value, rnd, crc_ok)."""
    return token.decode(digits, key, ea)


def minutes(local_text, base):
    """Minutes from base-year 01-01 00:00 to a naive local time (station zone UTC)."""
    delta = datetime.fromisoformat(local_text) - datetime(base, 1, 1)
    return int(delta.total_seconds()) // 60
