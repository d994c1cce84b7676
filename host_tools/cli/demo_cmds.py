"""`prepay demo` (what `make demo` runs); the demo itself is host_tools/demo.py."""

import click

from host_tools.cli.output import one_line


@click.command("demo")
@click.option("--pause", type=click.FloatRange(min=0), default=None, hidden=True)
@click.option(
    "--keep",
    metavar="DIR",
    default=None,
    help="Keep the demo station in DIR (replaced each run) to open it with `prepay serve`.",
)
@click.option(
    "--online",
    is_flag=True,
    help="Top up over MQTT instead: Mosquitto, `prepay headend`, customer messages.",
)
def demo(pause, keep, online):
    """Sell a token to a simulated meter and watch it spent (no setup, under a minute)."""
    from host_tools.demo import STEP_PAUSE_S, DemoError, run_demo

    if online:  # host_tools/demo_online.py
        from host_tools.demo_online import run_online_demo as run_demo
    with one_line(DemoError):
        run_demo(pause=STEP_PAUSE_S if pause is None else pause, keep=keep)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(demo)
