"""STS key change on the meter: KCTs in any order, a power cut between them, RO = 1
(STS.md §4.3, §5.5; docs/sts.md, Meter side)."""

from core_fixtures import MONDAY, kinds
from sts_core_fixtures import DK, DK11, DK11_NEW, DK_NEW, TID, credit, kcts, restored, sts_meter

import token_spec as ts
from firmware.core import events as ev

T = MONDAY + 600


def test_kct_pair_in_either_order_then_credit_under_the_new_key():
    for order in ((0, 1), (1, 0)):
        m = sts_meter()
        pair = kcts()
        assert m.enter_token(pair[order[0]], T) == ts.RESULT_KEY_PART_STORED
        assert m.enter_token(pair[order[0]], T) == ts.RESULT_KEY_PART_STORED  # replay
        assert m.sts.key == DK
        assert m.enter_token(pair[order[1]], T) == ts.RESULT_ACCEPTED
        assert (m.sts.key, m.sts.krn, m.sts.ti) == (DK_NEW, 2, 2)
        assert m.enter_token(credit(10, key=DK_NEW), T) == ts.RESULT_ACCEPTED
        assert m.enter_token(credit(10, tid=TID + 1), T) == ts.RESULT_REJECT  # old key
        assert kinds(m, ev.KEY_CHANGE)[-1][3:] == (2, 1993)


def test_power_cut_between_kct1_and_kct2_loses_nothing():
    m = sts_meter()
    first, second = kcts()
    assert m.enter_token(first, T) == ts.RESULT_KEY_PART_STORED
    assert m.urgent  # the core asks for a commit before the result is shown
    again = restored(m)
    assert again.status(T)["sts"]["kct_parts_stored"] == 1
    assert again.enter_token(second, T) == ts.RESULT_ACCEPTED
    assert again.sts.key == DK_NEW
    later = restored(again)
    assert later.sts.key == DK_NEW and later.sts.krn == 2


def test_rollover_clears_tid_memory_switches_base_and_keeps_credit():
    m = sts_meter(scale=10)
    high = 0xFFFF00
    assert m.enter_token(credit(50, tid=high), T) == ts.RESULT_ACCEPTED
    for tok in kcts(ro=1):
        m.enter_token(tok, T)
    assert m.sts.base == 2014 and m.sts.tid_count == 0
    assert m.credit == 50
    # minutes from 2014 are far below the old high TID, yet not OLD or USED
    assert m.enter_token(credit(20, tid=5000, key=DK_NEW), T) == ts.RESULT_ACCEPTED
    assert m.credit == 70
    assert restored(m).sts.base == 2014


def test_ea11_needs_all_four_kcts():
    m = sts_meter(ea=11)
    four = kcts(new_key=DK11_NEW, key=DK11, ea=11, sgc=654321)
    assert len(four) == 4
    for tok in (four[3], four[0], four[2]):
        assert m.enter_token(tok, T) == ts.RESULT_KEY_PART_STORED
    assert m.sts.key == DK11
    assert m.enter_token(four[1], T) == ts.RESULT_ACCEPTED
    assert (m.sts.key, m.sts.sgc) == (DK11_NEW, 654321)
    assert m.enter_token(credit(10, key=DK11_NEW, ea=11), T) == ts.RESULT_ACCEPTED


def test_kct_ends_a_run_of_wrong_entries_but_a_replay_does_not():
    m = sts_meter()
    other = bytes.fromhex("0abc12def3456789")
    m.enter_token(credit(1, key=other), T)
    first, _ = kcts()
    assert m.enter_token(first, T) == ts.RESULT_KEY_PART_STORED
    assert m.fail_count == 0
    m.enter_token(credit(1, key=other), T)
    assert m.enter_token(first, T) == ts.RESULT_KEY_PART_STORED
    assert m.fail_count == 1


def test_snapshot_versions_between_v1_and_sts_meters():
    from core_fixtures import meter, settings
    from sts_core_fixtures import sts_settings

    from firmware.core.meter import Meter
    from firmware.core.sts_state import TAIL_SIZE

    v1 = meter()
    sts = sts_meter()
    for tok in kcts()[:1]:
        sts.enter_token(tok, T)
    # a v1 meter refuses an STS snapshot; an STS meter takes a version 1 snapshot (its key
    # registers keep their provisioning values)
    try:
        Meter.restore(settings(), sts.snapshot())
    except ValueError:
        pass
    else:
        raise AssertionError("a v1 meter restored an STS snapshot")
    from_v1 = Meter.restore(sts_settings(), v1.snapshot())
    assert from_v1.sts.key == DK and from_v1.sts.tid_count == 0
    # a damaged STS tail is refused and the meter keeps what it had
    blob = bytearray(sts.snapshot())
    blob[-TAIL_SIZE + 16] = 9  # EA 9
    fresh = sts_meter()
    before = fresh.snapshot()
    try:
        fresh.sts.unpack(bytes(blob), len(blob) - TAIL_SIZE)
    except ValueError:
        pass
    else:
        raise AssertionError("EA 9 restored")
    assert fresh.snapshot() == before
    assert restored(sts).sts.kct[0] != 0
