"""`prepay headend [deliveries|meters]`: the MQTT head-end beside the station, on its
database, its remote top-up queue and the meters it hears from (docs/online.md)."""

import os
import signal
import threading

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import home_option, station_command
from host_tools.vending.deliveries import STATUSES

PASSWORD_ENV = "PREPAY_HEADEND_PASSWORD"
DB_HELP = "Database URL (default: the station's own)."


@click.group("headend", invoke_without_command=True)
@home_option
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--broker", default=None, help="MQTT broker, mqtt://host:port or mqtts://...")
@click.option("--user", default="headend", show_default=True, help="Broker username.")
@click.option("--ca", "ca_file", default=None, help="CA certificate (PEM) for mqtts://.")
@click.option(
    "--no-notify",
    is_flag=True,
    help="Do not send customer messages here (for sites that run `prepay notify run`).",
)
@click.pass_context
def headend_cmd(ctx, home_dir, db_url, broker, user, ca_file, no_notify):
    """Store meters' telemetry and events; push sold tokens to online meters; send customer
    messages (the `prepay notify run` dispatcher, unless --no-notify). Needs --broker.

    The broker password is read from $PREPAY_HEADEND_PASSWORD (never from the command line,
    where other users of the machine could see it). `prepay headend deliveries` lists the
    remote top-ups."""
    if ctx.invoked_subcommand is not None:
        # `prepay headend --home H deliveries`: the subcommand takes the station from here.
        ctx.default_map = {ctx.invoked_subcommand: {"home_dir": home_dir, "db_url": db_url}}
        return
    if not broker:
        raise click.UsageError("Missing option '--broker' (mqtt://host:port of the broker).")
    _serve(home_dir=home_dir, db_url=db_url, broker=broker, user=user, ca_file=ca_file,
           no_notify=no_notify)  # fmt: skip


@station_command
def _serve(station, db_url, broker, user, ca_file, no_notify):
    from host_tools.headend.service import Headend, serve

    if db_url:
        station.use_database(db_url)
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise click.UsageError(f"set ${PASSWORD_ENV} to the broker password of user {user!r}")
    headend = Headend(station, broker, user, password, ca_file=ca_file)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    station.read(lambda conn: None)  # a wrong database or schema fails here, in one line
    headend.start()
    messages = "without customer messages" if no_notify else "sending customer messages"
    click.echo(f"prepay headend on {broker} as {user}, {messages} (Ctrl-C stops it)", err=True)
    try:
        serve(headend, stop, notify=not no_notify)
    finally:
        headend.close()
    click.echo("prepay headend stopped", err=True)


@headend_cmd.command("deliveries")
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--meter", default=None, help="One meter's only.")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="pending/sent: on their way; accepted, done (typed in first): applied; rejected: "
    "the meter refused the token (wrong key, forged, expired...), never sent again.",
)
@json_option
@station_command
def deliveries_cmd(station, db_url, meter, status, as_json):
    """Tokens sold for online meters and what became of them, newest first. A rejected one's
    receipt (`prepay reprint RECEIPT`) holds the token."""
    from host_tools.vending import registry
    from host_tools.vending.deliveries import list_deliveries

    if db_url:
        station.use_database(db_url)
    if meter:
        meter = registry.check_meter(meter)
    rows = station.read(lambda conn: list_deliveries(conn, meter, status))
    lines = [
        f"receipt {r['receipt']}  {r['meter']}  {r['status']:8} "
        f"{r['result'] or '-':8} attempts {r['attempts']}  sold {r['sold_at']}"
        + (f"  closed {r['closed_at']}" if r["closed_at"] else "")
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) if lines else "no deliveries")


@headend_cmd.command("meters")
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--offline", is_flag=True, help="Only the meters the head-end has lost.")
@json_option
@station_command
def meters_cmd(station, db_url, offline, as_json):
    """The meters the head-end has heard from: online or offline (by the meter's last will)
    since when, events stored in order (and any the meter lost), the last state's credit."""
    from host_tools.headend.links import list_links

    if db_url:
        station.use_database(db_url)
    rows = station.read(lambda conn: list_links(conn, offline))
    lines = [
        f"{r['meter']}  {'online ' if r['online'] else 'OFFLINE'} since {r['since']}  "
        f"credit {r['credit_text'] or '-'}  relay {r['relay'] or '-'}  "
        f"events {r['events_stored']}"
        + (f" ({r['events_lost']} lost on the meter)" if r["events_lost"] else "")
        for r in rows
    ]
    none = "no meter offline" if offline else "no meter has connected to the head-end yet"
    emit(rows, as_json, "\n".join(lines) if lines else none)


def register(main):
    main.add_command(headend_cmd)
