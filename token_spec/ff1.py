"""FF1 format-preserving encryption (NIST SP 800-38G Rev. 1) with AES-128.

`encrypt(key, tweak, numerals)` / `decrypt(...)` work on numeral strings ("0"-"9", and "a"-"z"
for radix up to 36). The token codec uses `context(key, tweak, radix, n)` directly, which works
on integers: NUM_radix(X) in, NUM_radix(Y) out, no string handling per token.

Speed: everything that depends only on (key, tweak, radix, n) is computed once per context —
the cipher object, the CBC-MAC state after P and the constant part of Q, and each round's
constant block. For the token (radix 10, n = 20, 11-byte tweak) Q is 32 bytes and only its last
block varies, so one round costs exactly one AES call.
"""

from token_spec.aes import block_cipher
from token_spec.compat import IS_MICROPYTHON

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_ROUNDS = 10
# Contexts kept per (key, tweak, radix, n). A meter needs two (its own key and the public test
# key); a vending station serving many meters benefits from more.
CACHE_SIZE = 4 if IS_MICROPYTHON else 256
_cache = {}


def _ceil_log2(value):
    # Smallest k with 2**k >= value (no int.bit_length on MicroPython).
    k = 0
    while (1 << k) < value:
        k += 1
    return k


def _xor_int(block, value):
    return int.from_bytes(block, "big") ^ value


