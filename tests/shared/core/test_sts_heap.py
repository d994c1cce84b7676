"""STS meters on MicroPython: the pulse path and the TID memory allocate nothing."""

import support
from core_fixtures import MONDAY
from sts_core_fixtures import TID, credit, sts_meter

from firmware.core.sts_state import TID_SLOTS


def _micropython():
    try:
        import micropython
    except ImportError:
        support.skip("heap_lock exists only on MicroPython")
    return micropython


def test_heap_locked_pulse_path_on_an_sts_meter():
    micropython = _micropython()
    m = sts_meter(scale=1000)
    assert m.enter_token(credit(10000), MONDAY) == "accepted"  # 1000 kWh
    t = MONDAY
    micropython.heap_lock()
    try:
        for i in range(2000):
            t += 37
            m.add_pulses(i & 15, t)
    finally:
        micropython.heap_unlock()
    assert m.credit < 1000000


def test_heap_locked_tid_memory_is_preallocated():
    micropython = _micropython()
    st = sts_meter().sts
    micropython.heap_lock()
    try:
        for i in range(TID_SLOTS * 3):
            if st.tid_seen(TID + i) is None:
                st.remember_tid(TID + i)
        seen = st.tid_seen(TID)
    finally:
        micropython.heap_unlock()
    assert seen == "old" and st.tid_count == TID_SLOTS
