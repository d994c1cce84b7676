"""`prepay` verbs for the bench: device flash|deploy|provision|monitor, hil, demo.

The heavy lifting lives in host_tools.device.* and host_tools.demo; this module only parses
arguments, draws progress bars and turns the tools' errors into one-line CLI errors.
"""

import json
import sys
from contextlib import contextmanager

import click


@contextmanager
def _progress_bar(description, enabled=True):
    """Yields update(done, total, label=None); the rich bar appears at the first update.

    Lazy so that a refusal before any work prints only its error, not an empty bar.
    """
    state = {}

    def update(done, total, label=None):
        if not enabled:
            return
        if "bar" not in state:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn())
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(description, total=None)
        bar, task = state["bar"], state["task"]
        bar.update(task, completed=done, total=total or None, description=label or description)

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].stop()


@contextmanager
def _one_line(*errors):
    """Turn the tools' own errors into click's one-line `Error: ...` and exit status 1."""
    try:
        yield
    except errors as exc:
        raise click.ClickException(str(exc)) from None


def _say(as_json):
    return (lambda text: None) if as_json else (lambda text: click.echo(text))


def _emit(result, as_json, text):
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        click.echo(text)


def _flash_command():
    from host_tools.cli.device_cmds import port_option
    from host_tools.device.flash import (
        CHIP_CHOICES,
        DEFAULT_BAUD,
        DEFAULT_CONNECT_ATTEMPTS,
        FlashError,
        flash_firmware,
    )

    @click.command("flash")
    @port_option
    @click.option(
        "--firmware",
        "firmware",
        required=True,
        type=click.Path(dir_okay=False),
        help="MicroPython .bin for the board (from micropython.org/download)",
    )
    @click.option("--chip", type=click.Choice(CHIP_CHOICES), default="auto", show_default=True)
    @click.option("--baud", type=click.IntRange(9600, 3_000_000), default=DEFAULT_BAUD)
    @click.option(
        "--connect-attempts",
        type=click.IntRange(1, 100),
        default=DEFAULT_CONNECT_ATTEMPTS,
        show_default=True,
        help="how many times to try to reach the ROM bootloader",
    )
    @click.option("--json", "as_json", is_flag=True, help="print one JSON result")
    def flash(port, firmware, chip, baud, connect_attempts, as_json):
        """Erase the board and write a MicroPython firmware image at the chip's offset."""
        with _progress_bar("flash", enabled=not as_json) as update, _one_line(FlashError):
            result = flash_firmware(
                port,
                firmware,
                chip=chip,
                baud=baud,
                connect_attempts=connect_attempts,
                say=_say(as_json),
                progress=lambda stage, done, total: update(done, total, stage),
            )
        _emit(
            result,
            as_json,
            f"flashed {result['size']} bytes at {result['offset']:#x} on {result['chip']} "
            f"({result['mac']}); next: prepay device deploy --port {port}",
        )

    return flash


def _deploy_command():
    from host_tools.cli.device_cmds import port_option

    @click.command("deploy")
    @port_option
    @click.option("--board", default=None, help="copy only this board's pin map (boards/*.json)")
    @click.option(
        "--wipe",
        is_flag=True,
        help="the owner confirms: erase a provisioned meter's state (credit, journal, keys)",
    )
    @click.option("--json", "as_json", is_flag=True, help="print one JSON result")
    def deploy_cmd(port, board, wipe, as_json):
        """Compile the firmware with mpy-cross and copy what changed to the board."""
        from host_tools.device.deploy import DeployError, deploy_port

        with _progress_bar("copy", enabled=not as_json) as update, _one_line(DeployError):
            result = deploy_port(port, board=board, wipe=wipe, progress=update, say=_say(as_json))
        _emit(
            result,
            as_json,
            f"deployed to {port}: {len(result['copied'])} copied, "
            f"{len(result['unchanged'])} unchanged, {len(result['removed'])} removed; "
            "board reset",
        )

    return deploy_cmd


def _provision_command():
    from host_tools.cli.device_cmds import json_option, port_option

    @click.command("provision")
    @port_option
    @click.option("--meter", "number", required=True, help="11-digit meter number")
    @click.option("--home", "home_dir", default=None, help="station home (default $PREPAY_HOME)")
    @click.option("--unit", type=click.Choice(("currency", "kwh")), default=None)
    @click.option("--scale", type=int, default=None, help="register units per currency unit/kWh")
    @click.option("--imp-per-kwh", type=int, default=None, help="meter constant (S0 pulses)")
    @click.option("--tariff", default=None, help="station tariff (needed for a new meter)")
    @click.option("--customer", default=None)
    @click.option("--phone", default=None)
    @json_option
    def provision(
        port, number, home_dir, unit, scale, imp_per_kwh, tariff, customer, phone, as_json
    ):
        """Give the meter its number and decoder key from this station; register it."""
        from host_tools.provisioning import ProvisionError, provision_meter
        from host_tools.vending.station import PASSPHRASE_ENV

        options = {"unit": unit, "scale": scale, "imp_per_kwh": imp_per_kwh, "tariff": tariff}
        options.update(customer=customer, phone=phone)

        def prompt(confirm):
            return click.prompt(
                f"Vending key passphrase (or set {PASSPHRASE_ENV})", hide_input=True, err=True
            )

        with _one_line(ProvisionError):
            result = provision_meter(port, number, home_dir, options, prompt=prompt)
        _emit(
            result,
            as_json,
            f"meter {result['meter']} provisioned on {port} ({result['hal']}, firmware "
            f"{result['firmware']}, {result['unit']} x{result['scale']}, "
            f"{result['pulses_per_kwh']} imp/kWh)"
            + ("; added to the registry" if result["registered"] else ""),
        )

    return provision


