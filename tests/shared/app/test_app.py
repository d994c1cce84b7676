"""The meter application on the real sim HAL and journal file, through the line handler."""

import app_fixtures as fx

from firmware.core import events as ev
from token_spec import encode_token
from token_spec.acceptance import LOCKOUT_MAX_SECONDS as LOCK_CAP
from token_spec.types import TYPE_CREDIT


def _wrong_token(minute=0):
    return encode_token(bytes(16), fx.METER, TYPE_CREDIT, 100, fx.START // 60 + minute)


def test_unprovisioned_meter_answers_but_keeps_the_relay_open():
    with fx.StateDir() as d:
        app = fx.boot(d, fx.START)
        s = fx.Session(app)
        hello = s.ok("hello")
        assert hello["provisioned"] is False and hello["hal"] == "sim"
        assert hello["storage"] == "ok" and s.ok("status")["storage"] == "ok"
        assert app.hal.relay is False
        assert s.ok("status")["relay"] == "open"
        assert s.error("token", token=fx.credit_token(500)) == "not_provisioned"
        assert s.error("provision", meter_number=fx.METER, decoder_key="00") == "bad_argument"
        assert s.ok("hello")["provisioned"] is False


def test_token_closes_the_relay_and_consumption_is_billed_exactly():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        assert app.hal.relay is False
        r = s.ok("token", token=fx.credit_token(1000))
        assert r["result"] == "accepted" and r["credit"] == 1000 and r["credit_text"] == "10.00"
        assert app.hal.relay is True
        assert s.ok("token", token=fx.credit_token(1000))["result"] == "used"
        s.ok("sim.load", watts=1000)
        s.ok("sim.advance", seconds=3600)  # 1 kWh at 25 per kWh
        st = s.ok("status")
        assert st["energy_wh"] == 1000 and st["credit"] == 975, st
        assert st["relay"] == "closed" and st["zone"] == "normal"


def test_relay_opens_at_zero_and_no_energy_flows_while_open():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        s.ok("token", token=fx.credit_token(50))  # 2 kWh at 25
        s.ok("sim.load", watts=2000)
        s.ok("sim.advance", seconds=4 * 3600)
        st = s.ok("status")
        assert st["relay"] == "open" and app.hal.relay is False
        assert st["credit"] <= 0 and st["energy_wh"] < 2100, st  # stopped within one step
        s.ok("sim.advance", seconds=3600)
        assert s.ok("status")["energy_wh"] == st["energy_wh"]
        kinds = [e["event"] for e in s.ok("events", since=0)["events"]]
        assert "relay" in kinds and "zone" in kinds


def test_reboot_restores_registers_and_provisioning():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        s.ok("token", token=fx.credit_token(800))
        s.ok("sim.pulses", count=2500)  # 2.5 kWh
        before = s.ok("status")
        app.store.save(app.meter, app.hal.now())
        app2 = fx.boot(d)
        s2 = fx.Session(app2)
        after = s2.ok("status")
        for key in ("credit", "energy_wh", "pulses", "zone", "relay", "tid_high_water"):
            assert after[key] == before[key], key
        assert app2.hal.relay is True  # re-asserted at boot
        assert s2.ok("token", token=fx.credit_token(800))["result"] == "used"
        assert s2.error("provision", **fx.SETTINGS) == "already_provisioned"
        assert after["event_seq"] == before["event_seq"] + 1  # the boot event
        boots = [e for e in s2.ok("events", since=0)["events"] if e["event"] == "boot"]
        assert [e["b"] for e in boots] == [ev.BOOT_BLANK, ev.BOOT_RESTORED], boots


def test_keypad_and_serial_share_the_lockout():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        results = [s.ok("token", token=_wrong_token(i))["result"] for i in range(6)]
        assert results[0] == "reject" and "locked" in results, results
        keyed = s.ok("keypad", keys=fx.credit_token(500) + "#")
        assert keyed["results"] == ["locked"]
        assert s.ok("status")["lockout"]["seconds_left"] > 0
        s.ok("sim.advance", seconds=1300)
        keyed = s.ok("keypad", keys=fx.credit_token(500) + "#")
        assert keyed["results"] == ["accepted"] and keyed["typed"] == 0


def test_lockout_seconds_left_is_capped_after_the_clock_went_back():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        for i in range(10):
            s.ok("token", token=_wrong_token(i))
        lockout = s.ok("status")["lockout"]
        assert 0 < lockout["seconds_left"] == lockout["until"] - app.hal.now() <= LOCK_CAP
        app.hal.set_time(app.hal.now() - 10 * LOCK_CAP)  # deadline now far ahead
        lockout = s.ok("status")["lockout"]
        assert lockout["until"] - app.hal.now() > LOCK_CAP and lockout["seconds_left"] == LOCK_CAP


def test_keypad_short_entry_and_emergency_key():
    cfg = {"low_credit": 100, "emergency": {"limit": 300, "offer_below": 100}}
    with fx.StateDir() as d:
        app, s = fx.provisioned(d, config=cfg)
        assert s.ok("keypad", keys="123#")["results"] == ["incomplete"]
        assert s.ok("status")["lockout"]["failures"] == 0
        s.ok("keypad", keys="A")
        st = s.ok("status")
        assert st["emergency_credit"]["granted"] == 300 and st["relay"] == "closed"
        assert s.ok("ec.activate")["granted"] is False  # already in use


def test_errors_for_bad_lines_and_arguments_change_nothing():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        before = app.meter.snapshot()
        assert s.raw(b"") is None and s.raw(b"   ") is None
        assert s.raw(b"{oops")["error"] == "bad_json"
        assert s.raw(None)["error"] == "line_too_long"
        assert s.error("reboot") == "unknown_command"
        assert s.error("token", token="12") == "bad_argument"
        assert s.error("token", token=123) == "bad_argument"
        assert s.error("sim.load", watts=-1) == "bad_argument"
        assert s.error("sim.advance", seconds="10") == "bad_argument"
        assert s.error("keypad", keys="12x") == "bad_argument"
        assert s.error("events", since=-1) == "bad_argument"
        assert s.error("config.set", blob="pc1.garbage") == "refused"
        assert app.meter.credit == 0 and app.meter.fail_count == 0
        assert app.meter.snapshot()[:8] == before[:8]


def test_decoder_key_never_leaves_the_meter():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        key_hex = fx.SETTINGS["decoder_key"]
        seen = []
        for cmd in ("hello", "status", "config.get", "events", "sim.display"):
            seen.append(str(s.ok(cmd)))
        seen.append(str(s.call("provision", **fx.SETTINGS)))
        for text in seen:
            assert key_hex not in text.lower() and str(list(fx.KEY)) not in text


def test_events_are_paged_below_the_line_limit():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        for i in range(12):
            s.ok("token", token=fx.credit_token(10, i))
        first = s.ok("events", since=0)
        assert first["more"] is True and len(first["events"]) == 8
        rest = s.ok("events", since=first["events"][-1]["seq"])
        seqs = [e["seq"] for e in first["events"] + rest["events"]]
        assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] == rest["last"]


