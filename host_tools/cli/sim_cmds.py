"""`prepay` verbs for the sim concern (see host_tools/cli/__init__.py)."""

import json
from pathlib import Path

import click

from host_tools.sim.supervisor import DEFAULT_WATCHDOG_S

DEFAULT_STATE = Path.home() / ".prepay" / "sim"


def _announce_text(info):
    click.echo(
        "simulated meter on %s (pid %d, state %s); Ctrl-C stops it"
        % (info["port"], info["pid"], info["state"])
    )


def _announce_json(info):
    click.echo(json.dumps(info))


@click.command("sim")
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="Folder that keeps the meter's flash (journal), clock and load between runs.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, max=1000000),
    default=1.0,
    show_default=True,
    help="Virtual seconds per real second (0: the clock moves only with sim.advance).",
)
@click.option("--heap", default=None, help="MicroPython heap size, e.g. 64K (default: its own).")
@click.option(
    "--watchdog",
    type=click.FloatRange(min=0, max=3600),
    default=DEFAULT_WATCHDOG_S,
    show_default=True,
    help="Real seconds without a watchdog feed before the firmware is reset (0: no watchdog).",
)
@click.option(
    "--micropython",
    type=click.Path(exists=True, dir_okay=False, resolve_path=True),
    envvar="PREPAY_MICROPYTHON",
    default=None,
    help="MicroPython unix interpreter to run the firmware on (default: the .venv's). One with "
    "the meter frozen in (make firmware: build/micropython-unix32) runs its frozen copy.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the port as one JSON line.")
def sim(state_dir, speed, heap, watchdog, micropython, as_json):
    """Run a simulated meter: the real firmware on the MicroPython unix port behind a
    pseudo-terminal. Connect any `prepay device` command to the printed port."""
    from host_tools.sim.supervisor import SimError, serve

    try:
        serve(
            state_dir,
            speed="%.3f" % speed,
            heap=heap,
            watchdog=watchdog,
            micropython=micropython,
            announce=_announce_json if as_json else _announce_text,
        )
    except SimError as exc:
        raise click.ClickException(str(exc)) from None


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(sim)
