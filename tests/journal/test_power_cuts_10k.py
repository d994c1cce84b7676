"""10,000 seeded power cuts over a long real-meter scenario (CPython; the method is in
tests/shared/journal_faults.py, the invariants in docs/journal.md)."""

import journal_faults as jf
import pytest


@pytest.mark.slow
def test_power_cut_at_10000_points_restores_a_consistent_meter():
    trace = jf.record(2026, 3000)
    assert trace.ops > 2500 and len(trace.commits) > 1500
    assert jf.run_cuts(trace, 10_000, seed=42) == 10_000
