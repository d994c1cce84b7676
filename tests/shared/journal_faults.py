"""Fault injection for the journal: one seeded meter scenario, power cut at any flash operation.

`record(seed, steps)` drives a real Meter through the MeterStore API the app uses
(firmware/app/meter_app.py): provisioning, then pulses, ticks, tokens, config blobs, emergency
credit and tamper, each followed by `maybe_save` as in the app (a token or config result is
"acknowledged" only after that returned), on a recording NOR device, and keeps every commit.
Now and then the upload cursor moves (`save_cursor`, as firmware/net/link.py does once the
head-end acked), drawn from a second generator so the meter's own scenario stays the same.

`check_cut(trace, op, tear)` rebuilds the flash as it was when power failed during operation
`op` (only `tear`/1000 of it landed), boots a fresh store from it and checks the invariants of
docs/journal.md. Rebuilding the flash from the operation log (cuts in operation order) makes a
cut cost a boot, not a rerun of the scenario, so thousands of cuts stay fast on both
interpreters.
"""

from firmware.core.config import check_settings
from firmware.core.events import BOOT_BLANK, BOOT_CORRUPT, unpack_event
from firmware.core.journal import BLANK, CORRUPT, RESTORED
from firmware.core.meter_store import MeterStore
from firmware.core.tokens import LOCK_MAX
from firmware.core.write_policy import WritePolicy
from firmware.hal.sim_flash import TEAR_FULL, RamBlockDevice
from token_spec import encode_token, make_meter_number, tid_from_time
from token_spec.config_blob import sign_config
from token_spec.types import TYPE_CREDIT

BLOCK_SIZE = 4096
BLOCKS = 8  # 2 config + 2 events + 4 registers: small, so every ring wraps many times
EVENT_BLOCKS = 2
MAX_RATE = 7  # pulses per second at most (24 kW at 1000 imp/kWh is 6.7/s)
MAX_DT = 20  # seconds between pulse batches
MAX_BATCH_WH = MAX_RATE * MAX_DT  # 1000 imp/kWh: one pulse is one Wh
PRICES = (1500, 2200, 900)  # register units per kWh in the configs the scenario applies
STANDING = (0, 4800, 2400)  # register units per day
IDLE_MINUTES = 120  # longest idle stretch, walked a minute per loop turn
START = 200_000_000  # meter time of the first step (2026)

SETTINGS = {
    "meter_number": make_meter_number("0401234567"),
    "decoder_key": bytes(range(16)),
    "unit": "currency",
    "scale": 100,
    "pulses_per_kwh": 1000,
    "tariff": {"type": "flat", "price": PRICES[0]},
    "config": {"low_credit": 500, "emergency": {"limit": 1000}},
}


def settings_kept(settings):
    """Provisioning settings as the store keeps them: normalised, their config left out (the
    effective config is stored beside them)."""
    kept = check_settings(settings)
    kept.pop("config")
    return kept


PROVISIONED = settings_kept(SETTINGS)  # what a restored meter's settings must hold


class Rng:
    """xorshift32: the same sequence on CPython and MicroPython."""

    def __init__(self, seed):
        self.state = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def below(self, n):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x % n


def policy():
    return WritePolicy()


def new_store(dev):
    return MeterStore(dev, policy(), event_blocks=EVENT_BLOCKS)


class Commit:
    """One durable save of the recorded run and what the real meter was at that moment."""

    def __init__(self, first_op, last_op, store, meter, inflight, acked):
        self.first_op = first_op
        self.last_op = last_op
        self.registers = store.journal.registers
        self.event_seq = store.journal.event_seq
        self.energy = meter.energy_wh
        self.credit = meter.credit
        self.inflight = inflight  # (digits, result) being acknowledged by this save, or None
        self.acked = acked  # tokens acknowledged before this save started


class Trace:
    """The recorded run: operation log, commits and every event."""

    def __init__(self):
        self.log = []
        self.commits = []
        self.events = {}
        self.acked = []  # (digits, result) in acknowledgement order
        self.last_event = 0
        self.now = START
        self.cursors = []  # (first_op, last_op, seq) of every save_cursor