def test_display_shows_credit_and_token_result():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        assert s.ok("sim.display")["lines"][0] == "CR 0.00"
        s.ok("token", token=fx.credit_token(1234))
        lines = s.ok("sim.display")["lines"]
        assert lines[0] == "CR 12.34" and lines[2] == "TOKEN ACCEPTED" and lines[3] == "SUPPLY ON"
        s.ok("keypad", keys="12")
        assert s.ok("sim.display")["lines"][1] == "> 12"


def _journal_bytes(state_dir):
    with open(state_dir + "/journal.bin", "rb") as f:
        return f.read()


def test_provision_sets_the_clock_only_when_the_settings_are_good():
    with fx.StateDir() as d:
        app = fx.boot(d, fx.START)
        s = fx.Session(app)
        flash = _journal_bytes(d)
        bad_scale = dict(fx.SETTINGS)
        bad_scale["scale"] = 0  # refused by the settings check
        bad_price = dict(fx.SETTINGS)
        bad_price["tariff"] = {"type": "flat", "price": -5}  # refused only by the tariff compiler
        for bad in (bad_scale, bad_price):
            assert s.error("provision", time=5, **bad) == "bad_argument"
            assert s.ok("hello")["time"] == fx.START and s.ok("hello")["clock_valid"] is True
            assert app.hal.now() == fx.START and _journal_bytes(d) == flash
            assert s.ok("hello")["provisioned"] is False
        s.ok("provision", time=fx.START + 3600, **fx.SETTINGS)
        assert s.ok("status")["time"] == fx.START + 3600
        assert _journal_bytes(d) != flash


