"""Void tokens (SPEC.md §5.8): vectors/void.json holds on this interpreter."""

from token_vectors_support import error_of, key, load_vectors

import token_spec as ts


def test_void_vectors():
    cases = load_vectors("void")
    encoded = refused = rejected = 0
    for case in cases:
        if "result" in case:
            exc = error_of(ts.decode_token, key(case["decoder_key"]), case["meter"], case["token"])
            assert isinstance(exc, ts.TokenError) and exc.code == case["result"], case
            rejected += 1
        elif "token" in case:
            k = key(case["decoder_key"])
            assert case["type"] == ts.TYPE_VOID and case["type_name"] == "void"
            token = ts.encode_token(k, case["meter"], ts.TYPE_VOID, case["value"], case["tid"])
            assert token == case["token"], case
            decoded = ts.decode_token(k, case["meter"], token)
            assert decoded == (ts.TYPE_VOID, case["value"], case["tid24"])
            assert ts.voided_tid(case["tid"]) == case["voids_tid"]
            assert ts.void_tid(case["voids_tid"]) == case["tid"]
            encoded += 1
        else:
            exc = error_of(
                ts.encode_token, bytes(16), "01234567897", ts.TYPE_VOID, case["value"], 1
            )
            assert isinstance(exc, ValueError), case
            refused += 1
    assert (encoded, refused, rejected) == (5, 2, 1)
