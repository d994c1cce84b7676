"""The BOOT event says how the meter came up: restored, blank or corrupt flash (or unknown)."""

import support
from core_fixtures import MONDAY, kinds, settings

from firmware.core import events as ev
from firmware.core.journal import BLANK, CORRUPT, RESTORED
from firmware.core.meter import Meter
from firmware.core.meter_store import MeterStore
from firmware.core.registers import VERSION
from firmware.hal.sim_flash import RamBlockDevice

BLOCK_SIZE = 4096
BLOCKS = 8


def _boot_events(m):
    return [(e[3], e[4]) for e in kinds(m, ev.BOOT)]


def _store_boot(dev, now):
    """What the app does at power-up: restore from flash (or provision), record the boot, save."""
    store = MeterStore(dev, event_blocks=2)
    m = store.boot(now)
    if m is None:
        return store, store.provision(settings(), now)
    m.boot(now, store.status)
    store.save(m, now)
    return store, m


def test_blank_flash_then_restored():
    dev = RamBlockDevice(BLOCK_SIZE, BLOCKS)
    store, m = _store_boot(dev, MONDAY)
    assert store.status == BLANK
    assert _boot_events(m) == [(VERSION, ev.BOOT_BLANK)]
    store, again = _store_boot(dev, MONDAY + 60)
    assert store.status == RESTORED
    assert _boot_events(again) == [(VERSION, ev.BOOT_BLANK), (VERSION, ev.BOOT_RESTORED)]


def test_corrupt_flash_is_logged_as_corrupt():
    dev = RamBlockDevice(BLOCK_SIZE, BLOCKS)
    state = 4321
    for block in range(BLOCKS):  # pseudo-random bytes: written, but never by a journal
        data = bytearray(BLOCK_SIZE)
        for i in range(BLOCK_SIZE):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            data[i] = state >> 16 & 0xFF
        dev.writeblocks(block, data, 0)
    store, m = _store_boot(dev, MONDAY)
    assert store.status == CORRUPT and m.credit == 0
    assert _boot_events(m) == [(VERSION, ev.BOOT_CORRUPT)]
    store, again = _store_boot(dev, MONDAY + 60)  # the fresh state was saved over the garbage
    assert store.status == RESTORED
    assert [e[4] for e in kinds(again, ev.BOOT)] == [ev.BOOT_CORRUPT, ev.BOOT_RESTORED]


def test_explicit_status_and_the_default_for_callers_that_pass_none():
    fresh = Meter(settings(), MONDAY)
    fresh.boot(MONDAY)
    restored = Meter.restore(settings(), fresh.snapshot(), fresh.snapshot_config())
    restored.boot(MONDAY + 1)
    assert _boot_events(fresh) == [(VERSION, ev.BOOT_UNKNOWN)]
    assert _boot_events(restored) == [(VERSION, ev.BOOT_RESTORED)]
    told = Meter(settings(), MONDAY)
    told.boot(MONDAY, CORRUPT)
    told.boot(MONDAY + 1, ev.BOOT_BLANK)
    assert [e[4] for e in kinds(told, ev.BOOT)] == [ev.BOOT_CORRUPT, ev.BOOT_BLANK]
    seq = told.events.next_seq
    error = support.raises(ValueError, told.boot, MONDAY + 2, "rebooted")
    assert "rebooted" in str(error) and told.events.next_seq == seq  # nothing recorded


def test_status_codes_name_the_journal_statuses():
    assert ev.boot_status_code(None) == ev.BOOT_UNKNOWN
    assert ev.boot_status_code(RESTORED) == ev.BOOT_RESTORED
    assert ev.boot_status_code(BLANK) == ev.BOOT_BLANK
    assert ev.boot_status_code(CORRUPT) == ev.BOOT_CORRUPT
    assert len({ev.BOOT_UNKNOWN, ev.BOOT_RESTORED, ev.BOOT_BLANK, ev.BOOT_CORRUPT}) == 4
    support.raises(ValueError, ev.boot_status_code, 4)
    support.raises(ValueError, ev.boot_status_code, -1)
