"""Board pin maps (`firmware/boards/<board>.json`): defaults, pin roles and checks, pure.

`check_board(config)` refuses a pin map that would misbehave on the chip: flash pins (the
board crashes), strapping pins (the board may not boot, or boots into the ROM loader, when
the relay driver or keypad pulls them), the USB serial pins, outputs on input-only pins and
internal pull-ups that do not exist. It runs on the board at boot and in the tests.
"""

import json

_ESP32_GPIOS = tuple(n for n in range(40) if n not in (20, 24, 28, 29, 30, 31))
_S3_GPIOS = tuple(range(22)) + tuple(range(26, 49))

# Per chip: the GPIOs that exist, and the ones a meter must not use, with the reason.
CHIPS = {
    "esp32": {
        "gpios": _ESP32_GPIOS,
        "flash": (6, 7, 8, 9, 10, 11),
        "strapping": (0, 2, 5, 12, 15),
        "input_only": (34, 35, 36, 37, 38, 39),
        "reserved": {
            1: "UART0 TX (the USB serial link)",
            3: "UART0 RX (the USB serial link)",
            16: "PSRAM on WROVER modules",
            17: "PSRAM on WROVER modules",
        },
    },
    "esp32s3": {
        "gpios": _S3_GPIOS,
        "flash": (26, 27, 28, 29, 30, 31, 32),
        "strapping": (0, 3, 45, 46),
        "input_only": (),
        "reserved": {
            19: "USB D- (native USB serial)",
            20: "USB D+ (native USB serial)",
            33: "octal PSRAM on N8R8/N16R8 modules",
            34: "octal PSRAM on N8R8/N16R8 modules",
            35: "octal PSRAM on N8R8/N16R8 modules",
            36: "octal PSRAM on N8R8/N16R8 modules",
            37: "octal PSRAM on N8R8/N16R8 modules",
            43: "UART0 TX (USB-UART bridge)",
            44: "UART0 RX (USB-UART bridge)",
        },
    },
}

# Values a board file may leave out.
DEFAULTS = {
    "meter": {"pulses_per_kwh": 1000, "max_power_w": 24000, "margin_pct": 25},
    "watchdog_ms": 8000,
    "external_pullups": [],
    # The one periodic hardware timer that scans the keypad and drives bench/buzzer pulses.
    "timer_id": 0,
    # The journal's flash: the "journal" data partition (docs/journal.md) if the partition
    # table has one, else a fixed-size file on littlefs as a development fallback for stock
    # MicroPython firmware, which has no such partition. See docs/hal_esp32.md.
    "journal": {"partition": "journal", "file": "/journal.bin", "block_size": 4096, "blocks": 16},
}
# The journal's minimum (docs/journal.md: 2 config + 4 event + >= 2 register blocks).
MIN_JOURNAL_BLOCKS = 8
_SECTION_DEFAULTS = {
    "pulse": {"counter_id": 0, "edge": "falling", "filter_ns": 12_700},
    "keypad": {"keymap": "123A456B789C*0#D", "scan_ms": 10, "stable_scans": 3},
    "display": {"address": 0x3C, "freq": 400_000, "width": 128, "height": 64},
    "tamper": {"open_level": 1},
    "buzzer": {"active_level": 1},
    "led": {"active_level": 1},
    "bench": {"active_level": 0},
}


def with_defaults(config):
    """A copy of `config` with every optional value filled in."""
    out = {}
    for key, value in DEFAULTS.items():
        out[key] = dict(value) if isinstance(value, dict) else value
    for key, value in _SECTION_DEFAULTS.items():
        if key in config:  # optional hardware: defaults only where the board has it
            out[key] = dict(value)
    for key, value in config.items():
        if isinstance(value, dict):
            section = out.get(key)
            out[key] = section if isinstance(section, dict) else {}
            out[key].update(value)  # a copy: the caller's config is never modified
        else:
            out[key] = value
    if "relay" in out and out["relay"].get("type") == "latching":
        out["relay"].setdefault("pulse_ms", 50)
        out["relay"].setdefault("active_level", 1)
    return out


def load_board(path):
    """Read a board JSON file and return it checked, with defaults filled in."""
    with open(path) as f:
        config = json.load(f)
    return check_board(config)


