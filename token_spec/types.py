"""Token types (the 4-bit type field) and their value domains (SPEC.md §5)."""

from token_spec.compat import const

TYPE_CREDIT = const(0)
TYPE_POWER_LIMIT = const(1)
TYPE_CLEAR_TAMPER = const(2)
TYPE_CLEAR_CREDIT = const(3)
TYPE_SET_PRICE = const(4)
TYPE_LOW_CREDIT = const(5)
TYPE_ADD_DEBT = const(6)
TYPE_DEBT_RECOVERY = const(7)
TYPE_KEY_CHANGE_1 = const(8)
TYPE_KEY_CHANGE_2 = const(9)
TYPE_KEY_CHANGE_3 = const(10)
TYPE_KEY_CHANGE_4 = const(11)
TYPE_VOID = const(12)  # format v1 addition (SPEC.md §5.8): voids the token with TID - 1
_TYPE_RESERVED_13 = const(13)
TYPE_TEST = const(14)
TYPE_PUBLIC_TEST = const(15)

# Value domains.
AMOUNT_TYPES = (TYPE_CREDIT, TYPE_SET_PRICE, TYPE_LOW_CREDIT, TYPE_ADD_DEBT)
KEY_CHANGE_TYPES = (TYPE_KEY_CHANGE_1, TYPE_KEY_CHANGE_2, TYPE_KEY_CHANGE_3, TYPE_KEY_CHANGE_4)
RESERVED_TYPES = (_TYPE_RESERVED_13,)
NO_VALUE_TYPES = (TYPE_CLEAR_TAMPER, TYPE_CLEAR_CREDIT)
# Types the meter does not check against its TID memory (SPEC.md §7).
TID_FREE_TYPES = KEY_CHANGE_TYPES + (TYPE_PUBLIC_TEST,)

DEBT_RECOVERY_MAX = const(100)  # percent

# Test numbers (value of TYPE_TEST / TYPE_PUBLIC_TEST).
TEST_DISPLAY = const(0)  # light every display element / show "TEST"
TEST_SHOW_VERSION = const(1)  # firmware version, token format version, key revision
TEST_SHOW_METER = const(2)  # meter number
TEST_SHOW_REGISTERS = const(3)  # credit, debt, lifetime energy
TEST_RELAY = const(4)  # open the relay for 5 s, then restore what the policy says
DISPLAY_TESTS = (TEST_DISPLAY, TEST_SHOW_VERSION, TEST_SHOW_METER, TEST_SHOW_REGISTERS)
METER_TESTS = DISPLAY_TESTS + (TEST_RELAY,)

TYPE_NAMES = {
    TYPE_CREDIT: "credit",
    TYPE_POWER_LIMIT: "power-limit",
    TYPE_CLEAR_TAMPER: "clear-tamper",
    TYPE_CLEAR_CREDIT: "clear-credit",
    TYPE_SET_PRICE: "set-price",
    TYPE_LOW_CREDIT: "low-credit",
    TYPE_ADD_DEBT: "add-debt",
    TYPE_DEBT_RECOVERY: "debt-recovery",
    TYPE_KEY_CHANGE_1: "key-change-1",
    TYPE_KEY_CHANGE_2: "key-change-2",
    TYPE_KEY_CHANGE_3: "key-change-3",
    TYPE_KEY_CHANGE_4: "key-change-4",
    TYPE_VOID: "void",
    _TYPE_RESERVED_13: "reserved-13",
    TYPE_TEST: "test",
    TYPE_PUBLIC_TEST: "public-test",
}


def type_from_name(name):
    """The type number for a name from TYPE_NAMES or a decimal number 0..15; ValueError else."""
    text = str(name).strip().lower().replace("_", "-")
    for number, type_name in TYPE_NAMES.items():
        if type_name == text:
            return number
    if text.isdigit() and int(text) <= 15:
        return int(text)
    raise ValueError(
        "unknown token type %r (one of: %s)" % (name, ", ".join(sorted(TYPE_NAMES.values())))
    )
