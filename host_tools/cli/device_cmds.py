"""`prepay device ...`: every verb that talks to one meter (a board or `prepay sim`).

hello|status|token|events|keypad  the serial protocol (host_tools.device.client)
config                            show the meter's config, or apply a signed config blob
net-set                           the meter's network settings: Wi-Fi, MQTT broker, login, CA
load|advance|power-cut|tamper     the simulator's world (`prepay sim` only; a board refuses)
flash|deploy                      put MicroPython and the firmware on a board (host_tools.device)
provision                         the meter's identity from a station (host_tools.provisioning)
monitor                           a live view of registers and events (host_tools.device.monitor)
"""

import json
from pathlib import Path

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
    if r.get("network"):
        lines.append("network      %s" % _network_text(r["network"]))
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


@device.command("config")
@click.argument("blob", required=False)
@click.option("--blob-file", type=click.File("r"), default=None, help="A file holding the blob.")
@connection_options
def config(blob, blob_file, port, as_json, timeout):
    """Show the meter's config, or apply BLOB (from `prepay config sign`; `-` reads stdin)."""
    import json

    from host_tools.device.client import DeviceClient, DeviceError

    if blob == "-":
        blob = click.get_text_stream("stdin").read()
    if blob_file is not None:
        blob = blob_file.read()
    try:
        with DeviceClient(port, timeout=timeout) as client:
            if blob:
                r = client.set_config(blob.strip())
                emit(r, as_json, "config %d applied" % r["counter"])
                return
            first = client.request("config.get")
            text = first["text"]
            while len(text) < first["size"]:
                text += client.request("config.get", offset=len(text))["text"]
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    first.pop("offset")
    first.pop("size")
    first["config"] = json.loads(text)
    del first["text"]
    emit(
        first,
        as_json,
        "counter %d\n%s"
        % (first["counter"], json.dumps(first["config"], indent=2, sort_keys=True)),
    )


def _network_text(net):
    """One line for `status`: where the meter's MQTT link points and whether it is up."""
    link = "connected" if net.get("connected") else "NOT connected"
    text = "%s %s%s, %s" % ("mqtts" if net.get("tls") else "mqtt", net.get("broker"),
                             "" if net.get("tls") else " (no TLS)", link)  # fmt: skip
    if not net.get("connected") and net.get("last_error"):
        text += " (last error: %s)" % net["last_error"]
    return text


MQTT_PASSWORD_ENV, WIFI_PASSWORD_ENV = "PREPAY_MQTT_PASSWORD", "PREPAY_WIFI_PASSWORD"


def _secret(env, what):
    """A password from $env, else asked on a terminal (never on the command line, where other
    users of the machine see it); None (not set) when neither."""
    import os
    import sys

    value = os.environ.get(env)
    if value is None and sys.stdin.isatty():
        value = click.prompt(f"{what} (empty: none)", default="", hide_input=True,
                             show_default=False, err=True)  # fmt: skip
    return value or None


@device.command("net-set")
@click.option("--broker", default=None, help="mqtt://host:1883 or mqtts://host:8883 (TLS).")
@click.option("--user", default=None, help="Broker username (default: the meter number).")
@click.option("--ssid", default=None, help="Wi-Fi network the board joins (the sim ignores it).")
@click.option("--ca", "ca_file", type=click.File("r"), default=None,
              help="PEM file of the CA that signed the broker's certificate (mqtts).")  # fmt: skip
@click.option("--clear", is_flag=True, help="Remove the network settings: keypad-only again.")
@connection_options
def net_set(broker, user, ssid, ca_file, clear, port, as_json, timeout):
    """Give the meter its network settings (replacing any it has); it connects at once.

    Passwords come from $PREPAY_MQTT_PASSWORD (broker) and $PREPAY_WIFI_PASSWORD, else are
    asked on the terminal. They change neither credit nor supply, so no token is needed;
    `prepay device status` then shows the link, never a password."""
    if clear:
        if broker or user or ssid or ca_file:
            raise click.UsageError("--clear takes no other network option")
        r = _call(port, timeout, "net.set", network=None)
        emit(r, as_json, "network settings removed: the meter is keypad-only")
        return
    if not broker:
        raise click.UsageError("--broker is required (or --clear)")
    network = {"broker": broker, "user": user, "ssid": ssid}
    if ssid:
        network["wifi_password"] = _secret(WIFI_PASSWORD_ENV, f"Wi-Fi password for {ssid}")
    network["password"] = _secret(MQTT_PASSWORD_ENV, "Broker password")
    if ca_file is not None:
        network["ca"] = ca_file.read()
    r = _call(port, timeout, "net.set",
              network={k: v for k, v in network.items() if v is not None})  # fmt: skip
    shown = ", ".join("%s %s" % kv for kv in sorted(r["network"].items()))
    emit(r, as_json, "network settings stored (%s); `prepay device status` shows the link" % shown)


