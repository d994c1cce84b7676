"""Decode seeded random 20-digit strings; count how many pass the STS CRC (run as a subprocess).

    python tests/sts/crc_reject_worker.py SEED COUNT EA
prints one JSON object: {"tried", "not_a_token", "crc_passed"}.
"""

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from token_spec.sts import token  # noqa: E402

KEYS = {
    7: bytes.fromhex("e653341f9d5bf36f"),
    11: bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d"),
}


def main(seed, count, ea):
    rand = random.Random(seed)
    key = KEYS[ea]
    not_a_token = passed = 0
    for _ in range(count):
        digits = "%020d" % rand.randrange(10**20)
        try:
            cls, block = token.decode_block(digits, key, ea)
        except ValueError:
            not_a_token += 1  # above 2**66: rejected before any decryption
            continue
        passed += token.crc_ok(cls, block)
    print(json.dumps({"tried": count, "not_a_token": not_a_token, "crc_passed": passed}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