def test_damaged_settings_record_refuses_provisioning_until_wiped():
    # One flipped bit in the settings record must not turn a meter with credit and TID memory
    # into a provisionable one: re-provisioning would accept its old tokens again.
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        token = fx.credit_token(800)
        assert s.ok("token", token=token)["result"] == "accepted"
        app.store.save(app.meter, app.hal.now())
        assert s.ok("hello")["storage"] == "ok"
        with open(d + "/journal.bin", "r+b") as f:  # block 0: the settings record
            f.seek(40)
            byte = f.read(1)[0]
            f.seek(40)
            f.write(bytes([byte ^ 0x10]))
        flash = _journal_bytes(d)
        app2 = fx.boot(d)
        s2 = fx.Session(app2)
        hello = s2.ok("hello")
        assert hello["provisioned"] is False and hello["storage"] == "damaged", hello
        status = s2.ok("status")
        assert status["provisioned"] is False and status["storage"] == "damaged", status
        assert status["relay"] == "open" and app2.hal.relay is False
        app2.refresh_display()
        assert s2.ok("sim.display")["lines"][0] == "STORAGE DAMAGED"
        clock = app2.hal.now()
        assert s2.error("provision", time=5, **fx.SETTINGS) == "storage_damaged"
        reply = s2.call("provision", **fx.SETTINGS)
        assert "--wipe" in reply["message"] and "damaged" in reply["message"], reply
        assert s2.error("token", token=token) == "not_provisioned"
        assert app2.hal.now() == clock and _journal_bytes(d) == flash
        assert s2.ok("hello")["storage"] == "damaged"


def test_results_that_change_nothing_do_not_write_flash():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        s.ok("token", token=fx.credit_token(100))
        writes = app.store.journal.register_ring.next_seq
        for _ in range(30):
            assert s.ok("token", token=fx.credit_token(100))["result"] == "used"
            assert s.ok("ec.activate")["granted"] is False
            assert s.error("config.set", blob="pc1.x.y") == "refused"
        assert app.store.journal.register_ring.next_seq == writes
        for i in range(8):
            s.ok("token", token=_wrong_token(i))
        locked_writes = app.store.journal.register_ring.next_seq
        assert locked_writes > writes  # each counted wrong entry is durable
        for i in range(30):
            assert s.ok("token", token=_wrong_token(i))["result"] == "locked"
        assert app.store.journal.register_ring.next_seq == locked_writes
        pending = s.ok("status")["event_seq"]
        s.ok("sim.advance", seconds=900)  # the time rule commits the waiting events
        assert app.store.journal.event_seq >= pending


def test_signed_config_in_parts_survives_a_reboot_and_cannot_be_replayed():
    import json

    from token_spec.config_blob import sign_config

    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        holidays = ["2026-%02d-%02d" % (m, day) for m in range(1, 13) for day in (1, 8, 15, 22)]
        blob = sign_config(fx.KEY, fx.METER, 1, {"low_credit": 500, "holidays": holidays})
        assert len(blob) > 900  # needs more than one line
        half = len(blob) // 2
        assert s.ok("config.set", blob=blob[:half], more=True) == {"received": half}
        assert s.ok("config.set", blob=blob[half:]) == {"applied": True, "counter": 1}
        assert s.error("config.set", blob=blob) == "bad_argument"  # longer than a line
        s.ok("config.set", blob=blob[:half], more=True)
        assert s.error("config.set", blob=blob[half:]) == "refused"  # a replay
        app2 = fx.boot(d)
        s2 = fx.Session(app2)
        got = s2.ok("config.get")
        text = got["text"]
        while len(text) < got["size"]:
            text += s2.ok("config.get", offset=len(text))["text"]
        config = json.loads(text)
        assert got["counter"] == 1 and config["low_credit"] == 500
        assert len(config["holidays"]) == 48
        s2.ok("config.set", blob=blob[:half], more=True)
        assert s2.error("config.set", blob=blob[half:]) == "refused"
        assert s2.ok("status")["config_counter"] == 1