class _Cursors:
    """The head-end's acks: now and then the cursor moves to a committed event."""

    def __init__(self, seed):
        self.rng = Rng(seed + 7919)
        self.seq = 0

    def step(self, store, dev, trace):
        top = store.journal.event_seq
        if self.rng.below(6) or top <= self.seq:
            return
        self.seq = top - self.rng.below(min(3, top - self.seq))  # past the last, not past top
        first = dev.ops
        store.save_cursor(self.seq)
        trace.cursors.append((first, dev.ops - 1, self.seq))


class _RecordingStore(MeterStore):
    def __init__(self, dev, trace):
        super().__init__(dev, policy(), event_blocks=EVENT_BLOCKS)
        self.dev = dev
        self.trace = trace
        self.inflight = None

    def save(self, meter, now):
        first = self.dev.ops
        written = super().save(meter, now)
        if written:
            t = self.trace
            c = Commit(first, self.dev.ops - 1, self, meter, self.inflight, len(t.acked))
            t.commits.append(c)
            for event in meter.events.since(t.last_event):
                t.events[event[0]] = event
                t.last_event = event[0]
        return written


def _token(trace, rng, value):
    trace.tid = max(trace.tid + 1, tid_from_time(trace.now))
    return encode_token(
        SETTINGS["decoder_key"], SETTINGS["meter_number"], TYPE_CREDIT, value, trace.tid
    )


def _acknowledge(store, meter, trace, digits, result):
    store.inflight = (digits, result)
    store.maybe_save(meter, trace.now)  # durable first (if it changed a register) ...
    store.inflight = None
    trace.acked.append((digits, result))  # ... then shown to the customer


def record(seed, steps, keep_log=True):
    """Run the seeded scenario; returns its Trace (without the operation log if not keep_log:
    a long run's log does not fit MicroPython's heap)."""
    rng = Rng(seed)
    trace = Trace()
    # The two devices run_cuts needs, allocated while MicroPython's heap is still in one piece.
    trace.flash = RamBlockDevice(BLOCK_SIZE, BLOCKS)
    trace.scratch = RamBlockDevice(BLOCK_SIZE, BLOCKS)
    trace.tid = 0
    dev = RamBlockDevice(BLOCK_SIZE, BLOCKS)
    trace.log = dev.record() if keep_log else None
    store = _RecordingStore(dev, trace)
    assert store.boot(trace.now) is None  # erased flash: unprovisioned
    meter = store.provision(SETTINGS, trace.now)  # the first commit
    counter = 0
    cursors = _Cursors(seed)
    for _ in range(steps):
        cursors.step(store, dev, trace)
        roll = rng.below(100)
        if roll < 72:
            dt = 1 + rng.below(MAX_DT)
            trace.now += dt
            pulses = rng.below(MAX_RATE * dt + 1) if meter.relay_closed(trace.now) else 0
            meter.add_pulses(pulses, trace.now)
            meter.tick(trace.now)
            store.maybe_save(meter, trace.now)
        elif roll < 84:
            if rng.below(10) == 0 and trace.acked:  # re-entering an old token: used / old
                digits = trace.acked[rng.below(len(trace.acked))][0]
            elif rng.below(12) == 0:  # a mistyped token: reject, lockout counters
                digits = "%020d" % (rng.below(1000000007) * 99991)
            else:
                digits = _token(trace, rng, 1 + rng.below(1600))
            result = meter.enter_token(digits, trace.now)
            _acknowledge(store, meter, trace, digits, result)
        elif roll < 88:
            counter += 1
            i = rng.below(len(PRICES))
            config = {
                "tariff": {"type": "flat", "price": PRICES[i]},
                "standing_charge": STANDING[i],
                "low_credit": 100 * rng.below(10),
                "emergency": {"limit": 1000},
            }
            blob = sign_config(SETTINGS["decoder_key"], SETTINGS["meter_number"], counter, config)
            meter.apply_config(blob, trace.now)
            store.maybe_save(meter, trace.now)
        elif roll < 92:
            meter.activate_emergency_credit(trace.now)
            store.maybe_save(meter, trace.now)
        elif roll < 94:
            meter.set_tamper(not meter.tamper_open, trace.now)
            store.maybe_save(meter, trace.now)
        else:  # an idle stretch, the loop still running: standing charge, the time rule
            for _ in range(1 + rng.below(IDLE_MINUTES)):
                trace.now += 60
                meter.add_pulses(0, trace.now)
                meter.tick(trace.now)
                store.maybe_save(meter, trace.now)
    trace.ops = dev.ops
    trace.flash_counts = list(dev.erase_counts)
    return trace


