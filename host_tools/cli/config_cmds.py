"""`prepay config sign`: signed configuration blobs for one meter (docs/station.md)."""

import click

from host_tools.cli.output import json_option
from host_tools.cli.station_access import print_receipt, station_command


@click.group("config")
def config_group():
    """Signed configuration blobs for meters."""


@config_group.command("sign")
@click.argument("meter_number")
@click.option("--file", "path", required=True, help="The config as a JSON object.")
@click.option("--cashier", default="")
@json_option
@station_command
def config_sign(station, meter_number, path, cashier, as_json):
    """Sign a config for one meter with its next config counter."""
    from host_tools.vending import mgmt

    config = mgmt.load_config_file(path)
    print_receipt(mgmt.sign(station, meter_number, config, cashier), as_json, station)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(config_group)
