"""Power cuts at 1,000 seeded points of a real meter's life (both interpreters).

The 10,000-cut run is tests/journal/test_power_cuts_10k.py (CPython); both use
tests/shared/journal_faults.py, whose docstring explains the method.
"""

import journal_faults as jf

from firmware.core import events as ev


def test_scenario_exercises_every_kind_of_save():
    trace = jf.record(11, 1500, keep_log=False)
    kinds = set(event[2] for event in trace.events.values())
    for kind in (ev.BOOT, ev.TOKEN, ev.ZONE, ev.RELAY, ev.CONFIG, ev.EMERGENCY, ev.TAMPER):
        assert kind in kinds, ev.KIND_NAMES[kind]
    results = set(result for _, result in trace.acked)
    assert {"accepted", "reject"} <= results, results
    # Every ring wrapped: the erase path and the oldest-record overwrite are exercised too.
    counts = trace.flash_counts
    assert min(counts[jf.BLOCKS - 4 :]) >= 5, counts
    assert min(counts[:2]) >= 2 and counts[2] >= 1, counts


def test_power_cut_at_1000_points_restores_a_consistent_meter():
    trace = jf.record(5, 600)
    assert jf.run_cuts(trace, 1000, seed=1) == 1000


def test_power_cut_during_provisioning_leaves_it_unprovisioned_or_provisioned():
    # Every write and erase of the provisioning commit, cut before, torn and whole: the boot
    # finds no meter (and provisioning again works) or the whole new meter, never a half.
    trace = jf.record(3, 5)
    cuts = jf.provisioning_cuts(trace)
    assert len(cuts) >= 3 * 5
    assert jf.run_cut_points(trace, cuts) == len(cuts)


def test_power_cut_at_every_write_of_the_upload_cursor():
    # Every write and erase of every cursor record (firmware/net/link.py keeps the head-end's
    # ack with one), cut before, torn and whole: the boot finds that cursor or the one before,
    # never a torn one, and the meter around it is the last commit as always.
    trace = jf.record(5, 300)
    cuts = jf.cursor_cuts(trace)
    assert len(trace.cursors) >= 20 and len(cuts) >= 40 * 3
    assert jf.run_cut_points(trace, cuts) == len(cuts)