class Context:
    """FF1 under one key and tweak for numeral strings of length n in radix `radix`."""

    def __init__(self, key, tweak, radix, n):
        if not 2 <= radix <= 65536:
            raise ValueError("FF1 radix must be 2..65536")
        if n < 2 or radix**n < 1000000:
            raise ValueError("FF1 needs radix**n >= 1000000 and n >= 2")
        self.radix = radix
        self.n = n
        self._aes = block_cipher(key)
        u = n // 2
        v = n - u
        self._u = u
        self._v = v
        self._mod_u = radix**u
        self._mod_v = radix**v
        b = (_ceil_log2(radix**v) + 7) // 8
        d = 4 * ((b + 3) // 4) + 4
        self._b = b
        self._d = d
        t = len(tweak)
        pad = (-t - b - 1) % 16
        p = bytes([1, 2, 1]) + radix.to_bytes(3, "big") + bytes([10, u % 256])
        p += n.to_bytes(4, "big") + t.to_bytes(4, "big")
        prefix = p + bytes(tweak) + bytes(pad)
        full = len(prefix) // 16
        state = 0
        for i in range(full):
            state = int.from_bytes(
                self._aes((_xor_int(prefix[16 * i : 16 * i + 16], state)).to_bytes(16, "big")),
                "big",
            )
        tail = int.from_bytes(prefix[16 * full :], "big")
        # The rest of the PRF input, per round: tail || [i]^1 || [NUM(B)]^b, a whole number of
        # blocks. Precompute tail || [i] shifted into place, one value per round.
        self._rest_len = len(prefix) - 16 * full + 1 + b
        self._round_base = [((tail << 8) | i) << (8 * b) for i in range(_ROUNDS)]
        self._state = state
        self._mods = [self._mod_u if i % 2 == 0 else self._mod_v for i in range(_ROUNDS)]
        # Fast path (the token's case, n even): the variable part of Q fits in the last PRF
        # block, S is one block and both halves have the same modulus, so round i is
        # y = AES(base_i ^ NUM) >> shift: one AES call.
        self._fast_bases = None
        if self._rest_len == 16 and d <= 16 and u == v:
            self._y_shift = 128 - 8 * d
            self._fast_bases = [state ^ self._round_base[i] for i in range(_ROUNDS)]
            self._fast_bases_reversed = list(reversed(self._fast_bases))

    def _prf_y(self, i, num):
        # y = NUM(S): S is the first d bytes of R || CIPH(R ^ 1) || CIPH(R ^ 2) ...
        aes = self._aes
        rest = self._round_base[i] | num
        nblocks = self._rest_len // 16
        state = self._state
        for j in range(nblocks):
            shift = 128 * (nblocks - 1 - j)
            block = (rest >> shift) & ((1 << 128) - 1)
            state = int.from_bytes(aes((state ^ block).to_bytes(16, "big")), "big")
        d = self._d
        if d <= 16:
            return state >> (128 - 8 * d)
        s = state
        blocks = (d + 15) // 16
        for j in range(1, blocks):
            s = (s << 128) | int.from_bytes(aes((state ^ j).to_bytes(16, "big")), "big")
        return s >> (128 * blocks - 8 * d)

    def encrypt_int(self, x):
        """FF1.Encrypt on NUM_radix(X); x must be in [0, radix**n)."""
        mod_v = self._mod_v
        a, b = divmod(x, mod_v)
        if self._fast_bases is not None:
            # One AES call per round; locals because this loop is the whole cost of a token.
            aes = self._aes
            from_bytes = int.from_bytes
            shift = self._y_shift
            for base in self._fast_bases:
                a, b = (
                    b,
                    (a + (from_bytes(aes((base ^ b).to_bytes(16, "big")), "big") >> shift))
                    % mod_v,
                )
            return a * mod_v + b
        for i in range(_ROUNDS):
            c = (a + self._prf_y(i, b)) % self._mods[i]
            a = b
            b = c
        return a * mod_v + b

    def decrypt_int(self, x):
        """FF1.Decrypt on NUM_radix(X); x must be in [0, radix**n)."""
        mod_v = self._mod_v
        a, b = divmod(x, mod_v)
        if self._fast_bases is not None:
            aes = self._aes
            from_bytes = int.from_bytes
            shift = self._y_shift
            for base in self._fast_bases_reversed:
                a, b = (
                    (b - (from_bytes(aes((base ^ a).to_bytes(16, "big")), "big") >> shift))
                    % mod_v,
                    a,
                )
            return a * mod_v + b
        for i in range(_ROUNDS - 1, -1, -1):
            c = (b - self._prf_y(i, a)) % self._mods[i]
            b = a
            a = c
        return a * mod_v + b


def context(key, tweak, radix=10, n=20):
    """The cached FF1 context for (key, tweak, radix, n)."""
    cache_key = (bytes(key), bytes(tweak), radix, n)
    ctx = _cache.get(cache_key)
    if ctx is None:
        if len(_cache) >= CACHE_SIZE:
            # Crude but bounded: drop everything rather than track recency (no OrderedDict
            # needed, and a vending station rarely cycles through more meters than this).
            _cache.clear()
        ctx = Context(key, tweak, radix, n)
        _cache[cache_key] = ctx
    return ctx


def _to_int(numerals, radix):
    if not numerals:
        raise ValueError("FF1 numeral string is empty")
    value = 0
    for ch in numerals:
        digit = _ALPHABET.find(ch.lower()) if radix <= 36 else -1
        if digit < 0 or digit >= radix:
            raise ValueError("numeral %r is not valid in radix %d" % (ch, radix))
        value = value * radix + digit
    return value


def _to_str(value, radix, n):
    out = []
    for _ in range(n):
        value, digit = divmod(value, radix)
        out.append(_ALPHABET[digit])
    out.reverse()
    return "".join(out)


def encrypt(key, tweak, numerals, radix=10):
    """FF1-AES128 encrypt a numeral string (radix <= 36); returns a string of the same length."""
    n = len(numerals)
    return _to_str(context(key, tweak, radix, n).encrypt_int(_to_int(numerals, radix)), radix, n)


def decrypt(key, tweak, numerals, radix=10):
    """FF1-AES128 decrypt a numeral string (radix <= 36); returns a string of the same length."""
    n = len(numerals)
    return _to_str(context(key, tweak, radix, n).decrypt_int(_to_int(numerals, radix)), radix, n)
