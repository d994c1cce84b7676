"""`prepay` verbs for the device concern (see host_tools/cli/__init__.py).

`prepay device hello|status|token|events|keypad --port P [--json]` talk to a meter (a board or
`prepay sim`) through host_tools.device.client. bench_cmds attaches flash, deploy, provision
and monitor to the same `device` group.
"""

import json

import click

port_option = click.option(
    "--port",
    "-p",
    envvar="PREPAY_PORT",
    required=True,
    help="Serial port of the meter (e.g. /dev/ttyUSB0, or the port `prepay sim` printed).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
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


def _call(port, timeout, cmd, **args):
    from host_tools.device.client import DeviceClient, DeviceError

    try:
        with DeviceClient(port, timeout=timeout) as client:
            return client.request(cmd, **args)
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None


def _emit(as_json, result, text):
    click.echo(json.dumps(result) if as_json else text)


@device.command("hello")
@connection_options
def hello(port, as_json, timeout):
    """Firmware version, meter number and whether the meter is provisioned."""
    r = _call(port, timeout, "hello")
    meter = r.get("meter_number") or "(not provisioned)"
    _emit(as_json, r, "meter %s  firmware %s  hal %s" % (meter, r["firmware"], r["hal"]))


@device.command("status")
@connection_options
def status(port, as_json, timeout):
    """Credit, zone, relay, power, energy, lockout and emergency credit."""
    r = _call(port, timeout, "status")
    if not r.get("provisioned"):
        _emit(as_json, r, "meter not provisioned; relay %s" % r["relay"])
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
    _emit(as_json, r, "\n".join(lines))


@device.command("token")
@click.argument("token", nargs=-1, required=True)
@connection_options
def token(token, port, as_json, timeout):
    """Enter a 20-digit TOKEN (groups separated by spaces or dashes are fine)."""
    r = _call(port, timeout, "token", token=" ".join(token))
    _emit(as_json, r, "%s; credit %s" % (r["result"], r["credit_text"]))
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
    text = "\n".join(
        "%6d  %10d  %-13s a=%d b=%d" % (e["seq"], e["time"], e["event"], e["a"], e["b"])
        for e in found
    )
    _emit(as_json, {"events": found}, text or "no events")


@device.command("keypad")
@click.argument("keys")
@connection_options
def keypad(keys, port, as_json, timeout):
    """Press KEYS on the meter's keypad (0-9, A-D, * and #; # enters a token)."""
    r = _call(port, timeout, "keypad", keys=keys.upper())
    _emit(as_json, r, "\n".join(r["display"]))


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(device)
