"""The simulated bootloader (host_tools/sim/boot_select.py): which slot each start runs, for
every otadata state an update or a power cut can leave."""

import json

from host_tools.sim import boot_select


def _state(tmp_path, **data):
    (tmp_path / "otadata.json").write_text(json.dumps(data))


def _slot(tmp_path, name):
    (tmp_path / name / "code" / "firmware").mkdir(parents=True)


def _otadata(tmp_path):
    return json.loads((tmp_path / "otadata.json").read_text())


def test_without_otadata_or_slot_code_the_factory_firmware_runs(tmp_path):
    assert boot_select.boot_slot(tmp_path) == "factory"
    _state(tmp_path, slot="ota_0", previous="factory", state="new")
    assert boot_select.boot_slot(tmp_path) == "factory"  # ota_0 was never completed
    (tmp_path / "otadata.json").write_text("{torn")
    _slot(tmp_path, "ota_0")
    assert boot_select.boot_slot(tmp_path) == "factory"


def test_a_new_slot_gets_one_try_then_the_previous_one_boots(tmp_path):
    _slot(tmp_path, "ota_0")
    _slot(tmp_path, "ota_1")
    _state(tmp_path, slot="ota_1", previous="ota_0", state="new")
    assert boot_select.boot_slot(tmp_path) == "ota_1"
    assert _otadata(tmp_path)["state"] == "pending"
    assert boot_select.on_trial(tmp_path, "ota_1") and not boot_select.on_trial(tmp_path, "ota_0")
    # that start never confirmed (crash, watchdog, power cut): roll back
    assert boot_select.boot_slot(tmp_path) == "ota_0"
    assert _otadata(tmp_path) == {
        "slot": "ota_0",
        "previous": "factory",
        "state": "valid",
        "aborted": "ota_1",
    }
    assert boot_select.boot_slot(tmp_path) == "ota_0"  # and it stays there


def test_a_confirmed_slot_keeps_booting_and_a_first_update_falls_back_to_factory(tmp_path):
    _slot(tmp_path, "ota_0")
    _state(tmp_path, slot="ota_0", previous="factory", state="valid")
    for _ in range(3):
        assert boot_select.boot_slot(tmp_path) == "ota_0"
    _state(tmp_path, slot="ota_0", previous="factory", state="pending")
    assert boot_select.boot_slot(tmp_path) == "factory"
    assert boot_select.slot_code(tmp_path, "factory") is None
