"""Just enough of an ESP32's ROM serial bootloader, on a pseudo-terminal, for esptool to
detect the chip and read its MAC: SLIP framing, SYNC, READ_REG. Every other command gets the
ROM's "invalid message" failure, so a flash attempt stops at the stub upload.

Frames (esptool's loader.py): request  C0 | 00 op len16 chk32 data | C0
                               response C0 | 01 op len16 val32 data status(4) | C0
"""

import os
import pty
import select
import struct
import threading
import tty
from contextlib import contextmanager

SYNC, READ_REG = 0x08, 0x0A
ESP32_MAGIC = 0x00F01D83  # the value at 0x40001000 that identifies an ESP32 (esptool)
CHIP_DETECT_REG = 0x40001000
EFUSE_BASE = 0x3FF5A000
MAC = bytes([0x24, 0x6F, 0x28, 0xAB, 0xCD, 0xEF])


def _slip(packet):
    body = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


def _response(op, val=0, status=0, error=0):
    data = bytes([status, error, 0, 0])
    return _slip(struct.pack("<BBHI", 1, op, len(data), val) + data)


def _registers():
    # ESP32 read_mac: words efuse 2 then 1, big-endian, first two bytes are a CRC.
    word1 = int.from_bytes(MAC[2:6], "big")
    word2 = int.from_bytes(b"\x00\x00" + MAC[:2], "big")
    return {CHIP_DETECT_REG: ESP32_MAGIC, EFUSE_BASE + 4: word1, EFUSE_BASE + 8: word2}


def _answer(packet, registers):
    if len(packet) < 8 or packet[0] != 0:
        return b""
    op = packet[1]
    if op == SYNC:
        # The ROM answers a SYNC several times; a non-zero value says "ROM, not the stub".
        return _response(SYNC, val=0x20120707) * 8
    if op == READ_REG:
        (addr,) = struct.unpack("<I", packet[8:12])
        return _response(READ_REG, val=registers.get(addr, 0))
    return _response(op, status=1, error=0x05)


def _serve(fd, stop, registers):
    frame, inside, escaped = bytearray(), False, False
    while not stop.is_set():
        if not select.select([fd], [], [], 0.05)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        for byte in chunk:
            if byte == 0xC0:
                if inside and frame:
                    os.write(fd, _answer(bytes(frame), registers))
                frame, inside = bytearray(), True
            elif inside:
                if escaped:
                    frame.append({0xDC: 0xC0, 0xDD: 0xDB}.get(byte, byte))
                    escaped = False
                elif byte == 0xDB:
                    escaped = True
                else:
                    frame.append(byte)


@contextmanager
def esp32_rom():
    """Yields the path of a serial port with a fake ESP32 ROM bootloader behind it."""
    controller, port_fd = pty.openpty()
    tty.setraw(port_fd)
    tty.setraw(controller)
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(controller, stop, _registers()), daemon=True)
    thread.start()
    try:
        yield os.ttyname(port_fd)
    finally:
        stop.set()
        thread.join(timeout=5)
        os.close(controller)
        os.close(port_fd)
