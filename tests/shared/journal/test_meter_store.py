"""MeterStore: a real Meter saved per the write policy and restored from flash."""

import journal_faults as jf

from firmware.core.blockdev import RamBlockDevice
from firmware.core.events import BOOT, CONFIG, RELAY, TOKEN, ZONE
from firmware.core.journal import BLANK, RESTORED, MeterStore
from token_spec import encode_token
from token_spec.config_blob import sign_config
from token_spec.types import TYPE_CREDIT

NOW = jf.START


def _store(dev):
    return MeterStore(dev, event_blocks=2)


def _boot(dev, now=NOW):
    store = _store(dev)
    return store, store.boot(jf.SETTINGS, now)


def _credit_token(value, tid):
    key, number = jf.SETTINGS["decoder_key"], jf.SETTINGS["meter_number"]
    return encode_token(key, number, TYPE_CREDIT, value, tid)


def test_new_meter_then_restored_meter_with_its_events():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    assert store.status == BLANK and meter.credit == 0
    meter.boot(NOW)
    assert meter.enter_token(_credit_token(1234, 3_000_000), NOW) == "accepted"
    assert store.save(meter, NOW)
    meter.add_pulses(30, NOW + 60)
    store2, again = _boot(dev, NOW + 120)
    assert store2.status == RESTORED
    assert again.credit == 1234 and again.energy_wh == 0  # the 30 Wh were never saved
    kinds = [event[2] for event in again.events.since(0)]
    assert kinds == [BOOT, TOKEN, ZONE, RELAY]  # the token closed the relay
    assert again.events.next_seq == 5  # numbering continues after the stored events
    assert again.enter_token(_credit_token(1234, 3_000_000), NOW + 120) == "used"


def test_unchanged_meter_is_not_written_again():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    meter.boot(NOW)
    assert store.save(meter, NOW)
    ops = dev.ops
    assert not store.save(meter, NOW)
    assert not store.maybe_save(meter, NOW + 3600)  # nothing moved: the time rule stays quiet
    assert dev.ops == ops


def test_time_rule_saves_a_standing_charge_but_not_an_idle_meter():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    meter.boot(NOW)
    meter.enter_token(_credit_token(5000, 3_000_000), NOW)
    store.save(meter, NOW)
    save_s = store.policy.save_s
    meter.tick(NOW + save_s - 1)
    assert not store.maybe_save(meter, NOW + save_s - 1)
    meter.tick(NOW + save_s)
    assert not store.maybe_save(meter, NOW + save_s)  # nothing moved: no standing charge
    key, number = jf.SETTINGS["decoder_key"], jf.SETTINGS["meter_number"]
    blob = sign_config(key, number, 1, {"standing_charge": 8640})  # 1 unit every 10 s
    meter.apply_config(blob, NOW + save_s)
    assert store.save(meter, NOW + save_s)
    later = NOW + 2 * save_s
    meter.tick(later - 1)
    assert not store.maybe_save(meter, later - 1)
    meter.tick(later)
    assert store.maybe_save(meter, later)
    _, again = _boot(dev, later)
    assert again.credit == meter.credit == 5000 - save_s // 10


def test_policy_saves_every_n_wh_of_consumption():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    meter.boot(NOW)
    store.save(meter, NOW)
    meter.enter_token(_credit_token(16000, 3_000_000), NOW)
    store.save(meter, NOW)
    saved = []
    for second in range(1, 200):
        meter.add_pulses(1, NOW + second)  # 1 Wh a second
        meter.tick(NOW + second)
        if store.maybe_save(meter, NOW + second):
            saved.append(meter.energy_wh)
    step = store.policy.save_wh
    assert saved == list(range(step, 200, step)), saved


def test_applied_config_survives_reboot():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    meter.boot(NOW)
    config = {"tariff": {"type": "flat", "price": 2345}, "standing_charge": 100}
    key, number = jf.SETTINGS["decoder_key"], jf.SETTINGS["meter_number"]
    assert meter.apply_config(sign_config(key, number, 1, config), NOW) == 1
    store.save(meter, NOW)
    _, again = _boot(dev)
    assert again.config.counter == 1
    assert again.config.flat_price == 2345 and again.config.standing_charge == 100
    assert CONFIG in [event[2] for event in again.events.since(0)]
