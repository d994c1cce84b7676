"""10**6 seeded random 20-digit strings against one key: at most 3 may pass the check.

Design rate: a random number is a plaintext below 2**66 with probability 2**66/10**20 = 0.738,
and then passes the 22-bit check with probability 2**-22: 1.76e-7 per try, 0.18 expected in a
million. The work is split over two processes (one per core).
"""

import json
import subprocess
import sys

from tests.helpers import ROOT

WORKER = str(ROOT / "tests" / "token_spec" / "random_reject_worker.py")
TOTAL = 1_000_000
PROCESSES = 2


def test_a_million_random_strings_almost_never_pass():
    per = TOTAL // PROCESSES
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, str(20260 + i), str(per)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    tried = sum(r["tried"] for r in results)
    passed = sum(r["accepted"] + r["unsupported"] for r in results)
    print("random 20-digit strings: %d tried, %d passed the check" % (tried, passed))
    assert tried == TOTAL
    assert sum(r["errors"] for r in results) == 0
    assert passed <= 3
