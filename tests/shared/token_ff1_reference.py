"""A literal, slow FF1 (NIST SP 800-38G Algorithm 7) used only to cross-check token_spec.ff1.

It follows the standard's steps on byte strings (PRF as an explicit CBC-MAC over P || Q) and
shares nothing with the optimised implementation except the AES adapter.
"""

from token_spec.aes import block_cipher


def _num(numerals, radix):
    x = 0
    for d in numerals:
        x = x * radix + d
    return x


def _str(x, radix, m):
    out = [0] * m
    for i in range(m - 1, -1, -1):
        out[i] = x % radix
        x //= radix
    return out


def _bytes_needed(radix, v):
    bits = 0
    while 2**bits < radix**v:
        bits += 1
    return (bits + 7) // 8


def _xor(a, b):
    return bytes([a[i] ^ b[i] for i in range(16)])


def _prf(aes, data):
    y = bytes(16)
    for j in range(0, len(data), 16):
        y = aes(_xor(y, data[j : j + 16]))
    return y


def ff1_encrypt(key, tweak, numerals, radix):
    """FF1.Encrypt(K, T, X) for X a list of ints; returns a list of ints."""
    aes = block_cipher(key)
    n = len(numerals)
    t = len(tweak)
    u = n // 2
    v = n - u
    a = numerals[:u]
    b = numerals[u:]
    bb = _bytes_needed(radix, v)
    d = 4 * ((bb + 3) // 4) + 4
    p = bytes([1, 2, 1]) + radix.to_bytes(3, "big") + bytes([10, u % 256])
    p = p + n.to_bytes(4, "big") + t.to_bytes(4, "big")
    for i in range(10):
        q = tweak + bytes((-t - bb - 1) % 16) + bytes([i]) + _num(b, radix).to_bytes(bb, "big")
        r = _prf(aes, p + q)
        s = r
        j = 1
        while len(s) < d:
            s = s + aes(_xor(r, j.to_bytes(16, "big")))
            j += 1
        y = int.from_bytes(s[:d], "big")
        m = u if i % 2 == 0 else v
        c = (_num(a, radix) + y) % (radix**m)
        a = b
        b = _str(c, radix, m)
    return a + b
