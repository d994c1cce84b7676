"""MeterStore: a real Meter provisioned, saved per the write policy and restored from flash."""

import journal_faults as jf

from firmware.core.config import ConfigError
from firmware.core.events import (
    BOOT,
    BOOT_BLANK,
    BOOT_CORRUPT,
    BOOT_RESTORED,
    CONFIG,
    RELAY,
    TOKEN,
    ZONE,
)
from firmware.core.journal import BLANK, CORRUPT, RESTORED
from firmware.core.meter_store import MeterStore
from firmware.hal.sim_flash import RamBlockDevice
from token_spec import encode_token
from token_spec.config_blob import sign_config
from token_spec.types import TYPE_CREDIT

NOW = jf.START


def _store(dev):
    return MeterStore(dev, event_blocks=2)


def _boot(dev, now=NOW):
    """A store and its meter: restored from `dev`, else provisioned there with jf.SETTINGS."""
    store = _store(dev)
    meter = store.boot(now)
    if meter is None:
        meter = store.provision(jf.SETTINGS, now)
    else:
        meter.boot(now, store.status)
    return store, meter


def _credit_token(value, tid):
    key, number = jf.SETTINGS["decoder_key"], jf.SETTINGS["meter_number"]
    return encode_token(key, number, TYPE_CREDIT, value, tid)


def test_new_meter_then_restored_meter_with_its_events():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    assert store.status == BLANK and meter.credit == 0
    assert meter.enter_token(_credit_token(1234, 3_000_000), NOW) == "accepted"
    assert store.save(meter, NOW)
    meter.add_pulses(30, NOW + 60)
    store2, again = _boot(dev, NOW + 120)
    assert store2.status == RESTORED
    assert again.credit == 1234 and again.energy_wh == 0  # the 30 Wh were never saved
    events = again.events.since(0)
    assert [event[2] for event in events] == [BOOT, TOKEN, ZONE, RELAY, BOOT]  # relay closed
    assert events[0][4] == BOOT_BLANK and events[-1][4] == BOOT_RESTORED
    assert again.events.next_seq == 6  # numbering continues after the stored events
    assert again.enter_token(_credit_token(1234, 3_000_000), NOW + 120) == "used"


def test_unchanged_meter_is_not_written_again():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    ops = dev.ops  # provisioning committed the new meter
    assert ops
    assert not store.save(meter, NOW)
    assert not store.maybe_save(meter, NOW + 3600)  # nothing moved: the time rule stays quiet
    assert dev.ops == ops


def test_time_rule_saves_a_standing_charge_but_not_an_idle_meter():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
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
    config = {"tariff": {"type": "flat", "price": 2345}, "standing_charge": 100}
    key, number = jf.SETTINGS["decoder_key"], jf.SETTINGS["meter_number"]
    assert meter.apply_config(sign_config(key, number, 1, config), NOW) == 1
    store.save(meter, NOW)
    _, again = _boot(dev)
    assert again.config.counter == 1
    assert again.config.flat_price == 2345 and again.config.standing_charge == 100
    assert CONFIG in [event[2] for event in again.events.since(0)]


def test_erased_flash_is_unprovisioned_and_bad_settings_write_nothing():
    dev = RamBlockDevice(4096, 8)
    store = _store(dev)
    assert store.boot(NOW) is None and store.status == BLANK
    bad = dict(jf.SETTINGS)
    bad["decoder_key"] = b"short"
    try:
        store.provision(bad, NOW)
        raise AssertionError("bad settings provisioned")
    except ConfigError:
        pass
    assert dev.ops == 0
    assert _store(dev).boot(NOW) is None


def test_settings_are_restored_with_the_key_stored_as_hex():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    record = store.journal.config
    assert bytes(jf.SETTINGS["decoder_key"]).hex().encode() in record
    assert jf.SETTINGS["decoder_key"] not in record
    store2 = _store(dev)
    again = store2.boot(NOW + 60)
    assert store2.status == RESTORED and again.decoder_key == jf.SETTINGS["decoder_key"]
    assert jf.settings_kept(again.settings) == jf.PROVISIONED
    assert again.config.low_credit == meter.config.low_credit == 500


def _refuses_provisioning(dev):
    """Boot a store on `dev`: damaged, and provisioning it writes nothing at all."""
    image = dev.image()
    store = _store(dev)
    assert store.boot(NOW) is None and store.status == RESTORED and store.damaged
    ops = dev.ops
    try:
        store.provision(jf.SETTINGS, NOW)
        raise AssertionError("provisioned over a meter whose settings record is damaged")
    except ConfigError as exc:
        assert "damaged" in str(exc) and "--wipe" in str(exc), exc
    assert dev.ops == ops and dev.image() == image
    return store


