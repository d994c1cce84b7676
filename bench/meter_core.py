"""Meter core speed on the MicroPython unix port: one pulse batch and one token acceptance.

    .venv/bin/python bench/meter_core.py

Runs `micropython` (the interpreter the board runs) as a subprocess on the real firmware/core
code and prints medians; CPython figures follow for comparison. Target: ≤ 5 ms median per token.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "shared"))

from core_fixtures import MONDAY, token  # noqa: E402

TOKENS = 300
BATCHES = 10000

# Runs under both interpreters; prints one JSON line of medians in microseconds.
WORKER = """
import sys, json, time
root, path = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
sys.path.insert(0, root + "/tests/shared")
from core_fixtures import meter, MONDAY, TOU_EIGHT
try:
    clock, diff = time.ticks_us, time.ticks_diff
except AttributeError:
    clock = lambda: time.perf_counter_ns() // 1000
    diff = lambda a, b: a - b
with open(path) as f:
    tokens = json.load(f)
def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]
m = meter(tariff=TOU_EIGHT)
m.credit = (1 << 30) - 2
t = MONDAY
batch = []
for i in range(%(batches)d):
    t += 7
    n = (i * 7919) %% 23
    a = clock()
    m.add_pulses(n, t)
    batch.append(diff(clock(), a))
m.credit = 0
tok = []
results = {}
for digits in tokens:
    a = clock()
    r = m.enter_token(digits, t)
    tok.append(diff(clock(), a))
    results[r] = results.get(r, 0) + 1
print(json.dumps({"batch_us": median(batch), "batch_max_us": max(batch),
                  "token_us": median(tok), "token_max_us": max(tok), "results": results}))
"""


def run(interpreter, worker, tokens_path):
    out = subprocess.run(
        [interpreter, worker, str(ROOT), tokens_path],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    micropython = str(Path(sys.executable).parent / "micropython")
    if not os.path.exists(micropython):
        sys.exit("micropython not found next to %s: run `make test` first" % sys.executable)
    tokens = [token(0, 10, MONDAY + 60 * i) for i in range(TOKENS)]
    with tempfile.TemporaryDirectory() as tmp:
        tokens_path = os.path.join(tmp, "tokens.json")
        worker = os.path.join(tmp, "worker.py")
        with open(tokens_path, "w") as f:
            json.dump(tokens, f)
        with open(worker, "w") as f:
            f.write(WORKER % {"batches": BATCHES})
        started = time.perf_counter()
        for name, interp in (("micropython", micropython), ("cpython", sys.executable)):
            r = run(interp, worker, tokens_path)
            print(
                "%-12s pulse batch (TOU, 0-22 pulses): median %d us, max %d us over %d batches"
                % (name, r["batch_us"], r["batch_max_us"], BATCHES)
            )
            print(
                "%-12s token acceptance (credit): median %d us (%.2f ms), max %d us, %s"
                % (name, r["token_us"], r["token_us"] / 1000, r["token_max_us"], r["results"])
            )
    print("bench wall time %.1f s" % (time.perf_counter() - started))


if __name__ == "__main__":
    main()
