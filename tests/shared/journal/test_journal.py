"""The generic journal on NOR devices: boot scan, round-robin wear, torn and corrupt records."""

import support

from firmware.core.journal import BLANK, CORRUPT, RESTORED, Journal
from firmware.hal.sim_flash import TEAR_FULL, FlashError, PowerCut, RamBlockDevice

BS = 4096


def _device(blocks=10):
    return RamBlockDevice(BS, blocks)


def _journal(dev, **layout):
    journal = Journal(dev, event_blocks=3, **layout)
    journal.boot()
    return journal


def _event(seq):
    return (seq, bytes([seq % 256]) * 16)


def _cut_before_register_write(dev, *commit_args):
    """Boot a journal on `dev` and commit, the power failing just as the register record (the
    commit's last operation, whatever erases came before) starts: nothing of it lands."""
    trial = RamBlockDevice(BS, dev.block_count, image=dev.image())
    _journal(trial).commit(*commit_args)
    journal = _journal(dev)
    dev.arm(trial.ops - 1, tear=0)
    support.raises(PowerCut, journal.commit, *commit_args)
    dev.power_on()


def test_blank_device_boots_blank_with_nothing():
    journal = Journal(_device(), event_blocks=3)
    assert journal.boot() == BLANK
    assert journal.registers is None and journal.config is None and journal.read_events() == []


def test_commits_read_back_after_reboot():
    dev = _device()
    journal = _journal(dev)
    journal.commit(b"first", [_event(1), _event(2)], config=b"cfg-1")
    journal.commit(b"second", [_event(3)])
    again = _journal(dev)
    assert again.status == RESTORED
    assert again.registers == b"second"
    assert again.config == b"cfg-1"
    assert again.read_events() == [_event(1)[1], _event(2)[1], _event(3)[1]]
    assert again.event_seq == 3


def test_garbage_region_is_reported_corrupt_and_started_fresh():
    dev = _device()
    state = 12345
    for block in range(10):  # not flash written by a journal: pseudo-random bytes
        data = bytearray(BS)
        for i in range(BS):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            data[i] = state >> 16 & 0xFF
        dev.writeblocks(block, data, 0)
    journal = Journal(dev, event_blocks=3)
    assert journal.boot() == CORRUPT
    assert journal.registers is None and journal.read_events() == []
    journal.commit(b"fresh", [_event(1)], config=b"c")  # the strict device demands erases
    again = _journal(dev)
    assert (again.status, again.registers, again.config) == (RESTORED, b"fresh", b"c")
    assert again.read_events() == [_event(1)[1]]


def test_round_robin_spreads_erases_over_every_register_block():
    dev = _device()
    journal = _journal(dev)
    for i in range(5 * 8 * 7 + 3):  # 5 register blocks of 8 records, 7 wraps and a bit
        journal.commit(b"r%d" % i)
    counts = dev.erase_counts[5:]
    assert min(counts) >= 6 and max(counts) - min(counts) <= 1, counts
    assert _journal(dev).registers == b"r%d" % (5 * 8 * 7 + 2)


def test_torn_register_write_at_any_length_keeps_the_previous_commit():
    base = _device()
    journal = _journal(base)
    for i in range(11):
        journal.commit(b"state %d" % i)
    image = base.image()
    for tear in range(0, TEAR_FULL, 7):
        dev = RamBlockDevice(BS, 10, image=image)
        journal = _journal(dev)
        dev.arm(0, tear)
        support.raises(PowerCut, journal.commit, b"state 11")
        dev.power_on()
        again = _journal(dev)
        assert again.registers == b"state 10", tear
        again.commit(b"state 12")  # writes past the torn slot without programming over it
        assert _journal(dev).registers == b"state 12"


def test_flipped_bit_in_newest_record_falls_back_never_trusts_it():
    dev = _device()
    journal = _journal(dev)
    journal.commit(b"old state")
    journal.commit(b"new state")
    slot = journal.register_ring.newest_slot
    block, offset = journal.register_ring._where(slot)
    buf = bytearray(1)
    dev.readblocks(block, buf, offset + 16)  # first snapshot byte: header 8 + commit prefix 8
    dev.writeblocks(block, bytes([buf[0] & 0xFE if buf[0] & 1 else buf[0] & 0xFD]), offset + 16)
    again = _journal(dev)
    assert again.registers == b"old state"
    assert again.register_ring.invalid == 1


