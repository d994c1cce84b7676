"""A meter says where its journal is: on its flash partition, or on the littlefs fallback
file of a board flashed without one (an event at every boot, and `status`)."""

import app_fixtures as fx

from firmware.core import events as ev
from firmware.hal import sim


def _kinds(app):
    return [e[2] for e in app.meter.events.since(0)]


def test_journal_on_its_partition_logs_no_fallback():
    with fx.StateDir() as d:
        app = fx.boot(d, fx.START)
        s = fx.Session(app)
        assert s.ok("status")["journal"] == "partition"
        s.ok("provision", **fx.SETTINGS)
        assert s.ok("status")["journal"] == "partition"
        app = fx.boot(d)
        assert ev.BOOT in _kinds(app) and ev.JOURNAL_FALLBACK not in _kinds(app)


def test_board_without_the_partition_says_so_at_every_boot():
    with fx.StateDir() as d:
        with open(d + sim.NO_PARTITION_FILE, "w") as f:
            f.write("stock partition table")
        app = fx.boot(d, fx.START)
        s = fx.Session(app)
        assert s.ok("status")["journal"] == "file"
        s.ok("provision", **fx.SETTINGS)
        assert s.ok("status")["journal"] == "file"
        for boots in (1, 2):
            app = fx.boot(d)
            assert _kinds(app).count(ev.JOURNAL_FALLBACK) == boots
            assert fx.Session(app).ok("status")["journal"] == "file"
        pushed = [e["event"] for e in app.new_events()]
        assert pushed == ["boot", "journal_fallback"]


def test_a_hal_that_does_not_say_reports_unknown():
    with fx.StateDir() as d:
        app = fx.boot(d, fx.START)
        app.hal.storage = None
        assert app.journal_location() == "unknown"
