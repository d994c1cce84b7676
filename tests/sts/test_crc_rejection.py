"""Random 20-digit strings pass the STS CRC at about 2**-16, as the design says (STS.md §6).

A seeded sample through the real decoder (digits -> transposition -> EA07 or EA11 decryption ->
CRC), one process per algorithm (one per core). The count of CRC passes among the strings that
are tokens at all (below 2**66, about 73.8 %) is Poisson with mean n / 2**16; the test asserts
it lies in the central 99.8 % interval, so a CRC that is too weak (say 8 bits: hundreds of
passes) or a check that never passes both fail.
"""

import json
import math
import subprocess
import sys

import pytest

from tests.helpers import ROOT

WORKER = str(ROOT / "tests" / "sts" / "crc_reject_worker.py")
SAMPLES = {7: 1 << 18, 11: 1 << 19}  # EA07 decodes at about half EA11's speed on CPython
TAIL = 1e-3  # per side (the seed is fixed: this sets how strict, not how flaky)


def _poisson_interval(mean, tail):
    """The smallest lo and largest hi with P(X < lo) <= tail and P(X > hi) <= tail."""
    pmf = [math.exp(-mean)]
    while len(pmf) < 10 * mean + 50:
        pmf.append(pmf[-1] * mean / len(pmf))
    cdf, lo = 0.0, 0
    while cdf + pmf[lo] <= tail:
        cdf += pmf[lo]
        lo += 1
    above, hi = 0.0, len(pmf) - 1
    while above + pmf[hi] <= tail:
        above += pmf[hi]
        hi -= 1
    return lo, hi


@pytest.mark.slow
def test_crc_pass_rate_of_random_tokens_is_two_to_the_minus_16():
    procs = {
        ea: subprocess.Popen(
            [sys.executable, WORKER, str(2026 + ea), str(count), str(ea)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ea, count in SAMPLES.items()
    }
    results = {}
    for ea, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        results[ea] = json.loads(out)
    tried = sum(r["tried"] for r in results.values())
    tokens = tried - sum(r["not_a_token"] for r in results.values())
    passed = sum(r["crc_passed"] for r in results.values())
    assert tried == sum(SAMPLES.values())
    # About 73.8 % of 20-digit numbers are below 2**66 (2**66 / 10**20).
    assert abs(tokens / tried - 2**66 / 10**20) < 0.005
    lo, hi = _poisson_interval(tokens / 65536, TAIL)
    print(
        "STS CRC: %d random tokens, %d passed (%.2e; 2**-16 = %.2e), allowed %d..%d"
        % (tokens, passed, passed / tokens, 2**-16, lo, hi)
    )
    assert lo <= passed <= hi
    assert lo >= 1  # the interval excludes "never passes"