def _commit_at(trace, op):
    """Index of the commit during which operation `op` ran (binary search)."""
    lo, hi = 0, len(trace.commits) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if trace.commits[mid].last_op < op:
            lo = mid + 1
        else:
            hi = mid
    return lo


def check_cut(trace, dev, op, tear):
    """Reboot from `dev` (power cut during operation `op`, `tear`/1000 of it landed), check
    every invariant."""
    k = _commit_at(trace, op)
    cut = trace.commits[k]  # the real meter at the moment power failed
    done = k if op == cut.last_op and tear == TEAR_FULL else k - 1
    expected = trace.commits[done] if done >= 0 else None
    store = new_store(dev)
    meter = store.boot(trace.now)
    where = "cut at op %d tear %d (commit %d)" % (op, tear, k)

    # 1. The state is exactly a committed one: the last commit that finished before the cut.
    if expected is None:  # cut during provisioning: unprovisioned, nothing of it visible
        assert meter is None and store.status in (BLANK, CORRUPT), where
        assert not store.damaged, where + ": a provisioning cut must not look damaged"
        assert store.journal.config is None and not store.journal.read_events(), where
        _reprovision(store, dev, trace.now, where)
        return
    assert store.status == RESTORED and meter is not None, where + ": provisioning lost"
    assert settings_kept(meter.settings) == PROVISIONED, where + ": settings"
    assert store.journal.registers == expected.registers, where + ": not the last commit"

    # 2. Lost consumption is bounded, and the customer gains at most its price (plus a
    #    standing-charge share): credit never ends up above the exact value.
    lost = cut.energy - meter.energy_wh
    bound = policy().loss_bound_wh(MAX_BATCH_WH)
    assert 0 <= lost <= bound, where + ": lost %d Wh > bound %d" % (lost, bound)
    excess = meter.credit - cut.credit
    unsaved_s = policy().save_s + max(60, MAX_DT)  # the time rule fires at the next loop turn
    allowed = (lost * max(PRICES) + 999) // 1000 + (max(STANDING) * unsaved_s + 86399) // 86400
    assert excess <= allowed, where + ": credit %d above exact by %d" % (meter.credit, excess)

    # 3. The event ring reads back: the committed events, exactly as the meter recorded them.
    stored = [unpack_event(record) for record in store.journal.read_events()]
    assert stored, where
    assert stored[-1][0] == expected.event_seq, where
    for event in stored:
        assert trace.events[event[0]] == tuple(event), where + ": event %r" % (event,)
    seqs = [event[0] for event in stored]
    assert seqs == sorted(set(seqs)), where

    # 3b. The upload cursor is the last one written in full before the cut, or gone with the
    #     oldest block of the event ring, and then so is every event up to it.
    kept = None
    for _first, last, seq in trace.cursors:
        if last < op or (last == op and _lands_whole(trace.log[op], tear)):
            kept = seq
        else:
            break
    got = store.upload_cursor()
    if got is None and kept is not None:
        assert seqs[0] > kept, where + ": cursor %d lost, its events kept" % kept
    else:
        assert got == kept, where + ": cursor %r, not %r" % (got, kept)

    # 4. Tokens: the last acknowledged one applied exactly once, the in-flight one at most once.
    now = trace.now + LOCK_MAX + 1  # past any lockout left by the scenario
    acked = [t for t in trace.acked[: cut.acked] if t[1] == "accepted"]
    if acked:
        before = meter.credit
        again = meter.enter_token(acked[-1][0], now)
        assert again in ("used", "old"), where + ": acknowledged token " + again
        assert meter.credit == before, where
    if cut.inflight is not None and cut.inflight[1] == "accepted":
        digits = cut.inflight[0]
        applied = done == k
        first = meter.enter_token(digits, now)
        assert first == ("used" if applied else "accepted"), where + ": in-flight " + first
        before = meter.credit
        assert meter.enter_token(digits, now) == "used", where
        assert meter.credit == before, where

    # 5. The meter goes on: a save after the cut's leftovers lands and is what the next boot sees.
    _resave(store, meter, dev, now, where)


