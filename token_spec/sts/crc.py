"""The STS CRC-16 (STS.md §1.4): CRC-16/MODBUS over the 50-bit CRC input, byte-swapped.

The input is `Class << 48 | block >> 16` as 7 big-endian bytes. Currency credit (class 0,
subclasses 4-7) uses CRC_C: the same CRC with one more byte, 0x01, appended.
"""

from token_spec.compat import const

_POLY = const(0xA001)  # x^16 + x^15 + x^2 + 1, reflected


def crc16(value50, currency=False):
    """The 16-bit CRC field for the 50-bit CRC input, as stored in block bits 15..0."""
    crc = 0xFFFF
    # Seven bytes, most significant first; each is a small int even on MicroPython.
    hi = value50 >> 24  # the top 26 bits, below 2**30
    lo = value50 & 0xFFFFFF
    data = (hi >> 24, (hi >> 16) & 255, (hi >> 8) & 255, hi & 255, lo >> 16, (lo >> 8) & 255)
    for byte in data + ((lo & 255, 1) if currency else (lo & 255,)):
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
    return ((crc & 0xFF) << 8) | (crc >> 8)


def is_currency(cls, subclass):
    """True for the subclasses whose CRC is CRC_C and whose RND field is sign and exponent."""
    return cls == 0 and 4 <= subclass <= 7
