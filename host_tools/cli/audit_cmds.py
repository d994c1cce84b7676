"""`prepay audit verify`: the ledger's hash chain; exit status 1 when it does not verify."""

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import station_command
from host_tools.vending import render


@click.group("audit")
def audit_group():
    """Ledger integrity."""


@audit_group.command("verify")
@json_option
@station_command
def audit_verify(station, as_json):
    """Recompute the hash chain: any edited, inserted or deleted ledger row is reported."""
    from host_tools.vending import audit

    result = audit.verify(station)

    emit(result, as_json, render.audit_result)
    if not result["ok"]:
        raise SystemExit(1)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(audit_group)
