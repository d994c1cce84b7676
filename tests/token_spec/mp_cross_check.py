"""Run under micropython by test_cross_interpreter.py (not a test module itself).

    micropython mp_cross_check.py IN.json OUT.json
IN holds tokens encoded by CPython; OUT gets their decodings plus tokens encoded here.
"""

import json
import sys

import token_spec as ts


def main(src, dst):
    with open(src) as handle:
        job = json.load(handle)
    key = bytes.fromhex(job["key"])
    meter = job["meter"]
    decoded = []
    for token in job["tokens"]:
        try:
            decoded.append(list(ts.decode_token(key, meter, token)))
        except ts.TokenError as exc:
            decoded.append(exc.code)
    encoded = []
    for token_type, value, tid in job["to_encode"]:
        encoded.append(ts.encode_token(key, meter, token_type, value, tid))
    with open(dst, "w") as handle:
        json.dump({"decoded": decoded, "encoded": encoded}, handle)


main(sys.argv[1], sys.argv[2])
