"""`prepay demo` (what `make demo` runs) end to end, as a user starts it."""

import os
import subprocess
import sys

from tests.helpers import ROOT


def test_demo_sells_spends_cuts_and_reconnects(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREPAY_")}
    env.update(COLUMNS="120", HOME=str(tmp_path))  # nothing may depend on a station of ours
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools.cli", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-2000:] + proc.stderr[-2000:]
    steps = [
        "station ready in",
        "provisioned on",
        "$ PREPAY_USER=demo prepay vend",  # the demo's cashier logs in; no typed --cashier
        "TOKEN  ",
        ": accepted, credit 20.00",
        "LOW CREDIT ALARM",
        "relay opened",
        "DEMO-MOBILE-0002",
        ": accepted, credit 10.00",
        "relay closed",
        "5b. STS",  # an STS meter sold a token that the simulated STS meter accepts
        "Token format    STS EA07",
        ": accepted, credit 5.000",
        "Batch close",
        "books balance",
        "demo finished",
    ]
    at = 0
    for step in steps:  # each one after the one before
        found = out.find(step, at)
        assert found >= 0, f"{step!r} missing after position {at}:\n{out[at:][:1500]}"
        at = found + len(step)
    assert "DO NOT BALANCE" not in out
    assert not any(tmp_path.iterdir()), "the demo wrote outside its temporary home"
