"""`prepay serve`: the station as a web app for cashiers and an HTTP API for payment channels."""

import click

from host_tools.cli.station_access import station_command


@click.command("serve")
@click.option("--db", "db_url", default=None, help="Database URL (default: the station's own).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@station_command
def serve_cmd(station, db_url, host, port):
    """Serve the cashier pages and /api/v1 (open http://HOST:PORT/ in a browser)."""
    from host_tools.web.server import serve

    if db_url:
        station.use_database(db_url)
    click.echo(f"prepay station on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    serve(station, host, port)


def register(main):
    main.add_command(serve_cmd)
