"""Field updates against `prepay sim` over its pty: the real firmware receives signed bundles
through the serial protocol, writes its spare slot, restarts on it — and keeps its registers,
refuses what it must with nothing written, survives power cuts at every step, and rolls back a
version that does not start."""

import binascii
import json
import shutil

import pytest

from host_tools.device.client import DeviceClient, DeviceError
from host_tools.device.update import ROOT, build_bundle, send_bundle
from host_tools.sim import SimMeter
from tests.sim.sim_scenario_helpers import METER, SETTINGS, START, power_cut, token
from token_spec.keys import derive_maintenance_key

VENDING = bytes(range(32))
MKEY = derive_maintenance_key(VENDING, METER, 1)
OTHER = "12345678911"
# status fields a restart changes by itself
# What a restart changes by design: the clock moves on, boot events are logged, and power is a
# measurement over a window that starts again at boot (0 W until the next window closes).
RESTART_FIELDS = ("time", "event_seq", "power_w")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Bundles built once: good versions, and versions that crash or hang at boot."""
    tmp = tmp_path_factory.mktemp("bundles")
    broken = {}
    for name, code in (
        ("crash", 'raise RuntimeError("broken release")\n'),
        ("hang", "import time\nwhile True:\n    time.sleep(1)\n"),
    ):
        tree = tmp / name
        for part in ("firmware", "token_spec"):
            shutil.copytree(ROOT / part, tree / part, ignore=shutil.ignore_patterns("vectors"))
        (tree / "firmware" / "main.py").write_text(code)
        broken[name] = tree
    return {
        "0.2.0": build_bundle(MKEY, METER, "0.2.0"),
        "0.3.0": build_bundle(MKEY, METER, "0.3.0"),
        "0.0.9": build_bundle(MKEY, METER, "0.0.9"),
        "other": build_bundle(derive_maintenance_key(VENDING, OTHER, 1), OTHER, "0.2.0"),
        "crash": build_bundle(MKEY, METER, "0.4.0", root=broken["crash"]),
        "hang": build_bundle(MKEY, METER, "0.4.0", root=broken["hang"]),
    }


def _split(bundle):
    header, payload = bundle.split(b"\n", 1)
    return header.decode(), payload


def _in_credit(client):
    """Provision with the maintenance key, buy credit, draw some energy."""
    client.request("sim.time", time=START)
    client.request("provision", maintenance_key=MKEY.hex(), **SETTINGS)
    assert client.request("token", token=token(700))["result"] == "accepted"
    client.request("sim.load", watts=1000)
    client.request("sim.advance", seconds=1800)
    status = client.request("status")
    assert status["credit"] == 650 and status["relay"] == "closed"
    return status


def _registers(status):
    return {k: v for k, v in status.items() if k not in RESTART_FIELDS}


def _disk(state):
    """What a refused update must leave unchanged: journal bytes, boot selection, slots."""
    ota = state / "otadata.json"
    return (
        (state / "journal.bin").read_bytes(),
        ota.read_text() if ota.exists() else None,
        sorted(p.name for p in state.iterdir() if p.name.startswith("ota_")),
    )


def test_update_keeps_every_register_and_the_next_one_uses_the_other_slot(tmp_path, bundles):
    with SimMeter(tmp_path, speed=0) as sim, DeviceClient(sim.port, timeout=10) as meter:
        before = _in_credit(meter)
        events_before = meter.all_events()
        result = send_bundle(meter, *_split(bundles["0.2.0"]))
        assert (result["from"], result["to"], result["slot"]) == ("0.1.0", "0.2.0", "ota_0")
        assert _registers(meter.request("status")) == _registers(before)
        assert meter.all_events()[: len(events_before)] == events_before  # the log is intact
        assert meter.request("update.status")["running"] == "ota_0"
        # the meter works on: tokens, the used one stays used, energy is billed
        assert meter.request("token", token=token(700))["result"] == "used"
        meter.request("sim.advance", seconds=1800)
        assert meter.request("status")["credit"] == 600
        result = send_bundle(meter, *_split(bundles["0.3.0"]))
        assert (result["to"], result["slot"]) == ("0.3.0", "ota_1")
        assert meter.request("status")["credit"] == 600
    ota = json.loads((tmp_path / "otadata.json").read_text())
    assert ota == {"slot": "ota_1", "previous": "ota_0", "state": "valid"}


def test_refused_bundles_write_nothing(tmp_path, bundles):
    with SimMeter(tmp_path, speed=0) as sim, DeviceClient(sim.port, timeout=10) as meter:
        _in_credit(meter)
        meter.request("sim.load", watts=0)
        send_bundle(meter, *_split(bundles["0.2.0"]))
        before_status = meter.request("status")
        before = _disk(tmp_path)
        header, payload = _split(bundles["0.3.0"])
        changed_header = header[:20] + ("A" if header[20] != "A" else "B") + header[21:]
        for bad, message in (
            (_split(bundles["other"]), "signature is invalid"),
            (_split(bundles["0.0.9"]), "not newer than the running 0.2.0"),
            (_split(bundles["0.2.0"]), "not newer than the running 0.2.0"),
            ((changed_header, payload), "signature is invalid"),
        ):
            with pytest.raises(DeviceError, match=message) as err:
                meter.request("update.begin", header=bad[0])
            assert err.value.code == "refused"
            assert _disk(tmp_path) == before
        # one byte of the payload changed: written to the spare slot, refused at the end, gone
        changed = bytearray(payload)
        changed[len(changed) // 3] ^= 0x40
        with pytest.raises(Exception, match="does not match its signed digest"):
            send_bundle(meter, header, bytes(changed))
        assert _disk(tmp_path) == before
        assert meter.request("update.status")["version"] == "0.2.0"
        assert _registers(meter.request("status")) == _registers(before_status)


def test_power_cut_at_every_step_boots_one_slot_or_the_other(tmp_path, bundles):
    with SimMeter(tmp_path, speed=0) as sim, DeviceClient(sim.port, timeout=10) as meter:
        _in_credit(meter)
        meter.request("sim.load", watts=0)
        before = _registers(meter.request("status"))
        header, payload = _split(bundles["0.2.0"])
        chunks = -(-len(payload) // 672)
        for cut_after in (0, 1, chunks // 2, chunks):  # chunks sent before the cut
            begun = meter.request("update.begin", header=header)
            for i in range(cut_after):
                data = payload[i * begun["chunk"] : (i + 1) * begun["chunk"]]
                meter.request(
                    "update.chunk",
                    offset=i * begun["chunk"],
                    data=binascii.b2a_base64(data, newline=False).decode(),
                )
            power_cut(meter)
            assert meter.request("update.status")["running"] == "factory", cut_after
            assert _registers(meter.request("status")) == before, cut_after
        send_bundle(meter, header, payload)  # and then it goes through
        assert _registers(meter.request("status")) == before
        send_bundle(meter, *_split(bundles["0.3.0"]))
    # The two states a cut around the switch leaves, made on disk (a cut between the meter's
    # set_boot and its reset; a cut during the new slot's first start, before it fed):
    for state, expect in (("new", ("ota_1", "0.3.0")), ("pending", ("ota_0", "0.2.0"))):
        ota = {"slot": "ota_1", "previous": "ota_0", "state": state}
        (tmp_path / "otadata.json").write_text(json.dumps(ota))
        with SimMeter(tmp_path, speed=0) as sim, DeviceClient(sim.port, timeout=10) as meter:
            status = meter.request("update.status")
            assert (status["running"], status["version"]) == expect, state
            assert _registers(meter.request("status")) == before, state


@pytest.mark.parametrize("broken", ["crash", "hang"])
def test_a_version_that_does_not_start_is_rolled_back(tmp_path, bundles, broken):
    with (
        SimMeter(tmp_path, speed=0, watchdog=1) as sim,
        DeviceClient(sim.port, timeout=10) as meter,
    ):
        _in_credit(meter)
        meter.request("sim.load", watts=0)
        send_bundle(meter, *_split(bundles["0.2.0"]))
        before = _registers(meter.request("status"))
        with pytest.raises(Exception, match="restarted on firmware 0.2.0, not 0.4.0"):
            send_bundle(meter, *_split(bundles[broken]), restart_timeout=30)
        assert meter.request("update.status")["running"] == "ota_0"
        assert _registers(meter.request("status")) == before
        assert meter.request("token", token=token(100, 1))["result"] == "accepted"
    ota = json.loads((tmp_path / "otadata.json").read_text())
    assert ota["slot"] == "ota_0" and ota["aborted"] == "ota_1"
