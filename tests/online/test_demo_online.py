"""`prepay demo --online` (what `make demo-online` runs) end to end, as a user starts it: the
real Mosquitto, `prepay headend` (it sends the messages too), the simulated meter.

The demo keeps its station (--keep) so the test can read what the head-end and the dispatcher
wrote; no timing is asserted (the demo itself waits with generous limits)."""

import json
import os
import re
import socket
import subprocess
import sys

from click.testing import CliRunner
from sqlalchemy import select

from host_tools.cli import main
from host_tools.demo import METER
from host_tools.notify.dispatcher import list_deliveries
from host_tools.vending import db
from host_tools.vending.station import Station
from tests.helpers import ROOT


def _processes_mentioning(text):
    """pids of live processes whose command line contains `text`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_online_demo_tops_up_over_mqtt_tells_the_customer_and_leaves_nothing_running(
    tmp_path, monkeypatch
):
    home = tmp_path / "kept"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREPAY_")}
    env.update(COLUMNS="120", HOME=str(tmp_path))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "host_tools.cli",
            "demo",
            "--online",
            "--pause",
            "0",
            "--keep",
            str(home),
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-2000:]
    steps = [
        "Mosquitto on mqtt://127.0.0.1:",
        "prepay headend --broker",
        "prepay device net-set",
        f"meter {METER} is online",
        "network      mqtt 127.0.0.1:",  # `prepay device status` shows the link
        "DEMO-ONLINE-0001",
        "accepted (attempts 1); nobody typed the token",
        "meter credit 0.00 -> 20.00",
        "LOW CREDIT ALARM",
        "relay opened",
        "DEMO-ONLINE-0002",
        "meter credit 0.00 -> 10.00",
        "What the customer was told",
        "stopped: prepay headend, the simulated meter, Mosquitto",
        "online demo finished",
    ]
    at = 0
    for step in steps:  # each one after the one before
        found = out.find(step, at)
        assert found >= 0, f"{step!r} missing after position {at}:\n{out[at:][:1500]}"
        at = found + len(step)

    # Both tokens were accepted by the meter through the head-end's delivery queue.
    monkeypatch.setenv("PREPAY_PASSPHRASE", "prepay demo passphrase")
    station = Station(str(home))
    try:
        deliveries = station.read(
            lambda c: c.execute(select(db.deliveries).order_by(db.deliveries.c.txn_id)).all()
        )
        sent = station.read(lambda c: list_deliveries(c, "sent"))
    finally:
        station.close()
    assert [(d.meter, d.status, d.result) for d in deliveries] == [
        (METER, "accepted", "accepted")
    ] * 2
    # The customer's messages: on the file channel, with the newest credit the head-end held
    # when it stored the event (the meter's state goes before its events in each poll, so never
    # an older one; on a loaded machine the event may be stored after the next 15-minute state).
    kinds = [r["kind"] for r in sent if r["channel"] == "file"]
    assert sorted(kinds) == sorted(
        ["topup", "topup", "credit_low", "supply_cut", "supply_restored"]
    )
    assert kinds.index("credit_low") < kinds.index("supply_cut") < kinds.index("supply_restored")
    with open(home / "messages.jsonl", encoding="utf-8") as f:
        bodies = [json.loads(line)["body"] for line in f]
    assert len(bodies) == 5
    low = [re.search(r"credit low, (\d+)\.(\d\d) left", b) for b in bodies]
    (left,) = [int(m[1]) * 100 + int(m[2]) for m in low if m]
    assert 0 < left <= 500, "\n".join(bodies)  # at or after the alarm at 5.00: never before
    assert any("supply cut, credit used up (0.00)" in b for b in bodies), "\n".join(bodies)

    # Nothing left running: no head-end or dispatcher on the kept home, the broker's port shut.
    assert _processes_mentioning(str(home)) == []
    port = int(re.search(r"Mosquitto on mqtt://127\.0\.0\.1:(\d+)", out).group(1))
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_online_demo_refuses_a_keep_directory_it_did_not_make(tmp_path):
    (tmp_path / "mine.txt").write_text("not a demo station")
    result = CliRunner().invoke(main, ["demo", "--online", "--keep", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not a demo station" in result.output
    assert (tmp_path / "mine.txt").exists()


def test_without_mosquitto_the_message_says_how_to_install_it(tmp_path):
    from host_tools.headend.broker import BrokerUnavailable, find_mosquitto

    try:
        find_mosquitto(path=str(tmp_path))  # a PATH with no mosquitto on it
    except BrokerUnavailable as error:
        assert "apt-get install mosquitto" in str(error)
    else:
        raise AssertionError("found a mosquitto in an empty folder")
