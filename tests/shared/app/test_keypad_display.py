"""Keypad digit buffer and display text (pure), under both interpreters."""

from firmware.app import display
from firmware.app.keypad import EMERGENCY, ENTER, INTER_DIGIT_MS, NEXT_PAGE, Keypad


def _press(pad, keys, t=0):
    out = []
    for k in keys:
        action = pad.press(k, t)
        if action is not None:
            out.append(action)
    return out


def test_digits_build_a_token_and_hash_enters_it():
    pad = Keypad()
    assert _press(pad, "1234") == []
    assert pad.digits == "1234"
    assert _press(pad, "#") == [(ENTER, "1234")]
    assert pad.digits == ""
    assert _press(pad, "#") == []  # nothing typed: nothing entered


def test_star_clears_c_deletes_and_at_most_20_digits_are_kept():
    pad = Keypad()
    _press(pad, "123*45C")
    assert pad.digits == "4"
    _press(pad, "*" + "9" * 25)
    assert pad.digits == "9" * 20


def test_letter_keys_are_actions():
    pad = Keypad()
    assert _press(pad, "AB") == [(EMERGENCY,), (NEXT_PAGE,)]


def test_inter_digit_timeout_drops_a_half_typed_token():
    pad = Keypad()
    pad.press("1", 0)
    pad.press("2", INTER_DIGIT_MS - 1)
    assert pad.digits == "12"
    assert not pad.expire(2 * INTER_DIGIT_MS - 2)
    assert pad.expire(2 * INTER_DIGIT_MS - 1)
    assert pad.digits == ""
    pad.press("3", 5 * INTER_DIGIT_MS)
    assert pad.press("#", 6 * INTER_DIGIT_MS) is None  # the 3 timed out before #


def test_display_shows_register_units_as_token_spec_writes_them():
    status = {"unit": "currency", "credit": 13, "scale": 8, "relay": "closed", "zone": "normal"}
    assert display.lines(status)[0] == "CR 1+5/8"
    status.update(unit="kwh", credit=-5, scale=100)
    assert display.lines(status)[0] == "CR -0.05 kWh"
