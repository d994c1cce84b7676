"""The block devices: the board's plain file device (firmware/core/blockdev.py) and the NOR-flash
ones of the simulator and the tests (firmware/hal/sim_flash.py): protocol, erase-before-write,
power cuts, replay."""

import os
from binascii import hexlify

import support

from firmware.core.blockdev import (
    IOCTL_BLOCK_COUNT,
    IOCTL_BLOCK_SIZE,
    IOCTL_ERASE,
    FileBlockDevice,
)
from firmware.hal.sim_flash import TEAR_FULL, FlashError, NorFileDevice, PowerCut, RamBlockDevice


def _read(dev, block, offset, size):
    buf = bytearray(size)
    dev.readblocks(block, buf, offset)
    return bytes(buf)


def test_reports_geometry_and_starts_erased():
    dev = RamBlockDevice(512, 6)
    assert dev.ioctl(4, 0) == 6
    assert dev.ioctl(5, 0) == 512
    assert _read(dev, 5, 500, 12) == b"\xff" * 12


def test_write_can_only_clear_bits_until_erased():
    dev = RamBlockDevice(512, 4)
    dev.writeblocks(1, b"\x0f\xf0", 10)
    dev.writeblocks(1, b"\x0e\x00", 10)  # clearing more bits is what NOR allows
    assert _read(dev, 1, 10, 2) == b"\x0e\x00"
    support.raises(FlashError, dev.writeblocks, 1, b"\x1e", 10)
    assert dev.ioctl(6, 1) == 0
    assert _read(dev, 1, 0, 512) == b"\xff" * 512
    dev.writeblocks(1, b"\x1e", 10)
    assert _read(dev, 1, 10, 1) == b"\x1e"
    assert dev.erase_counts == [0, 1, 0, 0]


def test_simple_protocol_erases_whole_blocks_first():
    dev = RamBlockDevice(256, 4)
    dev.writeblocks(2, b"\x00" * 256, 0)
    dev.writeblocks(2, b"\xaa" * 256)  # no offset: erase, then program, like esp32.Partition
    assert _read(dev, 2, 0, 256) == b"\xaa" * 256
    assert dev.erase_counts[2] == 1


def test_access_outside_the_device_is_refused():
    dev = RamBlockDevice(256, 2)
    support.raises(ValueError, dev.writeblocks, 1, b"x" * 10, 250)
    support.raises(ValueError, dev.readblocks, 2, bytearray(1), 0)
    support.raises(ValueError, dev.ioctl, 6, 2)


def test_power_cut_tears_the_next_write_and_kills_the_device():
    dev = RamBlockDevice(256, 2)
    dev.arm(1, tear=500)
    dev.writeblocks(0, b"\x01" * 8, 0)
    support.raises(PowerCut, dev.writeblocks, 0, b"\x02" * 8, 8)
    support.raises(PowerCut, dev.readblocks, 0, bytearray(4), 0)
    support.raises(PowerCut, dev.ioctl, 6, 1)
    dev.power_on()
    assert _read(dev, 0, 0, 20) == b"\x01" * 8 + b"\x02" * 4 + b"\xff" * 8
    assert dev.ops == 1


def test_power_cut_during_erase_leaves_a_partly_erased_block():
    dev = RamBlockDevice(256, 2)
    dev.writeblocks(1, b"\x00" * 256, 0)
    dev.arm(0, tear=250)
    support.raises(PowerCut, dev.ioctl, 6, 1)
    dev.power_on()
    content = _read(dev, 1, 0, 256)
    assert content == b"\xff" * 64 + b"\x00" * 192


def test_completed_write_can_still_lose_its_acknowledgement():
    dev = RamBlockDevice(256, 2)
    dev.arm(0, tear=TEAR_FULL)
    support.raises(PowerCut, dev.writeblocks, 0, b"\x33" * 4, 0)
    dev.power_on()
    assert _read(dev, 0, 0, 4) == b"\x33" * 4


def test_replaying_the_log_rebuilds_the_same_image():
    dev = RamBlockDevice(256, 4)
    log = dev.record()
    for i in range(20):
        block = i % 4
        if i >= 4:
            dev.ioctl(6, block)
        dev.writeblocks(block, bytes([i]) * (i + 1), i)
    copy = RamBlockDevice(256, 4)
    for op in log:
        copy.apply(op)
    assert copy.image() == dev.image()
    assert copy.erase_counts == dev.erase_counts
    torn = RamBlockDevice(256, 4, image=dev.image())
    torn.apply((0, 0, b"\x00" * 10), tear=300)
    assert _read(torn, 0, 0, 4) == b"\x00\x00\x00\xff"  # 3 of 10 bytes landed


def _tmp_path(name):
    base = os.getenv("TMPDIR") or "/tmp"
    return base + "/prepay-journal-" + name + "-" + hexlify(os.urandom(6)).decode()


def test_board_file_device_is_plain_storage_behind_the_block_protocol():
    path = _tmp_path("plain")
    try:
        dev = FileBlockDevice(path, 512, 4)
        assert dev.ioctl(IOCTL_BLOCK_COUNT, 0) == 4 and dev.ioctl(IOCTL_BLOCK_SIZE, 0) == 512
        assert _read(dev, 3, 0, 512) == b"\xff" * 512
        dev.writeblocks(1, b"\x0f\xf0", 3)
        dev.writeblocks(1, b"\xff", 3)  # a file has no NOR rule: the byte is simply stored
        assert _read(dev, 1, 3, 2) == b"\xff\xf0"
        dev.writeblocks(2, b"ab" * 256)  # no offset: the simple protocol erases first
        assert _read(dev, 2, 0, 4) == b"abab" and _read(dev, 2, 512 - 1, 1) == b"b"
        dev.ioctl(IOCTL_ERASE, 2)
        assert _read(dev, 2, 0, 512) == b"\xff" * 512
        support.raises(ValueError, dev.ioctl, IOCTL_ERASE, 4)
        support.raises(ValueError, dev.writeblocks, 3, b"xy", 511)
        dev.close()
        again = FileBlockDevice(path, 512, 4)
        assert _read(again, 1, 3, 2) == b"\xff\xf0"
        again.close()
        assert os.stat(path)[6] == 2048
    finally:
        os.remove(path)


def test_nor_file_device_starts_blank_and_keeps_contents_across_reopen():
    path = _tmp_path("file")
    try:
        dev = NorFileDevice(path, 512, 4)
        assert _read(dev, 3, 0, 512) == b"\xff" * 512
        dev.writeblocks(2, b"hello", 7)
        dev.arm(0, tear=400)
        support.raises(PowerCut, dev.writeblocks, 2, b"world", 20)
        dev.close()
        again = NorFileDevice(path, 512, 4)
        assert _read(again, 2, 7, 5) == b"hello"
        assert _read(again, 2, 20, 5) == b"wo\xff\xff\xff"
        support.raises(FlashError, again.writeblocks, 2, b"\xff", 7)
        again.ioctl(6, 2)
        assert _read(again, 2, 7, 5) == b"\xff" * 5
        again.close()
        assert os.stat(path)[6] == 2048
    finally:
        os.remove(path)
