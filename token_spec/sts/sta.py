"""EA07: the Standard Transfer Algorithm (STS.md §2.1), encrypt and decrypt, table-driven.

A round substitutes all 16 nibbles (S1 or S2 chosen by one key bit each) and then permutes the
64 bits. Both steps work a byte at a time on lookup tables (token_spec/sts/sta_tables.py):
one 256-entry substitution per byte and one 256-entry, 8-byte permutation entry per byte.
Each direction's tables are a module of their own, imported on first use: a meter, which only
decrypts, never loads the encryption half.
The block is kept as 8 small ints, never a 64-bit int, so MicroPython allocates no long ints
inside the rounds. Keys are the 8-byte decoder key, natural order (STS.md §3.5).
"""

from token_spec.compat import const

_ROUNDS = const(16)

# The last key's round schedule: a meter holds one key, a vending run reuses one per meter.
_last_key = None
_last_schedule = None


def _schedule(key):
    """128 bytes: for round r and block byte j (0 = most significant), the 2-bit S-box
    selector of that byte's nibbles. Encryption uses k = rotr64(~K, 12), rotated left once per
    round, and picks S2 for nibble i when bit 4i+3 of k is set; that bit of round r is bit
    (4i + 15 - r) mod 64 of K, complemented."""
    global _last_key, _last_schedule
    if key == _last_key:
        return _last_schedule
    if len(key) != 8:
        raise ValueError("EA07 needs an 8-byte decoder key")
    out = bytearray(_ROUNDS * 8)
    for r in range(_ROUNDS):
        for j in range(8):
            sel = 0
            for half in (1, 0):  # high nibble first
                n = (4 * (2 * (7 - j) + half) + 15 - r) & 63
                bit = (key[7 - (n >> 3)] >> (n & 7)) & 1
                sel = (sel << 1) | (bit ^ 1)
            out[r * 8 + j] = sel
    _last_key = bytes(key)
    _last_schedule = bytes(out)
    return _last_schedule


def encrypt(key, block):
    """The 8-byte ciphertext (bytearray) of an 8-byte block, most significant byte first."""
    from token_spec.sts.sta_encrypt_tables import PERM, SUB

    sched = _schedule(key)
    b = bytearray(block)
    for base in range(0, _ROUNDS * 8, 8):
        # Substitute byte j, then OR in where the permutation sends its 8 bits.
        o0 = o1 = o2 = o3 = o4 = o5 = o6 = o7 = 0
        for j in range(8):
            t = ((j << 8) | SUB[(sched[base + j] << 8) | b[j]]) << 3
            o0 |= PERM[t]
            o1 |= PERM[t + 1]
            o2 |= PERM[t + 2]
            o3 |= PERM[t + 3]
            o4 |= PERM[t + 4]
            o5 |= PERM[t + 5]
            o6 |= PERM[t + 6]
            o7 |= PERM[t + 7]
        b[0] = o0
        b[1] = o1
        b[2] = o2
        b[3] = o3
        b[4] = o4
        b[5] = o5
        b[6] = o6
        b[7] = o7
    return b


def decrypt(key, block):
    """The inverse of encrypt: rounds in reverse, inverse permutation, then inverse S-boxes."""
    from token_spec.sts.sta_decrypt_tables import INV_PERM, INV_SUB

    sched = _schedule(key)
    b = bytearray(block)
    for base in range((_ROUNDS - 1) * 8, -1, -8):
        o0 = o1 = o2 = o3 = o4 = o5 = o6 = o7 = 0
        for j in range(8):
            t = ((j << 8) | b[j]) << 3
            o0 |= INV_PERM[t]
            o1 |= INV_PERM[t + 1]
            o2 |= INV_PERM[t + 2]
            o3 |= INV_PERM[t + 3]
            o4 |= INV_PERM[t + 4]
            o5 |= INV_PERM[t + 5]
            o6 |= INV_PERM[t + 6]
            o7 |= INV_PERM[t + 7]
        b[0] = INV_SUB[(sched[base] << 8) | o0]
        b[1] = INV_SUB[(sched[base + 1] << 8) | o1]
        b[2] = INV_SUB[(sched[base + 2] << 8) | o2]
        b[3] = INV_SUB[(sched[base + 3] << 8) | o3]
        b[4] = INV_SUB[(sched[base + 4] << 8) | o4]
        b[5] = INV_SUB[(sched[base + 5] << 8) | o5]
        b[6] = INV_SUB[(sched[base + 6] << 8) | o6]
        b[7] = INV_SUB[(sched[base + 7] << 8) | o7]
    return b
