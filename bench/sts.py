"""STS-compatible codec speed beside token format v1, in one run.

    python bench/sts.py          (make bench runs it)

Prints, on one CPython core: encode and decode times and rates for STS EA07 (STA) and EA11
(MISTY1) and for format v1 (FF1), measured alternately (STS, v1, STS, ...) keeping the best
round of each, so load from other processes skews both alike. Then, under the MicroPython
unix port: the median time of decode + CRC + classify of one STS token per algorithm (the
codec's part of the meter's accept path), and the heap the first decode leaves allocated; then
the meter core's whole STS decode + accept (`Meter.enter_token`, TID memory included, journal
excluded) beside v1's. Figures are printed, never asserted.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import token_spec as ts  # noqa: E402
from bench.tokens import _once  # noqa: E402  (one timing loop for every token bench)
from token_spec.sts import token as sts  # noqa: E402

V1_KEY = bytes(range(16))
V1_METER = "01234567897"
STS_KEYS = {
    7: bytes.fromhex("e653341f9d5bf36f"),
    11: bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d"),
}
ROUNDS = 5
N = 2000


def best_alternating(jobs):
    """Best seconds per call of each (func, calls) job, measured in turn over ROUNDS."""
    best = [None] * len(jobs)
    for _ in range(ROUNDS):
        for i, job in enumerate(jobs):
            t = _once(*job)
            best[i] = t if best[i] is None else min(best[i], t)
    return best


def show(label, seconds):
    print("  %-44s %9.1f us  %9.0f /s" % (label, seconds * 1e6, 1 / seconds))


def run_cpython():
    print("STS-compatible vs token format v1, CPython %s, one core" % sys.version.split()[0])
    ts.encode_token(V1_KEY, V1_METER, 0, 1, 1)  # build v1's cached FF1 context first
    v1_tokens = [ts.encode_token(V1_KEY, V1_METER, 0, 100 + i, 1000 + i) for i in range(N)]
    jobs, labels = [], []
    for ea, key in STS_KEYS.items():
        tokens = [sts.encode(key, ea, 0, 0, 5000000 + i, 100 + i, i & 15) for i in range(N)]
        jobs.append(
            (sts.encode, [(key, ea, 0, 0, 5000000 + i, 100 + i, i & 15) for i in range(N)])
        )
        labels.append("STS EA%02d encode (credit token)" % ea)
        jobs.append((sts.decode, [(t, key, ea) for t in tokens]))
        labels.append("STS EA%02d decode + CRC" % ea)
    jobs.append((ts.encode_token, [(V1_KEY, V1_METER, 0, 100 + i, 1000 + i) for i in range(N)]))
    labels.append("v1 encode (credit token)")
    jobs.append((ts.decode_token, [(V1_KEY, V1_METER, t) for t in v1_tokens]))
    labels.append("v1 decode + check")
    times = best_alternating(jobs)
    for label, seconds in zip(labels, times, strict=True):
        show(label, seconds)
    print("ratios: STS time / v1 time (measured alternately)")
    for i, ea in enumerate(STS_KEYS):
        print(
            "  EA%02d  encode %.2fx   decode %.2fx"
            % (ea, times[2 * i] / times[-2], times[2 * i + 1] / times[-1])
        )


MP_SCRIPT = """
import gc, time
from token_spec.sts import token
keys = {7: bytes.fromhex('e653341f9d5bf36f'),
        11: bytes.fromhex('f94b6ed353c3bfdb113e2d3a7ea3c41d')}
tokens = {7: '23716100501183194197', 11: '59386323472137426967'}
out = []
for ea in (7, 11):
    gc.collect()
    free = gc.mem_free()
    token.decode(tokens[ea], keys[ea], ea)  # imports the cipher and its tables
    gc.collect()
    kept = free - gc.mem_free()
    samples = []
    for i in range(201):
        t0 = time.ticks_us()
        cls, sub, tid, value, rnd, ok = token.decode(tokens[ea], keys[ea], ea)
        credit = ok and cls == 0 and sub <= 3
        samples.append(time.ticks_diff(time.ticks_us(), t0))
    assert credit
    samples.sort()
    out.append('%d %d %d' % (samples[100], samples[20], kept))
