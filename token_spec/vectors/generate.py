"""Write the frozen format-v1 vectors (run once; tests only read them).

    python token_spec/vectors/generate.py            # refuses to overwrite existing files
    python token_spec/vectors/generate.py --force    # only for a new format version

A change to any vector is a change of format version (SPEC.md §11). The NIST FF1 samples are
copied from NIST's published examples, not generated.
"""

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

import token_spec as ts  # noqa: E402
from token_spec import codec, ff1  # noqa: E402
from token_spec.config_blob import sign_config  # noqa: E402

# Vending keys: fixed, recognisable, and useless for anything real.
VENDING_KEYS = [
    bytes(range(32)),
    hashlib.sha256(b"prepay format v1 vector vending key B").digest(),
    hashlib.sha256(b"prepay format v1 vector vending key C").digest(),
]
METERS = [
    ts.make_meter_number("0123456789"),
    ts.make_meter_number("4700000001"),
    ts.make_meter_number("9999999999"),
]
EPOCH = 1 << 24

AMOUNT_BOUNDARIES = [0, 1, 9999, 16383, 16390, 20000, 163830, 163900, 1638300, 1639000, 16383000]


def _token_case(key_index, meter_index, revision, token_type, value, tid, note):
    key = ts.derive_decoder_key(VENDING_KEYS[key_index], METERS[meter_index], revision)
    tid24, value16 = codec._field_value(token_type, value, tid)
    plain = codec._pack(token_type, tid24, value16)
    token = ts.encode_token(key, METERS[meter_index], token_type, value, tid)
    decoded = ts.decode_token(key, METERS[meter_index], token)
    return {
        "note": note,
        "decoder_key": key.hex(),
        "meter": METERS[meter_index],
        "type": token_type,
        "type_name": ts.TYPE_NAMES[token_type],
        "value": value,
        "tid": tid,
        "tid24": decoded[2],
        "value16": value16,
        "check": plain & 0x3FFFFF,
        "plaintext": "%020d" % plain,
        "token": token,
    }


def token_vectors():
    cases = []
    add = cases.append
    tid = 3 * 525600 + 12345  # early 2023
    for value in AMOUNT_BOUNDARIES:
        add(_token_case(0, 0, 0, ts.TYPE_CREDIT, value, tid, "credit, exponent boundary"))
        tid += 1
    for token_type in (ts.TYPE_SET_PRICE, ts.TYPE_LOW_CREDIT, ts.TYPE_ADD_DEBT):
        for value in (1, 16383, 16390, 16383000):
            add(_token_case(1, 1, 0, token_type, value, tid, "amount type"))
            tid += 1
    for token_type, values in (
        (ts.TYPE_POWER_LIMIT, (0, 4600, 65535)),
        (ts.TYPE_CLEAR_TAMPER, (0,)),
        (ts.TYPE_CLEAR_CREDIT, (0,)),
        (ts.TYPE_DEBT_RECOVERY, (0, 15, 100)),
        (ts.TYPE_TEST, tuple(ts.METER_TESTS)),
    ):
        for value in values:
            add(_token_case(2, 2, 1, token_type, value, tid, "management / test"))
            tid += 1
    for value in ts.DISPLAY_TESTS:
        add(_token_case(0, 0, 0, ts.TYPE_PUBLIC_TEST, value, 0, "public test (any meter)"))
    for k in range(4):
        add(_token_case(1, 0, 2, ts.TYPE_KEY_CHANGE_1 + k, 0x0123456789 + k, 0, "key part"))
    for full_tid in (0, EPOCH - 2, EPOCH - 1, EPOCH, EPOCH + 1, 2 * EPOCH + 7):
        add(_token_case(0, 1, 0, ts.TYPE_CREDIT, 500, full_tid, "TID epoch crossing"))
    return cases


