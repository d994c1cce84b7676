"""Flash a MicroPython firmware image onto an ESP32-family board with esptool's Python API.

    prepay device flash --port /dev/ttyUSB0 --firmware ESP32_GENERIC-v1.29.0.bin

Steps: check the image file, detect the chip (refuse a `--chip` that does not match), read the
MAC, load the flasher stub, replace the image's partition table with the same table plus the
meter's `journal` partition (host_tools/device/partitions.py; app partitions untouched), erase
the whole flash (the journal partition too: a flashed board is a new meter), write the image at
the chip's bootloader offset, verify its MD5 in flash, read the partition table back and compare
it byte for byte, and hard-reset. esptool's own messages are routed through `EsptoolOutput` so
its progress shows as a rich progress bar and its chatter stays out of the way.
"""

import hashlib
from contextlib import contextmanager
from pathlib import Path

from esp_pylib.logger import EspLog, EspLogBase
from esptool.cmds import (
    attach_flash,
    detect_chip,
    detect_flash_size,
    erase_flash,
    reset_chip,
    run_stub,
    write_flash,
)
from esptool.targets import CHIP_DEFS
from esptool.util import FatalError
from serial import SerialException

from host_tools.device import partitions

# The first byte of every ESP32-family application/bootloader image (esp_image_header_t.magic).
IMAGE_MAGIC = 0xE9
# esp_image_header_t: chip_id is a little-endian u16 at byte 12 (after magic, segment count,
# SPI mode, speed/size, entry address, WP pin and drive settings).
IMAGE_CHIP_ID_OFFSET = 12
IMAGE_HEADER_LEN = 24

# Where a MicroPython "firmware.bin" (bootloader + partition table + app) starts in flash: the
# chip's second-stage bootloader offset — 0x1000 on ESP32 and ESP32-S2, 0 on S3/C3/C6/H2,
# 0x2000 on C5/P4. esptool keeps that number per chip; this is the one table we read it from.
# The ESP8266 is left out: its images have no chip id and the meter firmware targets ESP32s.
FLASH_OFFSETS = {
    name: cls.BOOTLOADER_FLASH_OFFSET for name, cls in CHIP_DEFS.items() if name != "esp8266"
}
CHIP_CHOICES = ("auto", *FLASH_OFFSETS)
_CHIP_BY_NAME = {CHIP_DEFS[name].CHIP_NAME: name for name in FLASH_OFFSETS}
_CHIP_BY_IMAGE_ID = {CHIP_DEFS[name].IMAGE_CHIP_ID: name for name in FLASH_OFFSETS}

DEFAULT_BAUD = 460800
DEFAULT_CONNECT_ATTEMPTS = 3


class FlashError(Exception):
    """Flashing cannot go ahead or failed; the message says why in one line."""


def flash_offset(chip):
    """Flash address of a MicroPython image for `chip` (an esptool chip key such as esp32s3)."""
    try:
        return FLASH_OFFSETS[chip]
    except KeyError:
        raise FlashError(f"unknown chip {chip!r}; one of: {', '.join(FLASH_OFFSETS)}") from None


def read_image(path):
    """The firmware image's bytes; FlashError if missing, empty or not an ESP image."""
    path = Path(path)
    if not path.is_file():
        raise FlashError(f"{path}: no such firmware file")
    data = path.read_bytes()
    if not data:
        raise FlashError(f"{path}: the firmware file is empty")
    if data[0] != IMAGE_MAGIC:
        raise FlashError(
            f"{path}: not an ESP firmware image (first byte {data[0]:#04x}, expected "
            f"{IMAGE_MAGIC:#04x}); download the .bin for your board from micropython.org"
        )
    if len(data) < IMAGE_HEADER_LEN:
        raise FlashError(f"{path}: truncated ESP image ({len(data)} bytes)")
    return data


def image_chip(data):
    """The esptool chip key the image was built for, or None if the id is unknown."""
    chip_id = int.from_bytes(data[IMAGE_CHIP_ID_OFFSET : IMAGE_CHIP_ID_OFFSET + 2], "little")
    return _CHIP_BY_IMAGE_ID.get(chip_id)


def check_chip(requested, detected, image_for):
    """Refuse a --chip or an image that does not match the chip that answered."""
    if requested != "auto" and requested != detected:
        raise FlashError(f"--chip {requested} given but the board is an {detected}")
    if image_for is not None and image_for != detected:
        raise FlashError(f"the firmware image is built for {image_for}, the board is {detected}")


def format_mac(mac):
    return ":".join(f"{b:02x}" for b in mac)


class EsptoolOutput(EspLogBase):
    """esptool's logger, redirected: messages to `say`, progress bars to `progress(cur, total)`."""

    def __init__(self, say=None, progress=None):
        self._say = say or (lambda text: None)
        self._progress = progress or (lambda cur, total: None)

    def print(self, *args, **kwargs):
        text = " ".join(str(a) for a in args).strip()
        if text and text != ".":
            self._say(text)

    def note(self, *args):
        self.print(*args)

    def hint(self, *args):
        self.print(*args)

    def warn(self, *args, suggestion=None):
        self.print("warning:", *args)

    def err(self, *args, suggestion=None):
        self.print("error:", *args)

    def debug(self, *args):
        pass

    def set_verbosity(self, mode):
        pass

    def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
        self._progress(cur_iter, total_iters)


