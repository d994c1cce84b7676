"""The STS test vectors of ../shared/STS.md §7 (and §1.4, §1.6, §2.3), as data.

Shared by tests/shared/sts (both interpreters, keys given) and tests/sts (CPython, where the
decoder keys are also derived from the vending key by DKGA02/DKGA04). Nothing here is computed.
"""

VUDK = "abababababababab"
PAN_A = "600727000000000009"
PAN_B = "000001000000000082"
SGC = "123456"
# Decoder keys, natural MSB-first hex. DK_A is published (§1.6, §7); the others are what
# DKGA02 gives for the §7 inputs, checked against it in tests/sts/test_keys.py.
DK_A = "e653341f9d5bf36f"  # PAN A, TI 01
DK_B = "e94023262e9993c2"  # PAN B, TI 01
DK_A_TI2 = "060b8643c59a27f1"  # PAN A, TI 02 (the key change's new key)

# (DK, issued (Y, M, D, h, m) base 1993, class, subclass, value, token); RND 5, EA07.
EA07_TOKENS = [
    (DK_A, (2004, 3, 1, 13, 55), 0, 0, 1, "23716100501183194197"),
    (DK_B, (2004, 3, 1, 14, 0), 0, 0, 1, "67206107716095682372"),
    (DK_A, (2004, 3, 1, 14, 5), 0, 1, 1, "42502136492215507402"),
    (DK_A, (2004, 3, 1, 14, 15), 0, 2, 1, "67586531586639825066"),
    (DK_A, (2004, 3, 28, 9, 1), 2, 0, 1000, "50901894209860263092"),
    (DK_A, (2004, 3, 28, 9, 15), 2, 1, 0xFFFF, "29511990995826640868"),
    (DK_A, (2004, 3, 28, 10, 0), 2, 5, 0, "37037300014464855694"),
    (DK_A, (2004, 3, 28, 10, 20), 2, 6, 10, "30220533115430798647"),
    # Same-minute rule check: 00:00, then 00:02 (§7.1)
    (DK_A, (2004, 3, 29, 0, 0), 2, 1, 0xFFFF, "10208942296089183521"),
    (DK_A, (2004, 3, 29, 0, 2), 2, 1, 0xFFFF, "20388873191656671689"),
]

# §1.6: CTSA01 step 1, every intermediate value.
CTSA01_TID = 5871715
CTSA01_BLOCK = 0x05599863000119E6
CTSA01_ENCIPHERED = 0x492083C0AE7CE455
CTSA01_NUMBER = 0x1492083C0A67CE455

# §7.2: the standard's worked example, key given directly.
WORKED = {
    "dk": "0abc12def3456789",
    "issued": (1996, 3, 25, 13, 55),
    "tid": 0x19EB23,
    "rnd": 0xB,
    "value": 256,
    "block": 0x0B19EB230100C207,
    "token": "29054347139309851356",
}

# §7.1: class 1 test token, control 36 ones, manufacturer code 0.
TEST_ALL = ((1 << 36) - 1, 0, "56493153725450313471")

# §7.3: key change under the old key DK_A to DK_A_TI2; KEN 255, KRN 1, KT 2, RO 0, TI 2.
KCT = {"old": DK_A, "new": DK_A_TI2, "ken": 255, "krn": 1, "kt": 2, "ro": 0, "ti": 2}
KCT_TOKENS = ["51638423060042734509", "15361891762113502242"]

# §7.4: DKGA04. VK, SGC 123457, TI 01, KT 2, KRN 1, PAN A, base 1993, RND 5, value 1.
VK160 = "abababababababab949494949494949401234567"
SGC4 = "123457"
DKGA04_EA07 = ("aa4baa8749c10d27", (2009, 1, 1, 8, 0), "15697331168573253829")
DKGA04_EA11 = ("f94b6ed353c3bfdb113e2d3a7ea3c41d", (2004, 3, 1, 13, 0), "59386323472137426967")

# §2.3 / RFC 2994 MISTY1: (key, plaintext, ciphertext)
MISTY1_RFC = [
    ("00112233445566778899aabbccddeeff", "0123456789abcdef", "8b1da5f56ab3d07c"),
    ("00112233445566778899aabbccddeeff", "fedcba9876543210", "04b68240b13be95d"),
]

# §4.2/§7.5: Landis+Gyr public vouchers (class 1, subclass 0, mfr 0): (token, control bit).
VOUCHERS = [
    ("0000 0000 0001 5099 7584", 0),
    ("0000 0000 0001 6777 4880", 1),
    ("0000 0000 0002 0132 8896", 2),
    ("1844 6744 0738 4377 2416", 3),
    ("3689 3488 1475 5332 2496", 4),
    ("0000 0000 0012 0797 4400", 6),
]

# §1.4: CRC checks (input, CRC field as stored)
CRC_CHECKS = [(0x0005C02A552710, 0x1970), (0x00004A2D900FF2, 0x0FFA), (0x000B19EB230100, 0xC207)]

# §1.4: Zg743's public currency token: key, token; its stored CRC is CRC_C 0xC645 (the plain
# CRC would be 0xF286).
CURRENCY = ("4530edb79b5f083d", "07420412750539184100", 0xC645, 0xF286)

# §1.2: TID examples (issued, base, TID)
TIDS = [
    ((2016, 12, 11, 15, 49), 1993, 12593749),
    ((2024, 11, 24, 20, 15), 1993, (1 << 24) - 1),
    ((2045, 11, 24, 20, 15), 2014, (1 << 24) - 1),
    ((2004, 3, 1, 13, 55), 1993, 5871715),
]

# §1.3: amount exponent boundaries (units -> carried units after rounding up)
AMOUNT_BOUNDARIES = [
    (0, 0),
    (16383, 16383),
    (16384, 16384),
    (180214, 180214),
    (180223, 180224),
    (180224, 180224),
    (1818523, 1818524),
    (1818623, 1818624),
    (1818624, 1818624),
    (18201624, 18201624),
]


# The STA constants copied from STS.md §2.1 on purpose, independently of the generator
# (host_tools/sts/gen_tables.py), so the tables are checked against the document itself.
S1 = (14, 10, 7, 9, 12, 3, 2, 5, 13, 0, 15, 1, 4, 8, 6, 11)
S2 = (12, 8, 2, 13, 7, 6, 1, 3, 11, 5, 9, 15, 0, 4, 10, 14)
P = (
    55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50,
    6, 36, 12, 61, 37, 38, 53, 16, 62, 3, 7, 4, 32, 20, 63, 25,
    51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30, 41, 28, 13, 5,
    40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26,
)  # fmt: skip


def sta_by_definition(key, block):
    """STS.md §2.1 literally: the 64-step bit loop the tables replace (test reference only)."""
    m = (1 << 64) - 1
    k = ~key & m
    k = ((k >> 12) | (k << 52)) & m
    d = block
    for _ in range(16):
        s = 0
        for i in range(16):
            box = S2 if (k >> (4 * i + 3)) & 1 else S1
            s |= box[(d >> (4 * i)) & 15] << (4 * i)
        d = 0
        for j in range(64):
            d |= ((s >> j) & 1) << P[j]
        k = ((k << 1) | (k >> 63)) & m
    return d
