"""registers.py is the one list of a Meter's registers (both interpreters)."""

from core_fixtures import MONDAY, meter

from firmware.core import registers

# A Meter's attributes that are not registers: settings and what is derived from them, the
# event ring, caches and write-policy hooks.
NOT_REGISTERS = {
    "settings",
    "meter_number",
    "decoder_key",
    "key_revision",
    "config",
    "config_version",
    "events",
    "boot_status",
    "_price_until",
    "_block",
    "_block_left",
    "_time_price",
    "power_window",
    "urgent",
    "saved_time",
}


class _Bare:
    pass


def test_every_meter_attribute_is_a_register_from_reset_or_named_here():
    bare = _Bare()
    registers.reset(bare, 100)
    listed = set(bare.__dict__)
    m = meter()
    assert set(m.__dict__) == listed | NOT_REGISTERS
    assert not listed & NOT_REGISTERS


def test_snapshot_round_trips_every_persisted_register():
    m = meter()
    m.add_pulses(1234, MONDAY + 10)
    m.tick(MONDAY + 20)
    m.power_last_trip, m.sc_rem, m.spent_today = 17, 3, 9
    back = type(m).restore(m.settings, m.snapshot())
    for name in ("credit", "cost_rem", "wh_rem", "energy_wh", "power_last_trip", "sc_rem"):
        assert getattr(back, name) == getattr(m, name), name
    assert back.spent_today == 9 and back.spend_hist == m.spend_hist