@contextmanager
def esptool_output(say=None, progress=None):
    """Install an EsptoolOutput for the duration of the block, then restore esptool's logger."""
    previous = EspLog.instance
    EspLog.instance = EsptoolOutput(say, progress)
    try:
        yield
    finally:
        EspLog.instance = previous


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(port, connect_attempts=DEFAULT_CONNECT_ATTEMPTS):
    """Detect the chip on `port` (ROM bootloader) and return esptool's loader object."""
    try:
        return detect_chip(port, connect_attempts=connect_attempts)
    except SerialException as exc:
        raise FlashError(f"cannot open {port}: {exc}") from None
    except (FatalError, OSError) as exc:
        if _first_line(exc).startswith("Could not open"):
            raise FlashError(f"cannot open {port}: the port is busy or does not exist") from None
        raise FlashError(
            f"no ESP chip answered on {port} ({_first_line(exc)}); hold BOOT, tap EN/RESET, "
            "release BOOT, and try again"
        ) from None


def with_journal_table(image, offset, flash_size_text, say):
    """(image, table): the image with its partition table given the journal (FlashError if the
    layout cannot hold it). `flash_size_text` is esptool's detected size ("4MB"), or None."""
    if not flash_size_text:
        raise FlashError("the board did not report its flash size; cannot lay out partitions")
    try:
        size = partitions.parse_flash_size(flash_size_text)
        image, table, entries = partitions.image_with_journal(image, offset, size)
    except partitions.PartitionError as exc:
        raise FlashError(str(exc)) from None
    journal = partitions.find(entries, partitions.JOURNAL_LABEL)
    slots = ", ".join(e.name for e in partitions.app_slots(entries))
    say(
        f"partition table: journal {journal.size // 1024} KiB at {journal.offset:#x}; apps {slots}"
    )
    if len(partitions.app_slots(entries)) < 2:
        say("warning: one app partition: field updates need the OTA image (ESP32_GENERIC-OTA)")
    return image, table


def check_table_readback(read, table):
    """FlashError unless the table read back from flash is the one written, and has a journal."""
    if bytes(read) != table:
        raise FlashError("verification failed: the partition table read back differs")
    if partitions.find(partitions.decode(read), partitions.JOURNAL_LABEL) is None:
        raise FlashError("verification failed: the partition table has no journal")


def flash_firmware(
    port,
    firmware,
    chip="auto",
    baud=DEFAULT_BAUD,
    connect_attempts=DEFAULT_CONNECT_ATTEMPTS,
    say=None,
    progress=None,
):
    """Flash `firmware` onto the board on `port`; returns a dict describing what was done.

    `say(text)` receives step messages, `progress(stage, done, total)` write/erase progress.
    Raises FlashError (one line) on any refusal or failure; nothing is written before every
    check has passed.
    """
    say = say or (lambda text: None)
    progress = progress or (lambda stage, cur, total: None)
    if chip not in CHIP_CHOICES:
        raise FlashError(f"unknown chip {chip!r}; one of: {', '.join(CHIP_CHOICES)}")
    image = read_image(firmware)
    stage = ["write"]
    with esptool_output(progress=lambda cur, total: progress(stage[0], cur, total)):
        esp = connect(port, connect_attempts)
        try:
            detected = _CHIP_BY_NAME.get(esp.CHIP_NAME)
            if detected is None:
                raise FlashError(f"{esp.CHIP_NAME} on {port} is not a supported chip")
            check_chip(chip, detected, image_chip(image))
            mac = format_mac(esp.read_mac())
            say(f"{esp.get_chip_description()} on {port}, MAC {mac}")
            esp = run_stub(esp)
            if baud and baud != esp.ESP_ROM_BAUD:
                esp.change_baud(baud)
            attach_flash(esp)
            offset = flash_offset(detected)
            image, table = with_journal_table(image, offset, detect_flash_size(esp), say)
            say("erasing flash (all of it: a flashed board starts as a new, unprovisioned meter)")
            erase_flash(esp)
            say(f"writing {len(image)} bytes at {offset:#x}")
            write_flash(esp, [(offset, image)])
            stage[0] = "verify"
            if esp.flash_md5sum(offset, len(image)) != hashlib.md5(image).hexdigest():
                raise FlashError("verification failed: flash content differs from the image")
            check_table_readback(esp.read_flash(partitions.TABLE_OFFSET, len(table)), table)
            say("verified (MD5 of flash matches the image, partition table read back); resetting")
            reset_chip(esp, "hard-reset")
        except (FatalError, SerialException, OSError) as exc:
            raise FlashError(
                f"flashing {port} failed: {str(exc).strip().splitlines()[0]}"
            ) from None
        finally:
            esp._port.close()
    return {"port": port, "chip": detected, "mac": mac, "offset": offset, "size": len(image)}
