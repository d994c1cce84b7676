"""Token codec throughput on one CPython core, against OpenPAYGO 0.6.3 in the same run.

    python bench/tokens.py          (make bench runs it)

Prints per-operation times and rates for: our generation (TID 1 and TID 1000, which must cost
the same), decoding valid tokens, rejecting random 20-digit strings; OpenPAYGO's
generate_token and decode_token at count 1 and 1000 and on random invalid tokens; the ratios
against the targets (generation >= 3x at count 1, rejection >= 50x); and the decode time of one
token under the MicroPython unix port. Figures are printed, never asserted.

Each pair of figures that forms a ratio is measured alternately (ours, theirs, ours, ...) and
the best round of each is kept, so load from other processes skews both sides alike.
OpenPAYGO is given its starting code (a server stores it per device); deriving it from the key
on every call, as generate_token does without one, would make OpenPAYGO slower still.
"""

import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import token_spec as ts  # noqa: E402

KEY = bytes(range(16))
METER = "01234567897"
OPAYGO_KEY = "a29ab82edc5fbbc41ec9530f6dac86b1"
OPAYGO_STARTING_CODE = 123456789
ROUNDS = 5


def _once(func, calls):
    start = time.perf_counter()
    for args in calls:
        func(*args)
    return (time.perf_counter() - start) / len(calls)


def paired(ours, theirs=None):
    """Best seconds per call for (func, calls) pairs, measured alternately over ROUNDS."""
    best = [None, None]
    for _ in range(ROUNDS):
        for i, job in enumerate((ours, theirs)):
            if job is not None:
                t = _once(*job)
                best[i] = t if best[i] is None else min(best[i], t)
    return best


def show(label, seconds):
    print("  %-48s %10.1f us  %10.0f /s" % (label, seconds * 1e6, 1 / seconds))


def _try_decode(digits):
    try:
        ts.decode_token(KEY, METER, digits)
    except ts.TokenError:
        pass


def _openpaygo():
    try:
        import openpaygo
    except ImportError:
        return None

    def gen(count):
        return openpaygo.generate_token(
            secret_key=OPAYGO_KEY, count=count, value=7, starting_code=OPAYGO_STARTING_CODE
        )

    def dec(token, count):
        return openpaygo.decode_token(
            token=token,
            secret_key=OPAYGO_KEY,
            count=count,
            used_counts=[],
            starting_code=OPAYGO_STARTING_CODE,
        )

    return gen, dec


def run_cpython(rand):
    print("prepay token format v1 vs OpenPAYGO 0.6.3, CPython %s, one core" % sys.version[:6])
    opg = _openpaygo()
    if opg is None:
        print("  (OpenPAYGO not installed: pip install openpaygo==0.6.3, the `bench` extra)")
    gen, dec = opg or (None, None)
    ts.encode_token(KEY, METER, 0, 1, 1)  # build the cached FF1 context outside the timing
    tokens = [ts.encode_token(KEY, METER, 0, 100 + i, 1000 + i) for i in range(5000)]
    randoms = [("%020d" % rand.randrange(10**20),) for _ in range(5000)]
    fig = {}
    for count, reps in ((1, 400), (1000, 4)):
        ours = (ts.encode_token, [(KEY, METER, 0, 1000, count)] * 5000)
        theirs = (gen, [(count,)] * reps) if gen else None
        fig["gen", count] = paired(ours, theirs)
        ours = (ts.decode_token, [(KEY, METER, t) for t in tokens])
        theirs = None
        if dec:
            token = gen(count)[1]
            assert dec(token, count)[0] == 7  # the bench times real, successful decodes
            theirs = (dec, [(token, count)] * reps)
        fig["dec", count] = paired(ours, theirs)
        ours = (_try_decode, randoms)
        theirs = None
        if dec:
            theirs = (dec, [("%09d" % rand.randrange(10**9), count) for _ in range(reps)])
        fig["rej", count] = paired(ours, theirs)
    fresh = [(KEY, ts.make_meter_number("%010d" % i), 0, 1000, 1) for i in range(2000)]
    new_meter = _once(ts.encode_token, fresh)

    print("ours")
    show("encode, TID 1", fig["gen", 1][0])
    show("encode, TID 1000", fig["gen", 1000][0])
    show("encode, a new meter each call (builds context)", new_meter)
    show("decode valid token", fig["dec", 1][0])
    show("reject random 20-digit string", fig["rej", 1][0])
    if not opg:
        return
    print("OpenPAYGO")
    for count in (1, 1000):
        show("generate_token, count %d" % count, fig["gen", count][1])
        show("decode_token valid, count %d" % count, fig["dec", count][1])
        show("decode_token random invalid, count %d" % count, fig["rej", count][1])
    print("ratios: OpenPAYGO time / ours (measured alternately)")
    for key, label, target in (
        (("gen", 1), "generation, count 1", "target >= 3x"),
        (("gen", 1000), "generation, count 1000", ""),
        (("dec", 1), "valid decode, count 1", ""),
        (("dec", 1000), "valid decode, count 1000", ""),
        (("rej", 1), "random-token rejection, count 1", "target >= 50x"),
        (("rej", 1000), "random-token rejection, count 1000", "target >= 50x"),
    ):
        ours, theirs = fig[key]
        print("  %-48s %10.1fx  %s" % (label, theirs / ours, target))
    flat = fig["gen", 1000][0] / fig["gen", 1][0]
    print("  %-48s %10.2f   (1.00 = flat)" % ("ours: encode at TID 1000 / TID 1", flat))


MP_SCRIPT = """
import time
import token_spec as ts
key = bytes(range(16))
meter = "01234567897"
t0 = time.ticks_us()
token = ts.encode_token(key, meter, 0, 1000, 5)
first = time.ticks_diff(time.ticks_us(), t0)
n = 500
best_dec = best_rej = 10**9
for r in range(5):
    t0 = time.ticks_us()
    for i in range(n):
        ts.decode_token(key, meter, token)
    best_dec = min(best_dec, time.ticks_diff(time.ticks_us(), t0) / n)
    t0 = time.ticks_us()
    for i in range(n):
        try:
            ts.decode_token(key, meter, "12345678901234567890")
        except ts.TokenError:
            pass
    best_rej = min(best_rej, time.ticks_diff(time.ticks_us(), t0) / n)
print("%d %.1f %.1f" % (first, best_dec, best_rej))
"""


def run_micropython():
    exe = Path(sys.executable).parent / "micropython"
    if not exe.exists():
        print("micropython not found next to %s" % sys.executable)
        return
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    proc = subprocess.run(
        [str(exe), "-c", MP_SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    if proc.returncode != 0:
        print("micropython run failed: " + (proc.stderr or proc.stdout).strip().splitlines()[-1])
        return
    first, dec, rej = proc.stdout.split()
    print("MicroPython unix port (the board's interpreter on this host)")
    print("  %-48s %10s us" % ("first token (imports done; builds FF1 context)", first))
    print("  %-48s %10s us" % ("decode one valid token", dec))
    print("  %-48s %10s us" % ("reject one wrong token", rej))


def main():
    run_cpython(random.Random(2026))
    run_micropython()


if __name__ == "__main__":
    main()
