"""`prepay device flash` without a board: offsets, image checks, argument handling, and the
connection steps through esptool's real loader — on a pseudo-terminal that answers nothing,
and on one with a fake ESP32 ROM bootloader (SYNC and READ_REG only) behind it."""

import os
import pty
import tty

import pytest
from click.testing import CliRunner
from esp_pylib.logger import EspLog, log

from host_tools.cli import main
from host_tools.device import flash
from tests.device.fake_esp_rom import MAC, esp32_rom

# Chip ids from esp_image_header_t.chip_id as documented in ESP-IDF (esp_app_format.h).
IDF_CHIP_IDS = {"esp32": 0x0000, "esp32s2": 0x0002, "esp32c3": 0x0005, "esp32s3": 0x0009}


def image_bytes(chip_id=0, size=64):
    """A minimal ESP image: magic, header fields, the chip id at byte 12, padding."""
    header = bytes([0xE9, 3, 2, 0x20, 0, 0, 0, 0, 0xEE, 0, 0, 0])
    header += chip_id.to_bytes(2, "little")
    return header + bytes(size - len(header))


@pytest.fixture
def silent_pty():
    """A serial port nobody answers on (a real pty; the other end stays open and mute)."""
    controller, port_fd = pty.openpty()
    tty.setraw(port_fd)
    yield os.ttyname(port_fd)
    os.close(controller)
    os.close(port_fd)


def test_micropython_offsets_per_chip():
    # micropython.org's install instructions: 0x1000 on ESP32/S2, 0 on S3, C3, C6, H2.
    expected = {"esp32": 0x1000, "esp32s2": 0x1000, "esp32s3": 0, "esp32c3": 0, "esp32c6": 0}
    expected["esp32h2"] = 0
    for chip, offset in expected.items():
        assert flash.flash_offset(chip) == offset, chip
    assert "esp8266" not in flash.FLASH_OFFSETS
    with pytest.raises(flash.FlashError, match="unknown chip 'esp99'"):
        flash.flash_offset("esp99")


def test_image_checks_refuse_missing_empty_and_foreign_files(tmp_path):
    with pytest.raises(flash.FlashError, match="no such firmware file"):
        flash.read_image(tmp_path / "nope.bin")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(flash.FlashError, match="empty"):
        flash.read_image(empty)
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF" + bytes(60))
    with pytest.raises(flash.FlashError, match="not an ESP firmware image .first byte 0x7f"):
        flash.read_image(elf)
    short = tmp_path / "short.bin"
    short.write_bytes(b"\xe9\x03")
    with pytest.raises(flash.FlashError, match="truncated"):
        flash.read_image(short)
    good = tmp_path / "good.bin"
    good.write_bytes(image_bytes())
    assert flash.read_image(good) == image_bytes()


def test_image_chip_id_names_the_target_chip():
    for chip, chip_id in IDF_CHIP_IDS.items():
        assert flash.image_chip(image_bytes(chip_id)) == chip
    assert flash.image_chip(image_bytes(0x7777)) is None


def test_chip_mismatches_are_refused_with_both_names():
    flash.check_chip("auto", "esp32", "esp32")
    flash.check_chip("esp32s3", "esp32s3", None)
    with pytest.raises(flash.FlashError, match="--chip esp32s3 given but the board is an esp32"):
        flash.check_chip("esp32s3", "esp32", "esp32")
    with pytest.raises(flash.FlashError, match="built for esp32c3, the board is esp32"):
        flash.check_chip("auto", "esp32", "esp32c3")


def test_esptool_progress_is_routed_and_the_logger_restored():
    before = EspLog.instance
    seen, said = [], []
    with flash.esptool_output(say=said.append, progress=lambda cur, total: seen.append(cur)):
        with log.progress(total=4096, unit="B") as task:
            task.update(1024)
            task.update(3072)
        log.print("Hash of data verified.")
    assert EspLog.instance is before
    assert seen == [1024, 4096]
    assert said == ["Hash of data verified."]


def test_silent_port_fails_fast_with_a_clear_message(silent_pty, tmp_path):
    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(image_bytes())
    with pytest.raises(flash.FlashError, match=f"no ESP chip answered on {silent_pty}"):
        flash.flash_firmware(silent_pty, firmware, connect_attempts=1)


def test_missing_port_is_named(tmp_path):
    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(image_bytes())
    missing = str(tmp_path / "ttyUSB9")
    with pytest.raises(flash.FlashError, match=f"cannot open {missing}"):
        flash.flash_firmware(missing, firmware)


def test_bad_image_is_refused_before_touching_the_port(tmp_path):
    # The port does not exist: the image error wins because nothing is opened first.
    bad = tmp_path / "fw.bin"
    bad.write_bytes(b"MZ" + bytes(40))
    with pytest.raises(flash.FlashError, match="not an ESP firmware image"):
        flash.flash_firmware(str(tmp_path / "ttyUSB9"), bad)


def invoke(*args):
    return CliRunner().invoke(main, ["device", "flash", *args])


def test_cli_errors_are_one_line_and_nonzero(silent_pty, tmp_path):
    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(image_bytes())
    result = invoke("--port", silent_pty, "--firmware", str(firmware), "--connect-attempts", "1")
    assert result.exit_code == 1
    assert f"Error: no ESP chip answered on {silent_pty}" in result.output

    result = invoke("--port", silent_pty, "--firmware", str(tmp_path / "missing.bin"))
    assert result.exit_code == 1
    assert result.output.strip().endswith("missing.bin: no such firmware file")


def test_cli_argument_errors():
    assert "Missing option '--firmware'" in invoke("--port", "/dev/null").output
    assert "Missing option '--port'" in invoke("--firmware", "x.bin").output
    result = invoke("--port", "p", "--firmware", "x.bin", "--chip", "esp8266")
    assert result.exit_code == 2 and "Invalid value for '--chip'" in result.output
    result = invoke("--port", "p", "--firmware", "x.bin", "--connect-attempts", "0")
    assert result.exit_code == 2 and "--connect-attempts" in result.output


def test_detected_chip_must_match_the_chip_argument(tmp_path):
    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(image_bytes(IDF_CHIP_IDS["esp32"]))
    with esp32_rom() as port:
        with pytest.raises(
            flash.FlashError, match="--chip esp32s3 given but the board is an esp32"
        ):
            flash.flash_firmware(port, firmware, chip="esp32s3", connect_attempts=1)


def test_image_for_another_chip_is_refused_before_writing(tmp_path):
    firmware = tmp_path / "fw-c3.bin"
    firmware.write_bytes(image_bytes(IDF_CHIP_IDS["esp32c3"]))
    with esp32_rom() as port:
        with pytest.raises(flash.FlashError, match="built for esp32c3, the board is esp32"):
            flash.flash_firmware(port, firmware, connect_attempts=1)


def test_flow_reads_the_mac_then_reports_a_failing_step_in_one_line(tmp_path):
    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(image_bytes(IDF_CHIP_IDS["esp32"]))
    said = []
    with esp32_rom() as port:
        # The fake ROM refuses the stub upload (MEM_BEGIN), the first step after the MAC.
        with pytest.raises(flash.FlashError, match=f"flashing {port} failed: Failed to enter RAM"):
            flash.flash_firmware(port, firmware, connect_attempts=1, say=said.append)
    mac = ":".join(f"{b:02x}" for b in MAC)
    assert said and said[0].startswith("ESP32") and said[0].endswith(f"MAC {mac}")
