"""STS decoder-key generation on the vending side (STS.md §3): DKGA02 and DKGA04.

Host-only: DES and HMAC never go to the meter, which holds only the decoder key it is given.
Keys are exchanged as natural, most-significant-first bytes (STS.md §3.5). Error messages
name the bad input, never a key.
"""

import hashlib
import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from token_spec.sts.tid import check_base

DKGA02 = 2
DKGA04 = 4
EA07 = 7
EA11 = 11
# Meter PAN issuer identification numbers and the IAIN length that goes with each (§3.1).
IIN_LENGTHS = {"600727": 11, "0000": 13}
KEY_TYPES = {0: "DITK", 1: "DDTK", 2: "DUTK", 3: "DCTK"}


def luhn_ok(digits):
    """True if the last digit is the Luhn check digit of the others."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def check_pan(pan):
    """The 18-digit meter PAN, checked: known IIN and a correct Luhn digit."""
    if len(pan) != 18 or not pan.isdigit():
        raise ValueError("PAN must be 18 digits (IIN + IAIN + Luhn digit)")
    if not any(pan.startswith(iin) for iin in IIN_LENGTHS):
        raise ValueError("PAN must start with IIN 600727 or 0000")
    if not luhn_ok(pan):
        raise ValueError("PAN %s has a wrong Luhn check digit" % pan)
    return pan


def check_sgc(sgc):
    """The supply group code as an int; its text must be exactly 6 digits."""
    text = str(sgc)
    if len(text) != 6 or not text.isdigit():
        raise ValueError("SGC must be exactly 6 digits")
    return int(text)


def _digit_range(name, value, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError("%s must be %d..%d" % (name, low, high))
    return value


def pan_block(pan, kt):
    """The 16-nibble PANBlock (§3.2) as 16 hex characters."""
    pan = check_pan(pan)
    iin = "600727" if pan.startswith("600727") else "0000"
    iain = pan[len(iin) : -1]
    if iin == "600727":
        head, tail = iin[-5:], iain[-11:]
    else:
        head, tail = iin[-3:], iain
    if kt == 3:  # DCTK: one key per supply group, the IAIN is zeroed
        tail = "0" * len(tail)
    return head + tail


def control_block(kt, sgc, ti, krn):
    """The CONTROLBlock KT(1) SGC(6) TI(2) KRN(1) FFFFFF, read as hex nibbles."""
    return "%d%06d%02d%dFFFFFF" % (kt, sgc, ti, krn)


def _check_params(sgc, ti, kt, krn):
    sgc = check_sgc(sgc)
    _digit_range("TI", ti, 0, 99)
    _digit_range("KT", kt, 0, 3)
    _digit_range("KRN", krn, 1, 9)
    return sgc


def dkga02(vk, pan, sgc, ti, kt, krn):
    """DK = DES_VK(X) xor X xor VK with X = PANBlock xor CONTROLBlock (8-byte VK and DK)."""
    if len(vk) != 8:
        raise ValueError("DKGA02 needs an 8-byte (64-bit) vending key")
    sgc = _check_params(sgc, ti, kt, krn)
    x = int(pan_block(pan, kt), 16) ^ int(control_block(kt, sgc, ti, krn), 16)
    xb = x.to_bytes(8, "big")
    # Single DES is TripleDES with K1 = K2 = K3 (EDE collapses to one encryption).
    des = Cipher(TripleDES(bytes(vk) * 3), modes.ECB()).encryptor()
    y = int.from_bytes(des.update(xb) + des.finalize(), "big")
    return (y ^ x ^ int.from_bytes(vk, "big")).to_bytes(8, "big")


def _field(text):
    data = text.encode("ascii")
    return bytes((len(data),)) + data


def dkga04_data(pan, sgc, ti, kt, krn, base, ea):
    """The SP 800-108 input of DKGA04: label fields, 00, context fields, L (§3.3)."""
    sgc = _check_params(sgc, ti, kt, krn)
    pan = check_pan(pan)
    bits = 64 if ea == EA07 else 128
    label = b"\x04" + b"".join(
        _field(t) for t in ("04", "%02d" % (check_base(base) % 100), "%02d" % ea, "%02d" % ti)
    )
    context = b"\x04" + b"".join(_field(t) for t in ("%06d" % sgc, "%X" % kt, "%X" % krn, pan))
    return label + b"\x00" + context + bits.to_bytes(4, "big")


def dkga04(vk, pan, sgc, ti, kt, krn, base, ea):
    """DK = the first 64 (EA07) or 128 (EA11) bits of HMAC-SHA-256(VK, Data)."""
    if len(vk) != 20:
        raise ValueError("DKGA04 needs a 20-byte (160-bit) vending key")
    if ea not in (EA07, EA11):
        raise ValueError("encryption algorithm must be EA07 or EA11")
    mac = hmac.new(bytes(vk), dkga04_data(pan, sgc, ti, kt, krn, base, ea), hashlib.sha256)
    return mac.digest()[: 8 if ea == EA07 else 16]


def decoder_key(vk, dkga, pan, sgc, ti, kt, krn, base, ea):
    """The meter's decoder key for its EA, by DKGA02 or DKGA04.

    DKGA02 keys are 64 bits, so they serve EA07 only; the base date enters DKGA04 only."""
    if dkga == DKGA02:
        if ea != EA07:
            raise ValueError("DKGA02 gives a 64-bit key: EA11 (MISTY1) needs DKGA04")
        check_base(base)
        return dkga02(vk, pan, sgc, ti, kt, krn)
    if dkga == DKGA04:
        return dkga04(vk, pan, sgc, ti, kt, krn, base, ea)
    raise ValueError("DKGA must be 02 or 04 (DKGA01 is not public, DKGA03 is deprecated)")
