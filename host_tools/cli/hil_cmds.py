"""`prepay hil`: the hardware-in-the-loop suite (hardware_tests/) against a board or the
simulator, run in a child pytest and summarised as a table."""

import sys

import click


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


def _board_answers(port):
    """One line, not a suite of errors, when nothing on `port` speaks the protocol."""
    from host_tools.device.client import DeviceClient, DeviceError

    try:
        with DeviceClient(port):
            pass
    except DeviceError as exc:
        raise click.ClickException(f"no board answered on {port} ({exc})") from None


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
    if port != "sim":
        _board_answers(port)
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


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(hil)
