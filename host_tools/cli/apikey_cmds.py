"""`prepay apikey add|list|revoke`: keys for payment channels calling the HTTP API.

`add` prints the key once ({"key": ...} with --json); only its hash is stored.
"""

import json

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import ADMINS, acting_user, station_command
from host_tools.vending import apikeys, render, vend


@click.group("apikey")
def apikey():
    """API keys for payment channels (Bearer auth on /api/v1)."""


@apikey.command("add")
@click.option("--channel", type=click.Choice(vend.CHANNELS), required=True,
              help="The only channel this key may sell as.")  # fmt: skip
@click.option("--name", default=None, help="The operator (default: the channel); its sales are "
              "booked to cashier api:NAME.")  # fmt: skip
@click.option("--supervisor", is_flag=True, help="May also reverse the operator's sales.")
@json_option
@station_command
def apikey_add(station, channel, name, supervisor, as_json):
    """Create a key and print it once (store it now: it cannot be shown again), as the
    logged-in admin."""
    acting_user(station, ADMINS, "adding an API key")
    stamp = station.stamp()
    role = "supervisor" if supervisor else "seller"
    key, row = station.write(lambda conn: apikeys.add_key(conn, channel, name, stamp, role))
    if as_json:
        click.echo(json.dumps({"key": key, **row}, sort_keys=True))
    else:
        click.echo(f"API key {row['id']} for {row['name']} (channel {channel}):")
        click.echo(key)
        click.echo("store it now: it is shown only once")


@apikey.command("list")
@json_option
@station_command
def apikey_list(station, as_json):
    """List keys (ids, operators, channels; never the keys)."""
    rows = station.read(apikeys.list_keys)
    emit(rows, as_json, lambda c, d: c.print(render.rows_table("API keys", d)))


@apikey.command("revoke")
@click.argument("key_id")
@station_command
def apikey_revoke(station, key_id):
    """Revoke a key by its id: it is refused from the next request on (as the logged-in
    admin)."""
    acting_user(station, ADMINS, "revoking an API key")
    stamp = station.stamp()
    station.write(lambda conn: apikeys.revoke(conn, key_id, stamp))
    click.echo(f"API key {key_id} revoked")


def register(main):
    main.add_command(apikey)