print(' '.join(out))
"""


def run_micropython():
    exe = Path(sys.executable).parent / "micropython"
    if not exe.exists():
        print("micropython not found next to %s" % sys.executable)
        return
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    proc = subprocess.run(
        [str(exe), "-X", "heapsize=4M", "-c", MP_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if proc.returncode != 0:
        print("micropython run failed: " + (proc.stderr or proc.stdout).strip().splitlines()[-1])
        return
    fields = proc.stdout.split()
    print("MicroPython unix port (the board's interpreter on this host), from .py sources")
    for i, ea in enumerate((7, 11)):
        median, p10, kept = fields[3 * i : 3 * i + 3]
        print(
            "  %-44s %9s us  (10th percentile %s us)"
            % ("EA%02d decode + CRC + classify, median" % ea, median, p10)
        )
        print("  %-44s %9s bytes" % ("  heap kept after the first EA%02d decode" % ea, kept))


METER_SCRIPT = """
import gc, time
from firmware.core.meter import Meter
settings = %(settings)r
v1 = dict(settings)
del v1['format'], v1['sts']
out = []
for name, tokens in %(runs)r:
    gc.collect()
    free = gc.mem_free()
    m = Meter(settings if name == 'sts' else v1, 200000000)
    m.boot(200000000)
    assert m.enter_token(tokens[0], 200000000) == 'accepted'  # imports the token path
    gc.collect()
    kept = free - gc.mem_free()
    samples = []
    for t in tokens[1:]:
        t0 = time.ticks_us()
        result = m.enter_token(t, 200000000)
        samples.append(time.ticks_diff(time.ticks_us(), t0))
        assert result == 'accepted', result
    samples.sort()
    out.append('%%d %%d %%d %%d' %% (samples[len(samples) // 2], samples[len(samples) // 10],
                                 samples[-1], kept))
print(' '.join(out))
"""


def run_meter_micropython():
    """STS decode + accept on the meter core (Meter.enter_token: lockout, decrypt, CRC, class,
    KEN, TID memory, unit, top-up, event) beside v1's, under the MicroPython unix port."""
    exe = Path(sys.executable).parent / "micropython"
    if not exe.exists():
        print("micropython not found next to %s" % sys.executable)
        return
    count = 202
    key = STS_KEYS[7]
    settings = {
        "meter_number": V1_METER,
        "decoder_key": V1_KEY.hex(),
        "unit": "kwh",
        "scale": 100,
        "format": "sts",
        "sts": {
            "dk": key.hex(),
            "ea": 7,
            "kt": 2,
            "krn": 1,
            "ti": 1,
            "sgc": "123456",
            "base": 1993,
            "ken": 255,
            "mfr": 0,
        },
    }
    sts_tokens = [sts.encode(key, 7, 0, 0, 16000000 + i, 10, i & 15) for i in range(count)]
    minute = 200000000 // 60
    v1_tokens = [ts.encode_token(V1_KEY, V1_METER, 0, 10, minute + i) for i in range(count)]
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    fields = []
    for name, tokens in (("sts", sts_tokens), ("v1", v1_tokens)):  # one process each: own heap
        script = METER_SCRIPT % {"settings": settings, "runs": [(name, tokens)]}
        proc = subprocess.run(
            [str(exe), "-X", "heapsize=4M", "-c", script],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).strip().splitlines()[-1]
            print("micropython run failed: " + err)
            return
        fields += proc.stdout.split()
    print("Meter core under MicroPython: Meter.enter_token of %d credit tokens" % (count - 1))
    for i, name in enumerate(("STS EA07", "v1")):
        median, p10, worst, kept = fields[4 * i : 4 * i + 4]
        print(
            "  %-44s %9s us  (10th percentile %s us, worst %s us)"
            % ("%s decode + accept, median" % name, median, p10, worst)
        )
        print("  %-44s %9s bytes" % ("  heap kept after the first %s token" % name, kept))


def main():
    run_cpython()
    run_micropython()
    run_meter_micropython()


if __name__ == "__main__":
    main()
