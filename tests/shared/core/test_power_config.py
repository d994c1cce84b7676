"""Power limit trips and back-off, tamper, signed config, snapshot/restore and events."""

import support
from core_fixtures import KEY, METER_NUMBER, MONDAY, kinds, meter, settings

from firmware.core import events as ev
from firmware.core import registers
from firmware.core.config import ConfigError
from firmware.core.meter import Meter
from token_spec.config_blob import sign_config

T = MONDAY + 3600
POWER = {
    "power": {
        "limit_w": 2000,
        "window_s": 60,
        "trip_s": 120,
        "retry_s": 300,
        "backoff_max": 2,
        "reset_s": 3600,
    }
}


def run_load(m, start, seconds, pulses_per_minute):
    """Feed a steady load minute by minute and tick; returns the end time."""
    t = start
    for _ in range(seconds // 60):
        t += 60
        m.add_pulses(pulses_per_minute if m.relay_closed(t - 60) else 0, t)
        m.tick(t)
    return t


def test_power_limit_trips_after_trip_time_and_backs_off():
    m = meter(credit=10000, config=POWER)
    m.tick(T)
    # 50 pulses per minute at 1000/kWh = 3 kW, above the 2 kW limit.
    t = run_load(m, T, 120, 50)
    assert m.power_w == 3000
    assert m.relay_closed(t) is False
    assert m.power_retry_at == t + 300
    trips = kinds(m, ev.POWER_TRIP)
    assert [(e[3], e[4]) for e in trips] == [(1, 3000)]
    # Retry after 300 s; still overloaded: the second trip waits 600 s, the third 1200 s.
    t = run_load(m, t, 300, 50)
    assert m.relay_closed(t)
    t = run_load(m, t, 120, 50)
    assert m.power_trips == 2 and m.power_retry_at == t + 600
    t = run_load(m, t, 600, 50)
    t = run_load(m, t, 120, 50)
    assert m.power_trips == 3 and m.power_retry_at == t + 1200  # capped at 2 doublings
    assert len(kinds(m, ev.POWER_RESTORE)) == 2


def test_power_below_limit_and_brief_peaks_do_not_trip():
    m = meter(credit=10000, config=POWER)
    m.tick(T)
    t = run_load(m, T, 600, 30)  # 1.8 kW
    assert m.relay_closed(t) and m.power_w == 1800
    t = run_load(m, t, 60, 50)  # one minute over, trip_s is 120
    t = run_load(m, t, 120, 20)
    assert m.relay_closed(t) and not kinds(m, ev.POWER_TRIP)


def test_tamper_without_disconnect_only_logs():
    m = meter(credit=100)
    m.set_tamper(True, T)
    m.set_tamper(True, T + 1)  # no change, no event
    m.tick(T + 1)
    assert m.relay_closed(T + 1)
    assert [(e[3], e[4]) for e in kinds(m, ev.TAMPER)] == [(1, 0)]


def signed(counter, config, key=KEY, meter_number=METER_NUMBER):
    return sign_config(key, meter_number, counter, config)


def test_signed_config_applies_atomically_with_increasing_counter():
    m = meter(credit=1000)
    assert m.apply_config(signed(1, {"tariff": {"type": "flat", "price": 3000}}), T) == 1
    m.add_pulses(10, T)
    assert m.credit == 970
    assert m.config.counter == 1 and m.config_version == 1
    assert m.apply_config(signed(5, {"low_credit": 10}), T) == 5
    assert m.config.flat_price == 15  # back to the provisioned tariff: a config is complete
    assert [e[3:] for e in kinds(m, ev.CONFIG)] == [(1, 1), (1, 5)]


def test_bad_blobs_change_nothing():
    m = meter(credit=1000)
    m.apply_config(signed(3, {"low_credit": 10}), T)
    before = (m.snapshot_config(), m.config.counter, m.config_version, m.credit)
    good = signed(4, {"low_credit": 99})
    bad = [
        signed(3, {"low_credit": 99}),  # replay of the same counter
        signed(2, {"low_credit": 99}),  # rollback
        signed(4, {"low_credit": 99}, key=bytes(16)),  # forged (wrong key)
        signed(4, {"low_credit": 99}, meter_number="04000000002"),  # another meter
        good[:-10],  # truncated
        good[:20] + ("A" if good[20] != "A" else "B") + good[21:],  # damaged
        "not a blob",
        signed(4, {"tariff": {"type": "tou", "weekday": [["01:00", 5]]}}),  # bad schema
        signed(4, {"power": {"limit_w": -1}}),
        signed(4, {"holidays": ["2026-02-30"]}),
        signed(4, {"never_disconnect": "yes"}),
    ]
    for blob in bad:
        exc = support.raises(ConfigError, m.apply_config, blob, T)
        assert str(exc) and "\n" not in str(exc)
        assert (m.snapshot_config(), m.config.counter, m.config_version, m.credit) == before
    assert [e[3] for e in kinds(m, ev.CONFIG)] == [1] + [0] * len(bad)
    assert m.apply_config(good, T) == 4


def test_settings_are_checked():
    bad = [
        dict(settings(), meter_number="12345678901"),
        dict(settings(), decoder_key=b"short"),
        dict(settings(), unit="litres"),
        dict(settings(), pulses_per_kwh=0),
        dict(settings(), tariff={"type": "flat", "price": 1 << 21}),
        dict(settings(), tariff={"type": "blocks", "blocks": []}),
    ]
    for s in bad:
        support.raises(ConfigError, Meter, s, T)


def test_snapshot_round_trip_and_size():
    config = {
        "tariff": {"type": "blocks", "blocks": [[1, 10], [0, 20]]},
        "emergency": {"limit": 50},
        "standing_charge": 77,
    }
    m = meter(credit=1000, config=config)
    for i in range(60):
        m.add_pulses(37, T + i * 30)
        m.tick(T + i * 30)
    m.enter_token("1111 2222 3333 4444 5555", T)
    m.set_tamper(True, T)
    blob = m.snapshot()
    assert len(blob) == registers.SIZE <= 400
    copy = Meter.restore(settings(config=config), blob, m.snapshot_config())
    assert copy.snapshot() == blob
    assert copy.status(T + 2000) == dict(m.status(T + 2000), power_w=0)  # power_w: transient
    # Both continue identically.
    for x in (m, copy):
        x.add_pulses(500, T + 2000)
        x.tick(T + 2000)
    assert copy.snapshot() == m.snapshot()


def test_restore_refuses_damaged_snapshots():
    m = meter(credit=10)
    blob = m.snapshot()
    support.raises(ValueError, Meter.restore, settings(), blob[:-1])
    support.raises(ValueError, Meter.restore, settings(), b"\x09" + blob[1:])
    m.apply_config(signed(2, {}), T)
    # A snapshot taken under config counter 2 needs that config back.
    support.raises(ValueError, Meter.restore, settings(), m.snapshot())


def test_snapshot_for_another_config_counter_leaves_the_meter_unchanged():
    m = meter(credit=10)
    m.apply_config(signed(2, {}), T)
    other = meter(credit=777)  # config counter 0: its snapshot does not fit m's config
    before = m.snapshot()
    support.raises(ValueError, registers.unpack, m, other.snapshot())
    assert m.snapshot() == before and m.credit == 10


def test_events_pack_to_sixteen_bytes_and_ring_is_bounded():
    event = (70000, 200000000, ev.TOKEN, -16, -(1 << 31))
    record = ev.pack_event(event)
    assert len(record) == 16 and ev.unpack_event(record) == event
    ring = ev.EventRing()
    for i in range(600):
        ring.record(i, ev.BOOT, i, -i)
    assert len(ring) == ring.capacity >= 200
    kept = ring.since(0)
    assert kept[0][0] == 600 - ring.capacity + 1 and kept[-1] == (600, 599, ev.BOOT, 599, -599)
    assert ring.since(598) == [(599, 598, ev.BOOT, 598, -598), (600, 599, ev.BOOT, 599, -599)]
    again = ev.EventRing()
    again.load(kept[-5:])
    assert again.since(0) == kept[-5:]
    assert again.record(1, ev.BOOT) == 601
    assert ev.describe(kept[-1])["kind"] == "boot"


def test_urgent_flag_and_saved():
    m = meter(credit=100)
    assert m.urgent
    m.saved(T)
    m.add_pulses(5, T + 1)
    m.tick(T + 1)
    assert not m.urgent  # consumption alone is the write policy's Wh budget
    assert m.energy_wh - m.saved_wh == 5
    m.activate_emergency_credit(T + 2)  # refused: not offered, nothing durable changed
    assert not m.urgent
    m.set_tamper(True, T + 3)
    assert m.urgent


def test_clock_before_2020_does_not_break_saving():
    t = -5 * 86400  # an RTC that lost power may start before the token epoch
    m = meter(now=t)
    m.add_pulses(10, t + 60)
    m.tick(t + 60)
    copy = Meter.restore(settings(), m.snapshot(), m.snapshot_config())
    assert copy.snapshot() == m.snapshot()
    last = m.events.since(0)[-1]
    assert ev.unpack_event(ev.pack_event(last)) == last and last[1] < 0


def test_a_stored_config_with_keys_older_firmware_ignored_still_restores():
    import json

    m = meter(credit=500, config={"low_credit": 100})
    blob = m.snapshot()
    old = json.dumps({"low_credit": 100, "thresholds": 5, "power": {"limit_w": 9, "x": 1}})
    back = Meter.restore(settings(), blob, old.encode())
    assert back.config.low_credit == 100 and back.config.power_limit == 9
    assert back.credit == m.credit
