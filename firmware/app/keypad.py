"""The meter's keypad: a digit buffer with an inter-digit timeout (pure; time is passed in).

Keys (a 4x4 keypad: 0-9, A-D, *, #):
  0-9  add a digit to the token being typed (at most 20; extra digits are ignored)
  #    enter: the typed digits go to the meter as a token (nothing happens on an empty buffer)
  *    clear the typed digits
  C    delete the last digit
  A    activate emergency credit
  B    show the next information page on the display
  D    show the last token result again
A pause of INTER_DIGIT_MS between keys clears a half-typed token, as on commercial meters.
"""

from token_spec.compat import const

INTER_DIGIT_MS = const(25000)
TOKEN_DIGITS = const(20)

# Actions `press` returns for the app to carry out.
ENTER = "enter"
EMERGENCY = "emergency"
NEXT_PAGE = "page"
LAST_RESULT = "last"


class Keypad:
    """Collects digits; `press(key, now_ms)` returns an action tuple or None."""

    def __init__(self):
        self.digits = ""
        self._last_ms = None

    def expire(self, now_ms):
        """Drop a half-typed token after the inter-digit timeout; True if it was dropped."""
        if self.digits and self._last_ms is not None:
            if now_ms - self._last_ms >= INTER_DIGIT_MS:
                self.digits = ""
                return True
        return False

    def press(self, key, now_ms):
        """Handle one key; returns (ENTER, digits), (EMERGENCY,), (NEXT_PAGE,), (LAST_RESULT,)
        or None. Unknown keys are ignored."""
        self.expire(now_ms)
        self._last_ms = now_ms
        if "0" <= key <= "9" and len(key) == 1:
            if len(self.digits) < TOKEN_DIGITS:
                self.digits += key
            return None
        if key == "#":
            digits = self.digits
            self.digits = ""
            return (ENTER, digits) if digits else None
        if key == "*":
            self.digits = ""
        elif key == "C":
            self.digits = self.digits[:-1]
        elif key == "A":
            return (EMERGENCY,)
        elif key == "B":
            return (NEXT_PAGE,)
        elif key == "D":
            return (LAST_RESULT,)
        return None


VALID_KEYS = "0123456789ABCD*#"
