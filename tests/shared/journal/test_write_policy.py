"""When the meter saves: urgent changes, every N Wh, every T minutes of changing registers."""

import support

from firmware.core.write_policy import (
    DEFAULT_SAVE_S,
    DEFAULT_SAVE_WH,
    ENERGY,
    TIME,
    URGENT,
    WritePolicy,
)


def test_urgent_changes_save_at_once():
    policy = WritePolicy()
    policy.mark_saved(1000, 50)
    assert policy.reason(1000, 50, urgent=True, changed=False) == URGENT


def test_energy_rule_fires_at_exactly_n_wh():
    policy = WritePolicy(save_wh=40, save_s=600)
    policy.mark_saved(1000, 0)
    assert policy.reason(1039, 10) is None
    assert policy.reason(1040, 10) == ENERGY


def test_time_rule_needs_the_registers_to_have_moved():
    policy = WritePolicy(save_wh=40, save_s=600)
    policy.mark_saved(1000, 100)
    assert policy.reason(1001, 699) is None
    assert policy.reason(1000, 5000, changed=False) is None  # idle: never wears the flash
    assert policy.reason(1001, 700) == TIME
    policy.mark_saved(1001, 700)
    assert policy.reason(1001, 1299) is None


def test_defaults_and_loss_bound():
    policy = WritePolicy()
    assert (policy.save_wh, policy.save_s) == (DEFAULT_SAVE_WH, DEFAULT_SAVE_S)
    # Unsaved energy before the triggering batch is at most save_wh - 1 Wh.
    policy.mark_saved(0, 0)
    worst = 0
    for wh in range(0, 10 * DEFAULT_SAVE_WH):
        if policy.reason(wh, 0) == ENERGY:
            policy.mark_saved(wh, 0)
        worst = max(worst, wh - policy.saved_wh)
    assert worst == DEFAULT_SAVE_WH - 1 == policy.loss_bound_wh(0)
    assert policy.loss_bound_wh(20) == DEFAULT_SAVE_WH + 19 <= 100  # <= 0.1 kWh per cut


def test_nonsense_intervals_are_refused():
    support.raises(ValueError, WritePolicy, 0, 60)
    support.raises(ValueError, WritePolicy, 10, 0)
