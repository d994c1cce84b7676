"""`prepay headend`: the MQTT head-end beside the station, on its database (docs/online.md)."""

import os
import signal
import threading

import click

from host_tools.cli.station_access import station_command

PASSWORD_ENV = "PREPAY_HEADEND_PASSWORD"


@click.command("headend")
@click.option("--db", "db_url", default=None, help="Database URL (default: the station's own).")
@click.option("--broker", required=True, help="MQTT broker, mqtt://host:port or mqtts://...")
@click.option("--user", default="headend", show_default=True, help="Broker username.")
@click.option("--ca", "ca_file", default=None, help="CA certificate (PEM) for mqtts://.")
@click.option(
    "--no-notify",
    is_flag=True,
    help="Do not send customer messages here (for sites that run `prepay notify run`).",
)
@station_command
def headend_cmd(station, db_url, broker, user, ca_file, no_notify):
    """Store meters' telemetry and events; push sold tokens to online meters; send customer
    messages (the `prepay notify run` dispatcher, unless --no-notify).

    The broker password is read from $PREPAY_HEADEND_PASSWORD (never from the command line,
    where other users of the machine could see it)."""
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


def register(main):
    main.add_command(headend_cmd)
