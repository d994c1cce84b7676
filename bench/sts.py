"""STS-compatible codec speed beside token format v1, in one run.

    python bench/sts.py          (make bench runs it)

Prints, on one CPython core: encode and decode times and rates for STS EA07 (STA) and EA11
(MISTY1) and for format v1 (FF1), measured alternately (STS, v1, STS, ...) keeping the best
round of each, so load from other processes skews both alike. Then, under the MicroPython
unix port: the median time of decode + CRC + classify of one STS token per algorithm (the
meter's accept path, without the TID memory and journal that the firmware will add), and the
heap the first decode leaves allocated. Figures are printed, never asserted.
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


def main():
    run_cpython()
    run_micropython()


if __name__ == "__main__":
    main()