def test_one_flipped_bit_in_the_settings_record_is_damaged_not_unprovisioned():
    # Registers (credit, TID memory, key) survive a bit flip in the settings record: the meter
    # must not become provisionable again, which would wipe its TID memory and credit.
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    token = _credit_token(1234, 3_000_000)
    assert meter.enter_token(token, NOW) == "accepted"
    store.save(meter, NOW)
    saved = store.journal.registers
    image = bytearray(dev.image())
    image[40] ^= 0x04  # block 0, inside the settings record's JSON
    dev.load(bytes(image))
    store2 = _refuses_provisioning(dev)
    assert store2.journal.registers == saved  # credit and TID memory still on flash
    assert _store(dev).boot(NOW) is None  # and still refused on the next boot


def test_register_record_without_settings_is_damaged():
    # Lost settings (both config blocks erased) cannot be guessed, nor provisioned over.
    dev = RamBlockDevice(4096, 8)
    _boot(dev)
    for block in (0, 1):
        dev.ioctl(6, block)
    _refuses_provisioning(dev)


def test_corrupt_flash_is_unprovisioned_and_provisioning_logs_a_corrupt_boot():
    dev = RamBlockDevice(4096, 8)
    first_register_block = 2 + 2
    dev.writeblocks(first_register_block, b"\x70\x31junk" + bytes(504), 0)
    store = _store(dev)
    assert store.boot(NOW) is None and store.status == CORRUPT
    meter = store.provision(jf.SETTINGS, NOW)
    boot = meter.events.since(0)[0]
    assert boot[2] == BOOT and boot[4] == BOOT_CORRUPT
    assert _store(dev).boot(NOW) is not None


def test_time_rule_commits_events_of_results_that_changed_no_register():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    token = _credit_token(100, 3_000_000)
    meter.enter_token(token, NOW)
    assert store.maybe_save(meter, NOW)  # accepted: urgent
    ops = dev.ops
    for i in range(20):
        assert meter.enter_token(token, NOW + i) == "used"
        assert not store.maybe_save(meter, NOW + i)  # a flood of them does not write
    assert dev.ops == ops
    assert store.maybe_save(meter, NOW + store.policy.save_s)
    assert store.journal.event_seq == meter.events.next_seq - 1


def test_the_upload_cursor_is_kept_beside_the_events_and_restored():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    assert store.upload_cursor() is None  # never acknowledged
    for i in range(5):
        meter.set_tamper(i % 2 == 0, NOW + i)
    store.save(meter, NOW + 5)
    top = store.journal.event_seq
    store.save_cursor(top - 2)
    store.save_cursor(top)  # the newest record wins
    again, restored = _boot(dev)
    assert again.upload_cursor() == top
    # the cursor records are not events: the ring reads back the meter's events only
    assert [e[0] for e in restored.events.since(0)][:top] == list(range(1, top + 1))
    # events written after it (a wrap of the ring aside) leave it alone
    for i in range(40):
        restored.set_tamper(i % 2 == 0, NOW + 10 + i)
        again.save(restored, NOW + 10 + i)
    assert _boot(dev)[0].upload_cursor() == top


def test_an_upload_cursor_recycled_with_its_block_is_gone_with_its_events():
    dev = RamBlockDevice(4096, 8)  # two event blocks of 128 records
    store, meter = _boot(dev)
    store.save_cursor(store.journal.event_seq)
    kept = store.journal.event_seq
    for i in range(300):  # more than the ring holds, no ack in between
        meter.set_tamper(i % 2 == 0, NOW + i)
        store.save(meter, NOW + i)
    again, restored = _boot(dev)
    assert again.upload_cursor() is None
    assert restored.events.since(0)[0][0] > kept + 1


def test_a_meter_provisioned_over_a_corrupt_journal_starts_its_upload_at_zero():
    dev = RamBlockDevice(4096, 8)
    store, meter = _boot(dev)
    store.save_cursor(store.journal.event_seq)  # the meter that was here before
    for block in range(4, 8):  # its register records turn to garbage (0x00 always programs)
        dev.write_at(block * 4096, bytes(4096))
    again = _store(dev)
    assert again.boot(NOW) is None and again.status == CORRUPT
    again.provision(jf.SETTINGS, NOW)
    assert again.upload_cursor() == 0
    assert _boot(dev)[0].upload_cursor() == 0
