"""`prepay station upgrade`: schema migrations (Alembic), attached to the `station` group."""

import click

from host_tools.cli.station_cmds import station_command


@click.command("upgrade")
@station_command
def station_upgrade(station):
    """Move the station's database to this prepay's schema (one transaction; a newer schema
    than this prepay's is refused and nothing changes)."""
    from host_tools.vending.upgrade import upgrade

    found, now = upgrade(station)
    if found == now:
        click.echo(f"schema version {now}: already current")
    else:
        click.echo(f"schema version {found} -> {now}: upgraded")


def register(main):
    main.commands["station"].add_command(station_upgrade)
