"""Property: whatever commits and power cuts happen, boot returns a committed state.

A model keeps the last state the journal acknowledged (commit returned) and the one in flight
when the power failed; after every reboot the journal must show one of them — the in-flight one
only if the cut came after its register record was complete — with exactly its config and
events. Small 512-byte blocks make every ring wrap within a few dozen commits.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.core.journal import BLANK, CORRUPT, RESTORED, Journal
from firmware.hal.sim_flash import TEAR_FULL, PowerCut, RamBlockDevice

BS = 512
BLOCKS = 9  # 2 config (512-byte records), 3 events (16 per block), 4 registers (4 per block)

commit_steps = st.lists(
    st.tuples(
        st.binary(min_size=0, max_size=96),  # registers
        st.integers(min_value=0, max_value=2),  # new events
        st.one_of(st.none(), st.binary(min_size=1, max_size=400)),  # config
        st.one_of(  # power cut during this commit: (ops that complete, tear)
            st.none(),
            st.tuples(st.integers(0, 3), st.sampled_from((0, 1, 500, 999, TEAR_FULL))),
        ),
    ),
    min_size=1,
    max_size=60,
)


def _boot(dev):
    journal = Journal(dev, event_blocks=3, register_record=128)
    journal.boot()
    return journal


def _events(state):
    return [bytes([seq % 256]) * 16 for seq in range(1, state["event_seq"] + 1)]


@settings(max_examples=300, deadline=None)
@given(commit_steps)
def test_boot_always_returns_the_last_committed_state(steps):
    dev = RamBlockDevice(BS, BLOCKS)
    journal = _boot(dev)
    assert journal.status == BLANK
    committed = None  # {"registers", "config", "event_seq"} acknowledged to the caller
    for registers, new_events, config, cut in steps:
        seq0 = journal.event_seq
        events = [(s, bytes([s % 256]) * 16) for s in range(seq0 + 1, seq0 + new_events + 1)]
        attempt = {
            "registers": registers,
            "config": config if config is not None else (committed or {}).get("config"),
            "event_seq": seq0 + new_events,
        }
        if cut is None:
            journal.commit(registers, events, config)
            committed = attempt
            continue
        dev.arm(cut[0], cut[1])
        try:
            journal.commit(registers, events, config)
            dev.disarm()
            committed = attempt  # finished before the armed cut: acknowledged
            continue
        except PowerCut:
            dev.power_on()
        journal = _boot(dev)
        state = {
            "registers": journal.registers,
            "config": journal.config,
            "event_seq": journal.event_seq,
        }
        if committed is None:
            assert journal.status in (BLANK, CORRUPT, RESTORED)
            if journal.status != RESTORED:
                assert state == {"registers": None, "config": None, "event_seq": 0}
                continue
        assert state in (committed, attempt), (state, committed, attempt)
        committed = state
        # Events: the committed ones, in order, ending at the committed seq (older ones may
        # have been overwritten by the ring).
        expected = _events(committed)
        events = journal.read_events()
        assert events == expected[len(expected) - len(events) :]
        assert len(events) >= min(len(expected), 2 * (BS // 32))
    final = _boot(dev)
    if committed is not None:
        assert final.registers == committed["registers"]
        assert final.config == committed["config"]
