"""`make demo` (`prepay demo --keep .demo-station`) leaves a station the web app opens, with its
users, and prints the `prepay serve` command; it never replaces a directory it did not make."""

import os
import subprocess
import sys

import pytest

from host_tools.demo import PASSPHRASE, USERS
from host_tools.vending import users
from host_tools.vending.station import Station
from tests.helpers import ROOT


def _demo(keep, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREPAY_")}
    env.update(COLUMNS="200", HOME=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "host_tools.cli", "demo", "--pause", "0", "--keep", str(keep)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_the_kept_demo_station_opens_in_the_web_app(tmp_path, monkeypatch):
    keep = tmp_path / "demo-station"
    proc = _demo(keep, tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"PREPAY_PASSPHRASE='{PASSPHRASE}' prepay serve --home {keep}" in proc.stdout
    assert "http://127.0.0.1:8080/" in proc.stdout
    monkeypatch.setenv("PREPAY_PASSPHRASE", PASSPHRASE)
    station = Station(keep)
    try:
        for name, role in USERS.items():  # every printed login works with the printed password
            assert users.authenticate(station, name, PASSPHRASE, "127.0.0.1").role == role
    finally:
        station.close()


def test_the_demo_refuses_to_replace_a_directory_it_did_not_make(tmp_path):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    proc = _demo(keep, tmp_path)
    assert proc.returncode != 0
    assert "is not a demo station: choose another --keep directory" in proc.stderr
    assert (keep / "notes.txt").read_text() == "precious"
