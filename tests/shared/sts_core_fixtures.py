"""Helpers for the STS meter-core tests (both interpreters): an STS meter and its tokens."""

from core_fixtures import MONDAY, settings

from firmware.core.meter import Meter
from token_spec.sts import token

DK = bytes.fromhex("e653341f9d5bf36f")  # STS.md §7's DK_A (EA07)
DK_NEW = bytes.fromhex("060b8643c59a27f1")  # its key change's new key
DK11 = bytes(range(16))
DK11_NEW = bytes(range(16, 32))
TID = 12593749  # 2016-12-11 15:49 on base 1993 (STS.md §1.2)
MFR = 64


def sts_settings(ea=7, unit="kwh", scale=100, config=None, **sts):
    """Provisioning settings of an STS meter (the v1 decoder key still signs its configs)."""
    fields = {
        "dk": (DK if ea == 7 else DK11).hex(),
        "ea": ea,
        "kt": 2,
        "krn": 1,
        "ti": 1,
        "ken": 255,
        "sgc": "123456",
        "base": 1993,
        "mfr": MFR,
    }
    fields.update(sts)
    tariff = {"type": "flat", "price": 150} if unit == "currency" else None
    out = settings(tariff=tariff, config=config, unit=unit, scale=scale)
    out["format"] = "sts"
    out["sts"] = fields
    return out


def sts_meter(now=MONDAY, **kwargs):
    m = Meter(sts_settings(**kwargs), now)
    m.boot(now)
    return m


def restored(m, **kwargs):
    """m after a power cut: a new meter from its settings and last snapshot."""
    return Meter.restore(sts_settings(**kwargs), m.snapshot(), m.snapshot_config())


def credit(value, tid=TID, key=DK, ea=7, subclass=0, rnd=5):
    """A class 0 credit token (value in 0.1 kWh, or 10**-5 currency for subclass 4)."""
    return token.encode(key, ea, 0, subclass, tid, value, rnd)


def management(subclass, value, tid=TID, key=DK, ea=7):
    return token.encode(key, ea, 2, subclass, tid, value, 3)


def kcts(new_key=DK_NEW, key=DK, ea=7, ro=0, krn=2, kt=2, ti=2, ken=255, sgc=123456):
    return token.encode_kct(key, ea, new_key, ken, krn, ro, kt, ti, sgc)
