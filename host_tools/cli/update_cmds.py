"""`prepay device bundle` and `prepay device update`: signed field updates
(host_tools/device/update.py; docs/firmware.md, "Field updates")."""

import json
from pathlib import Path

import click


def _fail(exc):
    raise click.ClickException(str(exc).strip().splitlines()[0]) from None


@click.command("bundle")
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
        _fail(exc)
    out.write_bytes(data)
    header = data.split(b"\n", 1)[0]
    click.echo(f"{out}: bundle for meter {number}, {len(data) - len(header) - 1} bytes payload")


@click.command("update")
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
        _fail(exc)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(
            f"meter on {port} updated from {result['from']} to {result['to']} (slot "
            f"{result['slot']}, {result['bytes']} bytes in {result['seconds']:.1f} s)"
        )


def register(main):
    """Attach bundle and update to the `device` group."""
    from host_tools.cli.device_cmds import device

    device.add_command(bundle)
    device.add_command(update)