def _monitor_command():
    from host_tools.cli.device_cmds import port_option

    @click.command("monitor")
    @port_option
    @click.option("--once", is_flag=True, help="print one frame and exit")
    @click.option("--seconds", type=click.FloatRange(min=0), default=None, help="stop after N s")
    @click.option("--interval", type=click.FloatRange(min=0.05), default=0.5, show_default=True)
    def monitor_cmd(port, once, seconds, interval):
        """A live view of the meter's registers and events (Ctrl-C to stop)."""
        from rich.console import Console

        from host_tools.device.client import DeviceError
        from host_tools.device.monitor import monitor

        with _one_line(DeviceError):
            try:
                monitor(port, Console(), seconds=seconds, once=once, interval=interval)
            except KeyboardInterrupt:
                pass

    return monitor_cmd


def _junit_results(path):
    """[(test, outcome, detail)] from a pytest JUnit XML report."""
    import xml.etree.ElementTree as ET

    rows = []
    for case in ET.parse(path).iter("testcase"):
        outcome, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                detail = (
                    (child.get("message") or "").splitlines()[0][:90]
                    if child.get("message")
                    else ""
                )
        module = case.get("classname", "").rsplit(".", 1)[-1]
        rows.append((f"{module}::{case.get('name')}", outcome, detail))
    return rows


def _hil_command():
    @click.command("hil", context_settings={"ignore_unknown_options": True})
    @click.option("--port", default="sim", show_default=True, help="serial port, or sim")
    @click.option("--power-cycle-cmd", default=None, help="command that cycles the supply")
    @click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
    def hil(port, power_cycle_cmd, pytest_args):
        """Run the hardware-in-the-loop suite against a board or the simulator; print a summary.

        Extra arguments go to pytest (e.g. -k lockout).
        """
        import subprocess
        import tempfile
        from pathlib import Path

        from rich.console import Console
        from rich.table import Table

        root = Path(__file__).resolve().parents[2]
        if not (root / "hardware_tests" / "conftest.py").exists():
            raise click.ClickException(f"no hardware_tests/ next to {root / 'host_tools'}")
        with tempfile.TemporaryDirectory(prefix="prepay-hil-") as tmp:
            report = Path(tmp, "hil.xml")
            cmd = [sys.executable, "-m", "pytest", "hardware_tests", "--port", port]
            cmd += [f"--junitxml={report}", "-p", "no:cacheprovider", *pytest_args]
            if power_cycle_cmd:
                cmd += ["--power-cycle-cmd", power_cycle_cmd]
            code = subprocess.run(cmd, cwd=root).returncode
            if not report.exists():
                raise click.ClickException(f"pytest did not run the suite (exit status {code})")
            rows = _junit_results(report)
        table = Table(title=f"HIL suite on {port}")
        for column in ("test", "result", "detail"):
            table.add_column(column)
        colour = {"passed": "green", "skipped": "yellow"}
        for name, outcome, detail in rows:
            table.add_row(name, f"[{colour.get(outcome, 'red')}]{outcome}[/]", detail)
        console = Console()
        console.print(table)
        counts = {
            o: sum(1 for r in rows if r[1] == o) for o in ("passed", "failed", "error", "skipped")
        }
        console.print(", ".join(f"{n} {o}" for o, n in counts.items() if n) or "no tests ran")
        sys.exit(code)

    return hil


def _demo_command():
    @click.command("demo")
    @click.option("--pause", type=click.FloatRange(min=0), default=None, hidden=True)
    def demo(pause):
        """Sell a token to a simulated meter and watch it spent (no setup, under a minute)."""
        from host_tools.demo import STEP_PAUSE_S, DemoError, run_demo

        with _one_line(DemoError):
            run_demo(pause=STEP_PAUSE_S if pause is None else pause)

    return demo


def register(main):
    """Attach flash/deploy/provision/monitor to `device`; add top-level `hil` and `demo`."""
    from host_tools.cli.device_cmds import device  # defined (and registered) before us

    device.add_command(_flash_command())
    device.add_command(_deploy_command())
    device.add_command(_provision_command())
    device.add_command(_monitor_command())
    main.add_command(_hil_command())
    main.add_command(_demo_command())
