"""Count how many seeded random 20-digit strings a decoder accepts (run as a subprocess).

    python tests/token_spec/random_reject_worker.py SEED COUNT
prints one JSON object: {"tried", "accepted", "unsupported", "errors"}.
"""

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import token_spec as ts  # noqa: E402

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
METER = "01234567897"


def main(seed, count):
    rand = random.Random(seed)
    accepted = unsupported = errors = 0
    for _ in range(count):
        digits = "%020d" % rand.randrange(10**20)
        try:
            ts.decode_token(KEY, METER, digits)
            accepted += 1
        except ts.TokenUnsupported:
            unsupported += 1  # passed the check but names a reserved type/value
        except ts.TokenError:
            pass
        except Exception:  # anything else is a bug the test reports
            errors += 1
    print(
        json.dumps(
            {"tried": count, "accepted": accepted, "unsupported": unsupported, "errors": errors}
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
