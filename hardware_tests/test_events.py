"""The event log: pushed as they happen, readable page by page, in sequence."""


def test_events_are_pushed_and_logged_in_sequence(meter):
    meter.start_from_zero(low_credit=3)
    first = meter.status()["event_seq"]
    meter.meter.events_pending()
    assert meter.enter(meter.token(5)) == "accepted"
    meter.advance(1)
    meter.pulses(60)  # through low credit to zero: zone and relay events
    meter.advance(1)
    pushed = meter.meter.wait_event("relay", timeout=5, a=0)
    assert pushed["seq"] > first

    logged = meter.meter.all_events(since=first)
    seqs = [e["seq"] for e in logged]
    assert seqs == list(range(first + 1, first + 1 + len(seqs)))  # no gaps, oldest first
    kinds = [e["event"] for e in logged]
    assert "token" in kinds and "zone" in kinds and kinds.count("relay") >= 2
    assert kinds.index("token") < len(kinds) - 1 - kinds[::-1].index("relay")
    times = [e["time"] for e in logged]
    assert times == sorted(times)
    assert logged[-1]["seq"] == meter.status()["event_seq"]


def test_reset_logs_a_boot_event(meter):
    before = meter.status()["event_seq"]
    meter.reset()  # waits for the pushed boot event of the new firmware run
    logged = meter.meter.all_events(since=max(0, before - 20))
    # Events that changed nothing may be lost with a reset; the boot event follows the last
    # saved one and nothing has happened since.
    assert logged[-1]["event"] == "boot" and logged[-1]["seq"] <= before + 1
    assert meter.status()["event_seq"] == logged[-1]["seq"]
