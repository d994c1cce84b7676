"""firmware/boards/README.md's pin tables say exactly what the board JSON files do."""

import json
import re

from firmware.hal.esp32_board import pin_roles
from tests.helpers import ROOT

BOARDS = ROOT / "firmware" / "boards"


def _tables():
    """{board name: {(gpio, role, dir): wiring}} from the README's marked tables."""
    text = (BOARDS / "README.md").read_text()
    tables = {}
    for match in re.finditer(r"<!-- pins: (\w+) -->\n((?:\|.*\n)+)", text):
        rows = {}
        for line in match.group(2).splitlines()[2:]:  # skip header and separator
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[(int(cells[0]), cells[1], cells[2])] = cells[3]
        tables[match.group(1)] = rows
    return tables


def _documented(name, tables):
    rows = dict(tables[name])
    if name == "esp32_devkitc_latching":  # documented as the default map with two relay pins
        rows.update((r, w) for r, w in tables["esp32_devkitc"].items() if r[1][:5] != "relay")
    return rows


def test_every_board_file_has_a_matching_table():
    tables = _tables()
    names = sorted(p.stem for p in BOARDS.glob("*.json"))
    assert names, "no board files"
    for name in names:
        config = json.loads((BOARDS / f"{name}.json").read_text())
        assert config["name"] == name
        expected = {(pin, role, direction) for pin, role, direction, _ in pin_roles(config)}
        assert name in tables or name == "esp32_devkitc_latching", f"{name}: no pin table"
        documented = set(_documented(name, tables))
        assert expected == documented, (
            f"{name}: README and JSON differ\n only in JSON: {sorted(expected - documented)}\n"
            f" only in README: {sorted(documented - expected)}"
        )


def test_readme_lists_every_board_file():
    text = (BOARDS / "README.md").read_text()
    for path in BOARDS.glob("*.json"):
        assert f"`{path.name}`" in text, path.name


def test_external_pullups_are_documented_as_resistors():
    tables = _tables()
    for path in BOARDS.glob("*.json"):
        config = json.loads(path.read_text())
        rows = _documented(path.stem, tables)
        for pin in config.get("external_pullups", ()):
            wiring = [w for (gpio, _, _), w in rows.items() if gpio == pin]
            assert len(wiring) == 1 and "10 kΩ pull-up" in wiring[0], (path.stem, pin)
