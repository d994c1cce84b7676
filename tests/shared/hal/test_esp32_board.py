"""Board pin maps in firmware/boards/*.json and the pin checks (both interpreters)."""

import support
from esp32_hal_support import BOARD_NAMES, board_json, copy_config

from firmware.hal.esp32_board import CHIPS, board_problems, check_board, journal_plan, pin_roles


def _problems_after(name, change):
    config = copy_config(board_json(name))
    change(config)
    return " | ".join(board_problems(config))


def test_every_shipped_board_passes_its_checks():
    for name in BOARD_NAMES:
        config = board_json(name)
        assert board_problems(config) == [], (name, board_problems(config))
        full = check_board(config)
        assert full["name"] == name
        assert full["watchdog_ms"] >= 1000


def test_shipped_boards_avoid_strapping_flash_and_reserved_pins():
    # Independent of the checker: the rule from the issue, spelled out per chip.
    forbidden = {
        "esp32": {0, 2, 5, 12, 15, 6, 7, 8, 9, 10, 11, 1, 3},
        "esp32s3": {0, 3, 45, 46, 19, 20, 43, 44} | set(range(26, 33)),
    }
    for name in BOARD_NAMES:
        config = board_json(name)
        pins = [role[0] for role in pin_roles(config)]
        assert len(pins) == len(set(pins)), name
        assert not set(pins) & forbidden[config["chip"]], name
        if config["chip"] == "esp32":
            for pin, role, direction, _ in pin_roles(config):
                assert not (34 <= pin <= 39 and direction != "in"), (name, pin, role)


def test_default_board_has_every_peripheral_the_issue_lists():
    roles = " ".join(role for _, role, _, _ in pin_roles(board_json("esp32_devkitc")))
    for part in ("pulse", "relay", "keypad row 4", "keypad column 4", "SDA", "SCL", "tamper",
                 "buzzer", "LED", "bench"):  # fmt: skip
        assert part in roles, part


def test_strapping_pin_is_refused():
    def relay_on_gpio0(c):
        c["relay"]["pin"] = 0

    assert "strapping" in _problems_after("esp32_devkitc", relay_on_gpio0)


def test_flash_pin_is_refused():
    def led_on_flash(c):
        c["led"]["pin"] = 7

    assert "flash" in _problems_after("esp32_devkitc", led_on_flash)


def test_output_on_input_only_pin_is_refused():
    def relay_on_34(c):
        c["relay"]["pin"] = 34

    text = _problems_after("esp32_devkitc", relay_on_34)
    assert "input-only pin used as an output" in text
    assert "already used" in text  # 34 is also the pulse input


def test_input_only_pin_needs_an_external_pullup():
    def forget_resistor(c):
        c["external_pullups"].remove(36)

    assert "no pull-up" in _problems_after("esp32_devkitc", forget_resistor)


def test_missing_gpio_and_uart_pins_are_refused():
    def on_gpio24(c):
        c["buzzer"]["pin"] = 24

    def on_uart(c):
        c["keypad"]["rows"][0] = 1

    assert "no such GPIO" in _problems_after("esp32_devkitc", on_gpio24)
    assert "UART0" in _problems_after("esp32_devkitc", on_uart)


def test_structural_problems():
    def no_relay(c):
        del c["relay"]

    def bad_type(c):
        c["relay"]["type"] = "solid-state"

    def half_latching(c):
        del c["relay"]["reset_pin"]

    def three_rows(c):
        c["keypad"]["rows"].pop()

    def short_watchdog(c):
        c["watchdog_ms"] = 500

    def zero_constant(c):
        c["meter"]["pulses_per_kwh"] = 0

    def other_chip(c):
        c["chip"] = "esp8266"

    assert "missing section 'relay'" in _problems_after("esp32_devkitc", no_relay)
    assert "monostable" in _problems_after("esp32_devkitc", bad_type)
    assert "reset_pin" in _problems_after("esp32_devkitc_latching", half_latching)
    assert "4 rows" in _problems_after("esp32_devkitc", three_rows)
    assert "watchdog_ms" in _problems_after("esp32_devkitc", short_watchdog)
    assert "pulses_per_kwh" in _problems_after("esp32_devkitc", zero_constant)
    assert "unknown chip" in _problems_after("esp32_devkitc", other_chip)


def test_check_board_raises_with_every_problem_and_fills_defaults():
    config = copy_config(board_json("esp32_devkitc"))
    config["relay"]["pin"] = 2
    config["led"]["pin"] = 9
    exc = support.raises(ValueError, check_board, config)
    assert "GPIO2" in str(exc) and "GPIO9" in str(exc)

    minimal = {"name": "bare", "chip": "esp32", "pulse": {"pin": 4},
               "relay": {"type": "latching", "set_pin": 25, "reset_pin": 26}}  # fmt: skip
    full = check_board(minimal)
    assert full["pulse"]["edge"] == "falling" and full["pulse"]["counter_id"] == 0
    assert full["relay"]["pulse_ms"] == 50 and full["relay"]["active_level"] == 1
    assert full["meter"]["pulses_per_kwh"] == 1000 and full["watchdog_ms"] == 8000
    assert "keypad" not in full and "display" not in full
    assert minimal["relay"] == {"type": "latching", "set_pin": 25, "reset_pin": 26}


def test_chip_tables_are_consistent():
    for chip in CHIPS.values():
        gpios = set(chip["gpios"])
        for key in ("flash", "strapping", "input_only"):
            assert set(chip[key]) <= gpios
        assert set(chip["reserved"]) <= gpios


def test_journal_goes_to_the_partition_when_the_table_has_one():
    journal = check_board(board_json("esp32_devkitc"))["journal"]
    assert journal_plan(journal, True) == ("partition", "journal")


def test_journal_falls_back_to_a_littlefs_file_without_the_partition():
    journal = check_board(board_json("esp32_devkitc"))["journal"]
    assert journal_plan(journal, False) == ("file", "/journal.bin", 4096, 16)


def test_journal_with_nowhere_to_live_is_a_clear_error():
    exc = support.raises(ValueError, journal_plan, {"partition": "journal"}, False)
    assert "no data partition labelled 'journal'" in str(exc)
    assert "journal.file" in str(exc)

    def nowhere(c):
        c["journal"] = {"partition": "", "file": ""}

    def too_small(c):
        c["journal"]["blocks"] = 7  # the journal needs 8 (docs/journal.md)

    assert "journal needs" in _problems_after("esp32_devkitc", nowhere)
    assert "journal.blocks" in _problems_after("esp32_devkitc", too_small)
