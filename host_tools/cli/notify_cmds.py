"""`prepay notify run|parked|list|retry|set|settings|month`: customer messages (docs/notify.md).

Who is told what is `prepay customer` (customer_cmds)."""

import signal
from datetime import UTC, datetime

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import ADMINS, APPROVERS, acting_user, station_command


@click.group()
def notify():
    """Customer messages: the dispatcher, parked messages, channel settings."""


@notify.command("run")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between runs.")
@json_option
@station_command
def notify_run(station, once, poll, as_json):
    """Send queued messages (at most once each; failures retried with backoff, then parked)."""
    from host_tools.notify.dispatcher import Dispatcher

    dispatcher = Dispatcher(station)
    if once:
        counts = dispatcher.run_once()
    else:
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        counts = dispatcher.run_forever(poll, stop=lambda: bool(stopping))
    text = ", ".join(f"{counts[k]} {k}" for k in ("fanned", "sent", "retry", "parked"))
    emit(counts, as_json, text)


def _listing(rows, as_json, title):
    # One line per message: the error text is what a person needs to read whole.
    lines = [
        f"{r['id']:>6} {r['state']:8} {r['kind']:16} {r['meter']} {r['channel']:5} "
        f"{r['recipient']} attempts {r['attempts']}"
        + (f" sent {r['sent_at']}" if r["sent_at"] else f" next {r['next_at']}")
        + (f"\n       {r['last_error']}" if r["last_error"] else "")
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) if lines else f"no {title.lower()}")


@notify.command("parked")
@json_option
@station_command
def notify_parked(station, as_json):
    """Messages parked for a person: repeated failure, or uncertain whether they went out."""
    from host_tools.notify.dispatcher import list_deliveries

    _listing(station.read(lambda conn: list_deliveries(conn, "parked")), as_json,
             "Parked messages")  # fmt: skip


@notify.command("list")
@click.option("--state", type=click.Choice(["pending", "sending", "sent", "parked"]))
@json_option
@station_command
def notify_list(station, state, as_json):
    """Messages (deliveries), oldest first."""
    from host_tools.notify.dispatcher import list_deliveries

    _listing(station.read(lambda conn: list_deliveries(conn, state)), as_json, "Messages")


@notify.command("retry")
@click.argument("delivery_id", type=int)
@station_command
def notify_retry(station, delivery_id):
    """Send a parked message again (check first that the customer did not get it); a
    supervisor or admin logs in."""
    from host_tools.notify.dispatcher import retry

    acting_user(station, APPROVERS, "retrying a message")
    station.write(lambda conn: retry(conn, delivery_id, datetime.now(UTC)))
    click.echo(f"message {delivery_id} queued again")


@notify.command("set")
@click.argument("name")
@click.argument("value")
@station_command
def notify_set(station, name, value):
    """Set a channel setting (see `prepay notify settings`); an admin logs in."""
    from host_tools.notify import settings

    acting_user(station, ADMINS, "a message channel setting")
    station.write(lambda conn: settings.store(conn, name, value))
    click.echo(f"{name} = {value.strip()!r}")


@notify.command("settings")
@json_option
@station_command
def notify_settings(station, as_json):
    """The channel settings and quiet hours."""
    from host_tools.notify import settings

    data = station.read(settings.load)
    text = "\n".join(
        f"{name:20} {data[name]!r:28} {what}" for name, (_, _, what) in settings.SETTINGS.items()
    )
    emit(data, as_json, text)


@notify.command("month")
@click.option("--month", required=True, help="YYYY-MM (station time zone).")
@station_command
def notify_month(station, month):
    """Queue the monthly statements and debt reminders (once per meter and month); a
    supervisor or admin logs in."""
    from host_tools.notify import events

    acting_user(station, APPROVERS, "queueing the month's messages")
    now = station.stamp().utc_iso
    order = station.config["debt_order"]
    queued = station.write(lambda conn: events.queue_month(conn, month, now, order, station.tz))
    click.echo(f"{queued} messages queued for {month}")


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(notify)