# ---- the simulator's world (a board answers that these exist only on the simulator) ------------


@device.command("load")
@click.argument("watts", type=click.IntRange(0, 1000000))
@connection_options
def load(watts, port, as_json, timeout):
    """Simulator: draw WATTS from the meter from now on."""
    r = _call(port, timeout, "sim.load", watts=watts)
    emit(r, as_json, "load %d W" % r["watts"])


@device.command("advance")
@click.argument("seconds", type=click.IntRange(0, 31 * 86400))
@connection_options
def advance(seconds, port, as_json, timeout):
    """Simulator: let SECONDS of meter time pass (pulses at the load, relay, events)."""
    r = _call(port, timeout, "sim.advance", seconds=seconds)
    emit(r, as_json, "meter time %d" % r["time"])


@device.command("power-cut")
@connection_options
def power_cut(port, as_json, timeout):
    """Simulator: cut the meter's power and wait until it has booted again."""
    from host_tools.device.client import DeviceClient, DeviceError

    try:
        with DeviceClient(port, timeout=timeout) as client:
            client.events_pending()
            client.request("sim.power_cut")
            boot = client.wait_event("boot", timeout=max(timeout, 15))
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    emit({"power_cut": True, "boot": boot}, as_json, "power cut; the meter booted again")


@device.command("tamper")
@click.argument("state", type=click.Choice(("open", "closed")))
@connection_options
def tamper(state, port, as_json, timeout):
    """Simulator: open or close the meter's tamper switch."""
    r = _call(port, timeout, "sim.tamper", open=state == "open")
    emit(r, as_json, "tamper switch %s" % ("open" if r["open"] else "closed"))


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


# ---- signed field updates (host_tools/device/update.py; docs/firmware.md, "Field updates")


def _update_failed(exc):
    raise click.ClickException(str(exc).strip().splitlines()[0]) from None


@device.command("bundle")
@click.option("--meter", "number", required=True, help="11-digit number of the meter to update")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--version",
    default=None,
    help="Version the bundle carries (default: firmware/version.py; must be newer than the "
    "meter's). Rewrites firmware/version.py in an mpy bundle.",
)
@click.option(
    "--app-image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="ESP32 app image (OTA build with the meter frozen in); default: an mpy bundle of "
    "this firmware tree, which is what the simulator runs.",
)
@click.option("--home", "home_dir", default=None, help="station home (default $PREPAY_HOME)")
def bundle(number, out, version, app_image, home_dir):
    """Build a firmware bundle signed for one meter with its maintenance key."""
    from host_tools.device.update import UpdateError, build_bundle, maintenance_key
    from host_tools.vending import StationError, registry
    from host_tools.vending.station import PASSPHRASE_ENV, Station

    def prompt(confirm):
        return click.prompt(
            f"Vending key passphrase (or set {PASSPHRASE_ENV})", hide_input=True, err=True
        )

    try:
        station = Station(home_dir, prompt=prompt)
        try:
            number = registry.check_meter(number)
            station.read(lambda conn: registry.get_meter(conn, number))  # registered here
            key = maintenance_key(station.key, number)
        finally:
            station.close()
        data = build_bundle(key, number, version, app_image=app_image)
    except (StationError, UpdateError) as exc:
        _update_failed(exc)
    out.write_bytes(data)
    header = data.split(b"\n", 1)[0]
    click.echo(f"{out}: bundle for meter {number}, {len(data) - len(header) - 1} bytes payload")


@device.command("update")
@click.argument("bundle_path", metavar="BUNDLE", type=click.Path(path_type=Path))
@click.option("--port", "-p", envvar="PREPAY_PORT", required=True, help="Serial port of the meter")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--restart-timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the meter to come back after the switch.",
)
def update(bundle_path, port, as_json, restart_timeout):
    """Deliver BUNDLE to the meter on PORT; it checks it all, writes its spare slot, switches."""
    from host_tools.device.client import DeviceClient, DeviceError
    from host_tools.device.update import UpdateError, read_bundle, send_bundle

    try:
        header, payload = read_bundle(bundle_path)
        with DeviceClient(port, timeout=10) as client:
            result = send_bundle(client, header, payload, restart_timeout=restart_timeout)
    except (DeviceError, UpdateError) as exc:
        _update_failed(exc)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(
            f"meter on {port} updated from {result['from']} to {result['to']} (slot "
            f"{result['slot']}, {result['bytes']} bytes in {result['seconds']:.1f} s)"
        )


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(device)
