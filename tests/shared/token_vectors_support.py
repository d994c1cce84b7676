"""Helpers for the token_spec tests that run under both interpreters (tests/shared/token_format).

The frozen vectors are read from token_spec/vectors/*.json; nothing here computes expectations.
"""

import json

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
VECTOR_DIR = _HERE + "/../../token_spec/vectors/"


def load_vectors(name):
    """The list of cases in token_spec/vectors/<name>.json."""
    with open(VECTOR_DIR + name + ".json") as handle:
        data = json.load(handle)
    assert data["format"] == 1
    return data["cases"]


def key(hex_text):
    """bytes from a vector's hex field."""
    return bytes.fromhex(hex_text)


def error_of(func, *args):
    """The exception func(*args) raised, or None."""
    try:
        func(*args)
    except Exception as exc:
        return exc
    return None


def lcg(seed):
    """A tiny seeded generator that behaves the same under both interpreters."""
    state = [seed & 0xFFFFFFFFFFFF]

    def next_below(limit):
        state[0] = (state[0] * 25214903917 + 11) & 0xFFFFFFFFFFFF
        return (state[0] >> 8) % limit

    return next_below
