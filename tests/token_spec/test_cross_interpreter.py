"""Tokens encoded on CPython decode under micropython, and the other way round."""

import json
import random
import subprocess

import token_spec as ts
from tests.helpers import ROOT, mp_env

SCRIPT = str(ROOT / "tests" / "token_spec" / "mp_cross_check.py")


def _random_fields(rand, count):
    fields = []
    for _ in range(count):
        token_type = rand.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14])
        tid = rand.randrange(1 << 26)
        if token_type in ts.AMOUNT_TYPES:
            value = rand.randrange(16384) * 10 ** rand.randrange(4)
        elif token_type in ts.KEY_CHANGE_TYPES:
            value, tid = rand.randrange(1 << 40), 0
        elif token_type == ts.TYPE_DEBT_RECOVERY:
            value = rand.randrange(101)
        elif token_type == ts.TYPE_TEST:
            value = rand.choice(ts.METER_TESTS)
        elif token_type == ts.TYPE_POWER_LIMIT:
            value = rand.randrange(65536)
        else:
            value = 0
        fields.append((token_type, value, tid))
    return fields


def test_tokens_cross_between_interpreters(micropython_bin, tmp_path):
    rand = random.Random(7)
    key = bytes(rand.randrange(256) for _ in range(16))
    meter = ts.make_meter_number("%010d" % rand.randrange(10**10))
    ours = _random_fields(rand, 300)
    theirs = _random_fields(rand, 300)
    tokens = [ts.encode_token(key, meter, *f) for f in ours]
    job = {"key": key.hex(), "meter": meter, "tokens": tokens, "to_encode": theirs}
    src, dst = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text(json.dumps(job))
    proc = subprocess.run(
        [micropython_bin, SCRIPT, str(src), str(dst)],
        capture_output=True,
        text=True,
        env=mp_env(MICROPYPATH=str(ROOT)),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(dst.read_text())
    for (token_type, value, tid), got in zip(ours, out["decoded"], strict=True):
        expected_tid = None if token_type in ts.KEY_CHANGE_TYPES else tid % (1 << 24)
        assert got == [token_type, value, expected_tid]
    assert len(out["encoded"]) == len(theirs)
    for (token_type, value, tid), token in zip(theirs, out["encoded"], strict=True):
        assert token == ts.encode_token(key, meter, token_type, value, tid)
        decoded = ts.decode_token(key, meter, token)
        assert decoded[:2] == (token_type, value)