def _lands_whole(entry, tear):
    """True if a write cut at `tear` leaves the flash exactly as the whole write would: only
    erased-state bytes (0xFF) were missing, e.g. a CRC ending in 0xFF (1 in 256)."""
    kind, _addr, data = entry
    if tear == TEAR_FULL:
        return True
    if data is None:  # an erase
        return False
    for byte in data[len(data) * tear // TEAR_FULL :]:
        if byte != 0xFF:
            return False
    return True


def _resave(store, meter, dev, now, where):
    meter.boot(now, store.status)  # what the app does after every boot: a boot event, a save
    store.save(meter, now)
    _check_reboot(store, dev, now, where)


def _reprovision(store, dev, now, where):
    """Provisioning again after a cut during provisioning lands; its boot event says whether the
    cut left the flash blank or a torn (corrupt) record."""
    expected = BOOT_CORRUPT if store.status == CORRUPT else BOOT_BLANK
    meter = store.provision(SETTINGS, now)
    assert meter.events.since(0)[0][4] == expected, where
    again = _check_reboot(store, dev, now, where)
    assert (
        settings_kept(again.settings) == PROVISIONED
        and again.events.next_seq == meter.events.next_seq
    ), where


def _check_reboot(store, dev, now, where):
    saved = store.journal.registers
    again = new_store(dev)
    meter = again.boot(now)
    assert again.status == RESTORED and again.journal.registers == saved, where + ": resave"
    assert meter is not None, where
    return meter


def run_cuts(trace, count, seed):
    """`count` seeded cut points (random operation, random tear); returns how many ran."""
    rng = Rng(seed)
    cuts = []
    for _ in range(count):
        pick = rng.below(4)
        tear = 0 if pick == 0 else TEAR_FULL if pick == 1 else rng.below(TEAR_FULL)
        cuts.append((rng.below(trace.ops), tear))
    return run_cut_points(trace, cuts)


def provisioning_cuts(trace, tears=(0, 1, 500, 999, TEAR_FULL)):
    """Every operation of the provisioning commit, each cut at every tear in `tears`."""
    first = trace.commits[0]
    return [(op, tear) for op in range(first.first_op, first.last_op + 1) for tear in tears]


def cursor_cuts(trace, tears=(0, 500, TEAR_FULL)):
    """Every operation of every save_cursor, each cut at every tear in `tears`."""
    return [
        (op, tear)
        for first, last, _ in trace.cursors
        for op in range(first, last + 1)
        for tear in tears
    ]


def run_cut_points(trace, cuts):
    """Cut power at each (operation, tear) of `cuts` and check; returns how many ran.

    The cuts are taken in operation order: one device follows the recorded run, and each cut
    copies it into a second one (in place: no big allocation, which MicroPython's heap needs)
    and lands part of the next operation there.
    """
    cuts = sorted(cuts)
    flash, scratch = trace.flash, trace.scratch
    done = 0
    for op, tear in cuts:
        while done < op:
            flash.apply(trace.log[done])
            done += 1
        scratch.load(flash.mem)
        scratch.apply(trace.log[op], tear)
        check_cut(trace, scratch, op, tear)
    return len(cuts)
