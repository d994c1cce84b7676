"""The meter's `update.*` commands on the real sim HAL, in process, on both interpreters:
a good bundle lands in the inactive slot and becomes the boot slot; every refusal leaves the
journal, the slots and the boot selection as they were."""

import binascii
import hashlib
import os

import app_fixtures as fx
from support import raises

from firmware.hal import sim_slots
from firmware.update.commands import MAX_CHUNK
from token_spec.keys import derive_maintenance_key
from token_spec.update_bundle import pack_files, sign_header

VENDING = bytes(range(32))
MKEY = derive_maintenance_key(VENDING, fx.METER, 1)
FILES = [("firmware/version.mpy", b"v" * 50), ("firmware/app/x.mpy", bytes(range(256)) * 9)]
PAYLOAD = pack_files(FILES)


class UpdateDir:
    """A state folder (with slot subfolders) removed afterwards."""

    def __enter__(self):
        self.path = fx.fresh_dir()
        return self.path

    def __exit__(self, *exc):
        sim_slots._remove_tree(self.path)
        return False


def _header(payload=PAYLOAD, key=MKEY, meter=fx.METER, version="0.2.0", kind="mpy"):
    digest = hashlib.sha256(payload).digest()
    return sign_header(key, meter, version, kind, len(payload), digest)


def _meter(d, **settings):
    if "maintenance_key" not in settings:
        settings["maintenance_key"] = binascii.hexlify(MKEY).decode()
    app, s = fx.provisioned(d, **settings)
    s.ok("token", token=fx.credit_token(700))
    return app, s


def _snapshot(d):
    """What an update may not change: the journal bytes and the boot selection."""
    with open(d + "/journal.bin", "rb") as f:
        journal = f.read()
    return journal, sim_slots.read_otadata(d), sorted(os.listdir(d))


def _send(s, payload):
    for offset in range(0, len(payload), MAX_CHUNK):
        data = binascii.b2a_base64(payload[offset : offset + MAX_CHUNK]).decode().strip()
        assert s.ok("update.chunk", offset=offset, data=data)["received"] == min(
            offset + MAX_CHUNK, len(payload)
        )


def test_good_bundle_is_written_to_the_inactive_slot_and_selected():
    with UpdateDir() as d:
        app, s = _meter(d)
        begun = s.ok("update.begin", header=_header())
        assert begun == {"slot": "ota_0", "version": "0.2.0", "size": len(PAYLOAD), "chunk": 672}
        assert s.ok("update.status")["receiving"] == "0.2.0"
        _send(s, PAYLOAD)
        credit = s.ok("status")["credit"]
        assert s.ok("update.finish") == {"version": "0.2.0", "slot": "ota_0", "restarting": True}
        assert app.reset_pending
        assert sim_slots.read_otadata(d) == {
            "slot": "ota_0",
            "previous": "factory",
            "state": "new",
        }
        for path, data in FILES:
            with open(d + "/ota_0/code/" + path, "rb") as f:
                assert f.read() == data
        assert fx.boot(d).status()["credit"] == credit  # the journal still holds the meter


def test_refused_headers_write_nothing():
    with UpdateDir() as d:
        app, s = _meter(d)
        before = _snapshot(d)
        other = derive_maintenance_key(VENDING, "12345678911", 1)
        bad = _header()
        flipped = bad[:10] + ("A" if bad[10] != "A" else "B") + bad[11:]
        cases = [
            (flipped, "signature"),
            (_header(key=other, meter="12345678911"), "signature"),
            (_header(meter="12345678911"), "for meter 12345678911"),
            (_header(version="0.1.0"), "not newer"),
            (_header(version="0.0.1"), "not newer"),
            (_header(kind="esp32-app"), "runs mpy bundles"),
        ]
        for header, message in cases:
            reply = s.call("update.begin", header=header)
            assert reply["error"] == "refused" and message in reply["message"], reply
            assert _snapshot(d) == before, header
        assert s.error("update.chunk", offset=0, data="AAAA") == "bad_request"
        assert s.error("update.finish") == "bad_request"


def test_a_changed_payload_byte_is_refused_at_finish_and_the_slot_discarded():
    with UpdateDir() as d:
        app, s = _meter(d)
        before = _snapshot(d)
        changed = bytearray(PAYLOAD)
        changed[len(changed) // 2] ^= 0x01
        s.ok("update.begin", header=_header())
        _send(s, bytes(changed))
        reply = s.call("update.finish")
        assert reply["error"] == "refused" and "signed digest" in reply["message"]
        assert _snapshot(d) == before and not getattr(app, "reset_pending", False)


def test_chunks_must_follow_each_other_within_the_signed_size():
    with UpdateDir() as d:
        app, s = _meter(d)
        s.ok("update.begin", header=_header())
        assert s.error("update.chunk", offset=5, data="AAAA") == "bad_argument"
        assert s.error("update.chunk", offset=0, data="*not base64*") == "bad_argument"
        too_long = binascii.b2a_base64(bytes(MAX_CHUNK + 3)).decode().strip()
        assert s.error("update.chunk", offset=0, data=too_long) == "bad_argument"
        reply = s.call("update.finish")
        assert reply["error"] == "refused" and "only 0 of" in reply["message"]
        s.ok("update.begin", header=_header())
        assert s.ok("update.abort") == {"aborted": True}
        assert s.ok("update.abort") == {"aborted": False}
        assert "ota_0" not in os.listdir(d)


def test_meter_without_maintenance_key_or_unprovisioned_takes_no_update():
    with UpdateDir() as d:
        app = fx.boot(d, fx.START)
        s = fx.Session(app)
        assert s.error("update.begin", header=_header()) == "not_provisioned"
        s.ok("provision", **fx.SETTINGS)
        reply = s.call("update.begin", header=_header())
        assert reply["error"] == "refused" and "no maintenance key" in reply["message"]
        assert s.error("provision", **fx.SETTINGS) == "already_provisioned"


def test_bad_maintenance_key_setting_is_refused():
    with UpdateDir() as d:
        app = fx.boot(d, fx.START)
        s = fx.Session(app)
        for bad in ("00", "zz" * 16, 5):
            assert s.error("provision", maintenance_key=bad, **fx.SETTINGS) == "bad_argument"


def test_the_key_never_leaves_the_meter():
    with UpdateDir() as d:
        app, s = _meter(d)
        secret = binascii.hexlify(MKEY).decode()
        for cmd in ("hello", "status", "config.get", "update.status", "events"):
            assert secret not in str(s.ok(cmd)), cmd


def test_confirm_marks_only_a_pending_running_slot_valid():
    with UpdateDir() as d:
        sim_slots.write_otadata(d, {"slot": "ota_0", "previous": "factory", "state": "pending"})
        sim_slots.confirm(d)  # running "factory" (no PREPAY_SIM_SLOT): not ours to confirm
        assert sim_slots.read_otadata(d)["state"] == "pending"
        raises(ValueError, sim_slots.update_slot, d, "esp32-app", 10)
