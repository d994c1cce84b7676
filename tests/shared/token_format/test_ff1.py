"""FF1 against NIST SP 800-38G's published samples and a literal reference implementation."""

from token_ff1_reference import ff1_encrypt
from token_vectors_support import lcg

from token_spec import ff1

NIST_KEY = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def test_nist_sample_1_radix_10_empty_tweak():
    assert ff1.encrypt(NIST_KEY, b"", "0123456789") == "2433477484"
    assert ff1.decrypt(NIST_KEY, b"", "2433477484") == "0123456789"


def test_nist_sample_2_radix_10_with_tweak():
    tweak = bytes.fromhex("39383736353433323130")
    assert ff1.encrypt(NIST_KEY, tweak, "0123456789") == "6124200773"
    assert ff1.decrypt(NIST_KEY, tweak, "6124200773") == "0123456789"


def test_nist_sample_3_radix_36():
    tweak = bytes.fromhex("3737373770717273373737")
    assert ff1.encrypt(NIST_KEY, tweak, "0123456789abcdefghi", 36) == "a9tv40mll9kdu509eum"
    assert ff1.decrypt(NIST_KEY, tweak, "a9tv40mll9kdu509eum", 36) == "0123456789abcdefghi"


def _check_against_reference(key, tweak, radix, n, rand, count):
    for _ in range(count):
        numerals = [rand(radix) for _ in range(n)]
        text = "".join(_ALPHABET[d] for d in numerals)
        expected = "".join(_ALPHABET[d] for d in ff1_encrypt(key, tweak, numerals, radix))
        assert ff1.encrypt(key, tweak, text, radix) == expected, (radix, n, text)
        assert ff1.decrypt(key, tweak, expected, radix) == text


def test_token_shape_matches_reference():
    # radix 10, 20 numerals, 11-byte tweak: the fast one-AES-per-round path.
    rand = lcg(1)
    key = bytes(range(16))
    _check_against_reference(key, b"01234567897", 10, 20, rand, 5)


def test_general_shapes_match_reference():
    # Shapes that take the general path: several variable PRF blocks (long tweak / long
    # numeral string) and S longer than one block (d > 16), odd n, other radixes.
    rand = lcg(2)
    key = bytes(range(100, 116))
    for tweak, radix, n in (
        (b"", 10, 7),
        (bytes(range(30)), 10, 21),
        (b"abc", 2, 40),
        (b"tweak", 36, 41),
        (bytes(5), 10, 70),
    ):
        _check_against_reference(key, tweak, radix, n, rand, 2)


def test_fast_and_general_paths_agree():
    ctx = ff1.Context(bytes(16), b"01234567897", 10, 20)
    slow = ff1.Context(bytes(16), b"01234567897", 10, 20)
    slow._fast_bases = None
    rand = lcg(3)
    for _ in range(20):
        x = rand(10**10) * 10**10 + rand(10**10)
        assert ctx.encrypt_int(x) == slow.encrypt_int(x)
        assert slow.decrypt_int(ctx.encrypt_int(x)) == x


def test_rejects_bad_numerals_and_sizes():
    for args in (("12a4567890", 10), ("", 10), ("123", 10)):
        try:
            ff1.encrypt(NIST_KEY, b"", args[0], args[1])
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (args,))


def test_reference_itself_reproduces_nist():
    digits = [int(c) for c in "0123456789"]
    tweak = bytes.fromhex("39383736353433323130")
    assert ff1_encrypt(NIST_KEY, tweak, digits, 10) == [int(c) for c in "6124200773"]
    numerals = [_ALPHABET.index(c) for c in "0123456789abcdefghi"]
    tweak = bytes.fromhex("3737373770717273373737")
    expected = [_ALPHABET.index(c) for c in "a9tv40mll9kdu509eum"]
    assert ff1_encrypt(NIST_KEY, tweak, numerals, 36) == expected
