"""The SSD1306 driver and text panel of the ESP32 HAL, on a recording I2C bus.

framebuf exists on MicroPython (the unix port has it) but not on CPython, so these tests run
under tests/mp_runner.py and skip under pytest.
"""

import support
from esp32_hal_support import RecordingI2C

ADDR = 0x3C


def _module():
    try:
        import framebuf  # noqa: F401
    except ImportError:
        support.skip("framebuf is MicroPython-only")
    from firmware.hal import esp32_display

    return esp32_display


def _pages_with_pixels(ram, width=128):
    """The 8-row pages of a MONO_VLSB frame (SSD1306 RAM order) that have any pixel lit."""
    return [p for p in range(len(ram) // width) if any(ram[p * width : (p + 1) * width])]


def _frames(bus):
    """The display RAM images sent (data writes start with control byte 0x40)."""
    return [data[1:] for addr, data in bus.writes if data[0] == 0x40]


def test_init_sequence_switches_panel_on_and_sets_geometry():
    mod = _module()
    bus = RecordingI2C()
    mod.SSD1306(bus, ADDR, 128, 64)
    first = bus.writes[0][1]
    assert bus.writes[0][0] == ADDR
    assert first[0] == 0x00  # a command stream
    assert first[1] == 0xAE and first[-1] == 0xAF  # off while configuring, on at the end
    assert bytes((0xA8, 63)) in first  # 64 rows multiplexed
    assert bytes((0xDA, 0x12)) in first  # COM pins for a 128x64 panel
    assert bytes((0x8D, 0x14)) in first  # charge pump on
    # Then a blank frame: window command, then 1 KiB of zeros.
    frames = _frames(bus)
    assert len(frames) == 1 and frames[0] == bytes(1024)
    assert mod.init_sequence(128, 32).count(bytes((0xDA, 0x02))) == 1


def test_lines_land_in_their_own_rows():
    mod = _module()
    bus = RecordingI2C()
    panel = mod.TextPanel(bus, ADDR)
    for row in range(4):
        lines = [""] * 4
        lines[row] = "CREDIT 12.50"
        assert panel.show(lines, 0)
        frame = _frames(bus)[-1]
        assert len(frame) == 1024
        # 16-pixel line pitch: line n is drawn in pages 2n and 2n+1 only.
        assert set(_pages_with_pixels(frame)) <= {2 * row, 2 * row + 1}
        assert _pages_with_pixels(frame)


def test_unchanged_lines_are_not_resent_and_long_lines_are_cut():
    mod = _module()
    bus = RecordingI2C()
    panel = mod.TextPanel(bus, ADDR)
    panel.show(["A", "B"], 0)
    sent = len(bus.writes)
    panel.show(["A", "B"], 250)
    assert len(bus.writes) == sent
    panel.show(["X" * 16], 500)
    full = _frames(bus)[-1]
    panel.show(["X" * 40, "", "", "", "ignored fifth line"], 750)
    assert _frames(bus)[-1] == full  # cut at 16 columns, fifth line dropped


def test_missing_display_degrades_and_is_probed_again_later():
    mod = _module()
    bus = RecordingI2C(present=())
    panel = mod.TextPanel(bus, ADDR, retry_ms=30_000)
    assert panel.panel is None
    assert not panel.show(["hello"], 0)
    assert not panel.show(["hello"], 10_000)  # not re-probed yet: no bus traffic
    assert bus.writes == []
    bus.present = [ADDR]  # plugged in
    assert not panel.show(["hello"], 20_000)
    assert panel.show(["hello"], 40_001)
    assert _pages_with_pixels(_frames(bus)[-1]) == [0, 1]


def test_panel_that_stops_answering_is_dropped_without_raising():
    mod = _module()
    bus = RecordingI2C()
    panel = mod.TextPanel(bus, ADDR, retry_ms=1000)
    bus.fail_after = 0
    assert not panel.show(["boom"], 5)
    assert panel.panel is None
    bus.fail_after = -1
    assert not panel.show(["boom"], 500)
    assert panel.show(["boom"], 1006)


def test_open_panel_survives_a_nack_during_init():
    mod = _module()
    bus = RecordingI2C()
    bus.fail_after = 0
    assert mod.open_panel(bus, ADDR) is None
    assert mod.open_panel(RecordingI2C(present=(0x3D,)), ADDR) is None
