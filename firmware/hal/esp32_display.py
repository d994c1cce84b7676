"""SSD1306 128×64 OLED over I2C, drawn with `framebuf`, and the text panel the HAL shows.

micropython-lib's `ssd1306` driver is not frozen into the generic ESP32 firmware, so this
module carries a small driver of its own, written from the SSD1306 datasheet's command table
(the same sequence every SSD1306 driver sends). It needs only an object with the
`machine.I2C` methods `scan`, `writeto` and `writevto`, so it is tested on the MicroPython
unix port with a recording bus; the board passes a real `machine.I2C`.

A missing or failing display never stops the meter: `TextPanel` degrades to no display and
probes again every `retry_ms`.
"""

import framebuf

from firmware.core.ticks import ticks_diff
from token_spec.compat import const

_CMD = const(0x00)  # control byte: a stream of commands follows
_DATA = b"\x40"  # control byte: display RAM data follows
_SET_COL_ADDR = const(0x21)
_SET_PAGE_ADDR = const(0x22)
_DISPLAY_OFF = const(0xAE)
_DISPLAY_ON = const(0xAF)

_LINE_HEIGHT = const(16)  # 8-pixel font, 4 lines on 64 rows, with room between them
_MAX_LINES = const(4)


def init_sequence(width, height, external_vcc=False):
    """The power-up command bytes for a `width`×`height` panel (datasheet order)."""
    return bytes(
        (
            _CMD,
            _DISPLAY_OFF,
            0xD5, 0x80,  # clock divide ratio / oscillator frequency: reset value
            0xA8, height - 1,  # multiplex ratio = number of rows
            0xD3, 0x00,  # no display offset
            0x40,  # start line 0
            0x8D, 0x10 if external_vcc else 0x14,  # internal charge pump on unless external
            0x20, 0x00,  # horizontal addressing: one write fills the whole RAM
            0xA1,  # column 127 is SEG0 (modules mount the glass mirrored)
            0xC8,  # scan COM from the bottom, so text is upright
            0xDA, 0x02 if width > 2 * height else 0x12,  # COM pin layout for 128×32 / 128×64
            0x81, 0xCF,  # contrast
            0xD9, 0x22 if external_vcc else 0xF1,  # pre-charge period
            0xDB, 0x40,  # VCOMH deselect level
            0xA4,  # show RAM contents
            0xA6,  # not inverted
            _DISPLAY_ON,
        )
    )  # fmt: skip


class SSD1306:
    """The panel: a framebuf (MONO_VLSB, the SSD1306 RAM layout) and an I2C link to it."""

    def __init__(self, i2c, address=0x3C, width=128, height=64):
        self.i2c = i2c
        self.address = address
        self.width = width
        self.height = height
        self.buffer = bytearray(width * height // 8)
        self.fb = framebuf.FrameBuffer(self.buffer, width, height, framebuf.MONO_VLSB)
        self._window = bytes((_CMD, _SET_COL_ADDR, 0, width - 1, _SET_PAGE_ADDR, 0,
                              height // 8 - 1))  # fmt: skip
        self._vector = [_DATA, self.buffer]  # writevto sends both without copying 1 KiB
        self.i2c.writeto(address, init_sequence(width, height))
        self.fb.fill(0)
        self.flush()

    def flush(self):
        """Copy the framebuffer to the panel (raises OSError if the panel stops answering)."""
        self.i2c.writeto(self.address, self._window)
        self.i2c.writevto(self.address, self._vector)

    def power(self, on):
        """Switch the panel on or off (RAM is kept)."""
        self.i2c.writeto(self.address, bytes((_CMD, _DISPLAY_ON if on else _DISPLAY_OFF)))


def open_panel(i2c, address=0x3C, width=128, height=64):
    """An SSD1306 if one answers at `address`, else None (no display fitted, or it failed)."""
    try:
        if address not in i2c.scan():
            return None
        return SSD1306(i2c, address, width, height)
    except OSError:  # NACK / bus timeout half-way through init
        return None


class TextPanel:
    """Up to 4 lines of text on the panel, redrawn only when they change."""

    def __init__(self, i2c, address=0x3C, width=128, height=64, retry_ms=30_000):
        self._args = (i2c, address, width, height)
        self.columns = width // 8
        self.retry_ms = retry_ms
        self.panel = open_panel(*self._args)
        self._probed_at = None  # ticks_ms of the last failed probe
        self._shown = None

    def show(self, lines, now_ms):
        """Draw `lines` (first 4, each cut to the panel width). Returns True if drawn.

        `now_ms` (time.ticks_ms) paces the re-probing of a missing panel.
        """
        lines = tuple(str(line)[: self.columns] for line in lines[:_MAX_LINES])
        panel = self.panel or self._reprobe(now_ms)
        if panel is None:
            return False
        if lines == self._shown:
            return True
        fb = panel.fb
        fb.fill(0)
        for row, text in enumerate(lines):
            fb.text(text, 0, row * _LINE_HEIGHT + (_LINE_HEIGHT - 8) // 2, 1)
        try:
            panel.flush()
        except OSError:  # unplugged or bus stuck: carry on without a display
            self.panel = None
            self._shown = None
            self._probed_at = now_ms
            return False
        self._shown = lines
        return True

    def _reprobe(self, now_ms):
        if self._probed_at is not None and ticks_diff(now_ms, self._probed_at) < self.retry_ms:
            return None
        self._probed_at = now_ms
        self.panel = open_panel(*self._args)
        self._shown = None
        return self.panel