def test_records_of_another_layout_are_not_trusted():
    dev = _device()
    journal = _journal(dev, register_record=1024)
    journal.commit(b"written with 1 KiB records")
    other = Journal(dev, event_blocks=3, register_record=512)
    assert other.boot() == CORRUPT and other.registers is None


def test_config_written_but_not_committed_is_ignored_and_never_evicts_the_committed_one():
    dev = _device()
    journal = _journal(dev)
    journal.commit(b"regs", config=b"config A")
    for attempt in range(5):  # each time the power fails after the config, before the commit
        _cut_before_register_write(dev, b"regs 2", (), b"config B%d" % attempt)
        again = _journal(dev)
        assert (again.registers, again.config) == (b"regs", b"config A"), attempt
    again.commit(b"regs 3", config=b"config C")
    assert _journal(dev).config == b"config C"


def test_events_of_an_unfinished_commit_are_hidden_then_superseded():
    dev = _device()
    journal = _journal(dev)
    journal.commit(b"r1", [_event(1), _event(2)])
    _cut_before_register_write(dev, b"r2", [_event(3), (4, b"\x44" * 16)])
    journal = _journal(dev)
    assert journal.event_seq == 2 and len(journal.read_events()) == 2
    journal.commit(b"r3", [_event(3), (4, b"\x55" * 16)])  # the meter renumbers from 3
    events = _journal(dev).read_events()
    assert events[-1] == b"\x55" * 16 and len(events) == 4


def test_event_ring_keeps_the_newest_after_wrapping():
    dev = _device()
    journal = _journal(dev)
    for seq in range(1, 1001):
        journal.commit(b"r", [_event(seq)])
    events = _journal(dev).read_events()
    assert len(events) >= 2 * 128  # 3 blocks of 128 records, one erased at a time
    assert events[-1] == _event(1000)[1]
    assert events[0] == _event(1001 - len(events))[1]


def test_oversized_payloads_are_refused_before_anything_is_written():
    dev = _device()
    journal = _journal(dev)
    too_big = b"x" * (journal.register_capacity() + 1)
    support.raises(ValueError, journal.commit, too_big)
    support.raises(ValueError, journal.commit, b"r", (), b"c" * BS)
    support.raises(ValueError, journal.commit, b"r", [(1, b"short")])
    assert dev.ops == 0
    journal.commit(b"x" * journal.register_capacity())
    assert _journal(dev).registers == b"x" * journal.register_capacity()


def test_layout_needs_room_for_every_region():
    support.raises(ValueError, Journal, RamBlockDevice(BS, 5), 3)
    support.raises(ValueError, Journal, RamBlockDevice(BS, 10), 3, 3000)


def test_journal_never_programs_over_unerased_flash():
    # The strict device raises FlashError on any write that needs an erase first; a long run
    # with cuts at every 17th operation never triggers it.
    dev = _device(8)
    seq = 0
    for i in range(600):
        journal = Journal(dev, event_blocks=2)
        journal.boot()
        dev.arm(17, tear=(i * 37) % TEAR_FULL)
        try:
            while True:
                seq += 1
                config = b"c%d" % seq if seq % 9 == 0 else None
                journal.commit(b"s%d" % seq, [_event(journal.event_seq + 1)], config)
        except PowerCut:
            dev.power_on()
        except FlashError:
            raise AssertionError("programmed over unerased flash at cut %d" % i) from None
    assert _journal(dev).status == RESTORED


def test_every_write_covers_whole_16_byte_units_that_no_other_write_touched():
    # What an encrypted ESP32 partition demands: aligned 16-byte units, each programmed once
    # between erases. Payload sizes cover both ways a record goes out (one write or two).
    from firmware.hal.sim_flash import OP_ERASE

    dev = _device()
    log = dev.record()
    journal = Journal(dev, event_blocks=3, register_record=128)
    journal.boot()
    for i in range(200):
        payload = bytes([i % 251]) * (i % (journal.register_capacity() + 1))
        journal.commit(payload, [_event(i + 1)], config=b"c" * (i * 7 % 900) if i % 5 else None)
    programmed = set()
    for kind, addr, data in log:
        if kind == OP_ERASE:
            programmed = set(u for u in programmed if u * 16 // BS != addr // BS)
            continue
        assert addr % 16 == 0 and len(data) % 16 == 0, (addr, len(data))
        for unit in range(addr // 16, (addr + len(data)) // 16):
            assert unit not in programmed, "unit %d written twice" % unit
            programmed.add(unit)
    again = _journal(dev, register_record=128)
    assert again.registers == payload and len(again.read_events()) == 200
