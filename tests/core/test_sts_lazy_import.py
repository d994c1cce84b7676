"""A v1 meter never loads the STS modules; an STS meter loads them at its first token
(docs/sts.md, Meter side: the heap of a v1 meter is unchanged). Fresh interpreters, both."""

import subprocess
import sys

import pytest

from tests.helpers import ROOT, mp_env

SCRIPT = """
import sys
sys.path.insert(0, 'tests/shared')
from core_fixtures import meter, token
STS = ('firmware.core.sts_tokens', 'firmware.core.sts_state', 'token_spec.sts.token',
       'token_spec.sts.sta')
m = meter(credit=100)
assert m.enter_token(token(0, 5, m.pulse_time), m.pulse_time) == 'accepted'
m.snapshot()
print('v1', sorted(n for n in STS if n in sys.modules))
from firmware.core.meter import Meter
from sts_core_fixtures import sts_settings
s = Meter(sts_settings(), m.pulse_time)
print('sts-provisioned', sorted(n for n in STS if n in sys.modules))
from sts_core_fixtures import credit
assert s.enter_token(credit(10), s.pulse_time) == 'accepted'
print('sts-token', sorted(n for n in STS if n in sys.modules))
"""


@pytest.mark.parametrize("interpreter", ["cpython", "micropython"])
def test_v1_meter_never_imports_sts(interpreter, micropython_bin):
    exe = sys.executable if interpreter == "cpython" else micropython_bin
    args = (
        [exe, "-c", SCRIPT]
        if interpreter == "cpython"
        else [exe, "-X", "heapsize=4M", "-c", SCRIPT]
    )
    out = subprocess.run(args, cwd=ROOT, env=mp_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0] == "v1 []"
    # (the test fixture itself loads token_spec.sts.token to make tokens)
    assert "'firmware.core.sts_state'" in lines[1] and "sts_tokens" not in lines[1]
    assert lines[2].startswith("sts-token [") and "token_spec.sts.sta" in lines[2]