def reject_vectors():
    """Tokens a meter must refuse, with the result code."""
    key = ts.derive_decoder_key(VENDING_KEYS[0], METERS[0], 0)
    meter = METERS[0]
    ctx = ff1.context(key, meter.encode())
    good = ts.encode_token(key, meter, ts.TYPE_CREDIT, 1000, 2000000)
    cases = []
    for pos in (0, 9, 19):
        digit = str((int(good[pos]) + 1) % 10)
        changed = good[:pos] + digit + good[pos + 1 :]
        cases.append({"note": "digit %d changed" % pos, "token": changed, "result": "reject"})
    too_big = "%020d" % ctx.encrypt_int(1 << 66)
    cases.append({"note": "plaintext 2**66", "token": too_big, "result": ts.RESULT_REJECT})
    # Types 12 and 13 as frozen: type 12 later became `void`, whose value 0 is still outside
    # its domain (`unsupported`), so this case stands (SPEC.md §5.8).
    for token_type in (12, 13):
        plain = codec._pack(token_type, 2000000, 0)
        cases.append(
            {
                "note": "reserved type %d" % token_type,
                "token": "%020d" % ctx.encrypt_int(plain),
                "result": ts.RESULT_UNSUPPORTED,
            }
        )
    plain = codec._pack(ts.TYPE_DEBT_RECOVERY, 2000000, 101)
    cases.append(
        {
            "note": "debt recovery 101 %",
            "token": "%020d" % ctx.encrypt_int(plain),
            "result": ts.RESULT_UNSUPPORTED,
        }
    )
    other = ts.encode_token(key, METERS[1], ts.TYPE_CREDIT, 1000, 2000000)
    cases.append({"note": "token for another meter", "token": other, "result": "reject"})
    for case in cases:
        case["decoder_key"] = key.hex()
        case["meter"] = meter
    return cases


def key_vectors():
    out = []
    for vk in VENDING_KEYS:
        for meter in METERS:
            for revision in (0, 1, 255):
                key = ts.derive_decoder_key(vk, meter, revision)
                out.append(
                    {
                        "vending_key": vk.hex(),
                        "meter": meter,
                        "revision": revision,
                        "decoder_key": key.hex(),
                        "kcv": "%06x" % ts.key_check_value(key),
                    }
                )
    return out


def key_change_vectors():
    out = []
    for vk_index, meter, old_rev, new_rev in ((0, METERS[0], 0, 1), (1, METERS[2], 4, 200)):
        current = ts.derive_decoder_key(VENDING_KEYS[vk_index], meter, old_rev)
        new = ts.derive_decoder_key(VENDING_KEYS[vk_index], meter, new_rev)
        out.append(
            {
                "meter": meter,
                "current_key": current.hex(),
                "current_revision": old_rev,
                "new_key": new.hex(),
                "new_revision": new_rev,
                "kcv": "%06x" % ts.key_check_value(new),
                "payloads": ["%010x" % p for p in ts.key_change_payloads(new, new_rev)],
                "tokens": ts.key_change_tokens(current, meter, new, new_rev),
            }
        )
    return out


def tid_vectors():
    cases = []
    for tid24, high in (
        (100, 50),
        (50, 100),
        (0, 0),
        (EPOCH - 1, 0),
        (5, EPOCH - 10),
        (EPOCH - 10, EPOCH + 5),
        (1 << 23, 0),
        ((1 << 23) + 1, 0),
        (10, (1 << 23) + 10),
        (123, 3 * EPOCH + 200),
    ):
        cases.append({"tid24": tid24, "high_water": high, "full": ts.extend_tid(tid24, high)})
    return cases


def amount_vectors():
    cases = []
    for amount in AMOUNT_BOUNDARIES + [16384, 16389, 163831, 163899, 1638301, 16383001, 16382999]:
        below, above = ts.nearest_representable(amount)
        case = {"amount": amount, "representable": ts.is_representable(amount)}
        case["below"], case["above"] = below, above
        if case["representable"]:
            case["value16"] = ts.encode_amount(amount)
        cases.append(case)
    return cases