def pin_roles(config):
    """Every pin the board uses as (pin, role, direction, needs_pullup), in a stable order.

    direction is "in" or "out"; needs_pullup is True for inputs that idle high through a
    pull-up (switches and open-collector outputs pull them low).
    """
    roles = []
    if "pulse" in config:
        roles.append((config["pulse"]["pin"], "pulse input (S0)", "in", True))
    relay = config.get("relay")
    if relay:
        if relay.get("type") == "latching":
            roles.append((relay["set_pin"], "relay set coil (close)", "out", False))
            roles.append((relay["reset_pin"], "relay reset coil (open)", "out", False))
        else:
            roles.append((relay["pin"], "relay coil", "out", False))
    keypad = config.get("keypad")
    if keypad:
        for i, pin in enumerate(keypad["rows"]):
            roles.append((pin, "keypad row %d" % (i + 1), "out", False))
        for i, pin in enumerate(keypad["cols"]):
            roles.append((pin, "keypad column %d" % (i + 1), "in", True))
    display = config.get("display")
    if display:
        roles.append((display["sda"], "I2C SDA (display)", "io", False))
        roles.append((display["scl"], "I2C SCL (display)", "out", False))
    for section, role, direction, pullup in (
        ("tamper", "tamper switch", "in", True),
        ("buzzer", "buzzer", "out", False),
        ("led", "alarm LED", "out", False),
        ("bench", "bench pulse output", "out", False),
    ):
        if section in config:
            roles.append((config[section]["pin"], role, direction, pullup))
    return roles


def board_problems(config):
    """Everything wrong with a board config, as a list of one-line messages."""
    problems = []
    chip = CHIPS.get(config.get("chip"))
    if chip is None:
        return ["unknown chip %r: expected one of %s" % (config.get("chip"), sorted(CHIPS))]
    for section in ("pulse", "relay"):
        if section not in config:
            problems.append("missing section %r" % section)
    relay = config.get("relay", {})
    if relay and relay.get("type") not in ("monostable", "latching"):
        problems.append("relay type must be 'monostable' or 'latching'")
    elif relay.get("type") == "latching" and not ("set_pin" in relay and "reset_pin" in relay):
        problems.append("a latching relay needs set_pin and reset_pin")
    elif relay.get("type") == "monostable" and (
        "pin" not in relay or relay.get("closed_level") not in (0, 1)
    ):
        problems.append("a monostable relay needs pin and closed_level 0 or 1")
    keypad = config.get("keypad")
    if keypad and (len(keypad.get("rows", ())) != 4 or len(keypad.get("cols", ())) != 4):
        problems.append("keypad needs 4 rows and 4 cols")
    if problems:
        return problems
    problems.extend(_pin_problems(config, chip))
    meter = config.get("meter", DEFAULTS["meter"])
    for key in ("pulses_per_kwh", "max_power_w"):
        if not isinstance(meter.get(key), int) or meter[key] <= 0:
            problems.append("meter.%s must be a positive integer" % key)
    journal = config.get("journal", DEFAULTS["journal"])
    if not journal.get("partition") and not journal.get("file"):
        problems.append("journal needs a partition label, a file path, or both")
    if journal.get("file") and journal.get("blocks", MIN_JOURNAL_BLOCKS) < MIN_JOURNAL_BLOCKS:
        problems.append("journal.blocks must be >= %d" % MIN_JOURNAL_BLOCKS)
    watchdog = config.get("watchdog_ms", DEFAULTS["watchdog_ms"])
    if not isinstance(watchdog, int) or watchdog < 1000:
        problems.append("watchdog_ms must be an integer >= 1000 (the ESP32 minimum)")
    return problems


def _pin_problems(config, chip):
    problems = []
    external = config.get("external_pullups", ())
    used = {}
    for pin, role, direction, pullup in pin_roles(config):
        where = "GPIO%s (%s)" % (pin, role)
        if not isinstance(pin, int) or pin not in chip["gpios"]:
            problems.append("%s: no such GPIO on %s" % (where, config["chip"]))
            continue
        if pin in used:
            problems.append("%s: already used for %s" % (where, used[pin]))
        used[pin] = role
        if pin in chip["flash"]:
            problems.append("%s: wired to the SPI flash" % where)
        elif pin in chip["strapping"]:
            problems.append("%s: strapping pin, may stop the board booting" % where)
        elif pin in chip["reserved"]:
            problems.append("%s: reserved for %s" % (where, chip["reserved"][pin]))
        if pin in chip["input_only"]:
            if direction != "in":
                problems.append("%s: input-only pin used as an output" % where)
            elif pullup and pin not in external:
                problems.append(
                    "%s: input-only pins have no pull-up; list it in "
                    "external_pullups and fit a resistor" % where
                )
    return problems


def check_board(config):
    """`config` with defaults filled in, or ValueError listing every problem."""
    problems = board_problems(config)
    if problems:
        raise ValueError(
            "bad board config %s: %s" % (config.get("name", "?"), "; ".join(problems))
        )
    return with_defaults(config)


def journal_plan(journal, partition_found):
    """Where the journal lives: ("partition", label) or ("file", path, block_size, blocks).

    `journal` is the board's journal section (defaults filled in); `partition_found` says
    whether the partition table has its data partition. Raises ValueError saying what is
    missing when there is neither, so boot reports it instead of hanging.
    """
    label = journal.get("partition")
    if label and partition_found:
        return ("partition", label)
    path = journal.get("file")
    if path:
        return ("file", path, journal.get("block_size", 4096), journal.get("blocks", 16))
    raise ValueError(
        "no data partition labelled %r and no journal file configured: flash a partition "
        "table with that partition or set journal.file in the board config" % label
    )