def config_vectors():
    key = ts.derive_decoder_key(VENDING_KEYS[0], METERS[0], 0)
    config = {"price": 2500, "low_credit": 5000, "friendly": [[0, 18, 9]], "holidays": [365]}
    return [
        {
            "decoder_key": key.hex(),
            "meter": METERS[0],
            "counter": counter,
            "config": config,
            "blob": sign_config(key, METERS[0], counter, config),
        }
        for counter in (1, 70000)
    ]


def meter_number_vectors():
    valid = [METERS[0], METERS[1], METERS[2], ts.PUBLIC_METER_NUMBER]
    invalid = [METERS[0][:-1] + str((int(METERS[0][-1]) + 1) % 10), "1234567890", "0123456789a"]
    return {"valid": valid, "invalid": invalid}


NIST_FF1 = [
    # NIST SP 800-38G examples FF1-AES128, samples 1-3 (radix 36 for sample 3).
    {
        "key": "2b7e151628aed2a6abf7158809cf4f3c",
        "tweak": "",
        "radix": 10,
        "plaintext": "0123456789",
        "ciphertext": "2433477484",
    },
    {
        "key": "2b7e151628aed2a6abf7158809cf4f3c",
        "tweak": "39383736353433323130",
        "radix": 10,
        "plaintext": "0123456789",
        "ciphertext": "6124200773",
    },
    {
        "key": "2b7e151628aed2a6abf7158809cf4f3c",
        "tweak": "3737373770717273373737",
        "radix": 36,
        "plaintext": "0123456789abcdefghi",
        "ciphertext": "a9tv40mll9kdu509eum",
    },
]


def void_vectors():
    """Void tokens (SPEC.md §5.8, added to format v1 after the files above were frozen): the
    token, the TID it names, and the encodings of the amount's exponent boundaries."""
    cases = []
    for i, amount in enumerate([1, 16383, 16390, 163900, 16383000]):
        target = 2000000 + 10 * i
        case = _token_case(0, 0, 0, ts.TYPE_VOID, amount, ts.void_tid(target), "void")
        case["voids_tid"] = target
        cases.append(case)
    for amount in (0, 16384):  # no amount; an amount the encoding cannot carry exactly
        try:
            ts.encode_token(bytes(16), METERS[0], ts.TYPE_VOID, amount, 2000001)
        except ValueError:
            cases.append({"note": "void refused by the encoder", "value": amount})
    key = ts.derive_decoder_key(VENDING_KEYS[0], METERS[0], 0)
    ctx = ff1.context(key, METERS[0].encode())
    cases.append(
        {
            "note": "void for amount 0: unsupported",
            "decoder_key": key.hex(),
            "meter": METERS[0],
            "token": "%020d" % ctx.encrypt_int(codec._pack(ts.TYPE_VOID, 2000001, 0)),
            "result": ts.RESULT_UNSUPPORTED,
        }
    )
    return cases


def main(argv):
    files = {
        "void.json": void_vectors(),
        "tokens.json": token_vectors(),
        "rejects.json": reject_vectors(),
        "keys.json": key_vectors(),
        "key_change.json": key_change_vectors(),
        "tid.json": tid_vectors(),
        "amounts.json": amount_vectors(),
        "config_blob.json": config_vectors(),
        "meter_numbers.json": meter_number_vectors(),
        "ff1_nist.json": NIST_FF1,
    }
    force = "--force" in argv
    for name, data in files.items():
        path = HERE / name
        if path.exists() and not force:
            print("%s exists: vectors are frozen (use --force only for a new format)" % name)
            continue
        path.write_text(json.dumps({"format": 1, "cases": data}, indent=1) + "\n")
        print("wrote", path.name)


if __name__ == "__main__":
    main(sys.argv[1:])
