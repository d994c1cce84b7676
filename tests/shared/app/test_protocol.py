"""Serial protocol framing and request parsing (pure), under both interpreters."""

import json

import support

from firmware.app import protocol as p


def test_framer_splits_lines_across_chunks_and_drops_cr():
    f = p.LineFramer()
    assert f.feed(b'{"a"') == []
    assert f.pending() == 4
    assert f.feed(b':1}\r\n{"b":2}\nrest') == [b'{"a":1}', b'{"b":2}']
    assert f.feed(b"\n") == [b"rest"]


def test_framer_limit_is_1024_bytes_including_newline():
    f = p.LineFramer()
    fits = b"x" * (p.MAX_LINE - 1)
    assert f.feed(fits + b"\n") == [fits]
    assert f.feed(fits + b"y\n") == [None]


def test_overlong_line_is_one_marker_and_the_stream_recovers():
    f = p.LineFramer()
    out = []
    for _ in range(10):  # 5 KiB arriving in pieces, never buffered beyond the limit
        out += f.feed(b"z" * 512)
        assert f.pending() <= p.MAX_LINE
    out += f.feed(b'zz\n{"id":1}\n')
    assert out == [None, b'{"id":1}']


def test_parse_request_reads_id_cmd_and_arguments():
    req_id, cmd, req = p.parse_request(b'{"id": 7, "cmd": "token", "token": "1"}')
    assert (req_id, cmd, req["token"]) == (7, "token", "1")
    assert p.parse_request(b'{"id": "a-1", "cmd": "hello"}')[0] == "a-1"


def _code(line):
    exc = support.raises(p.CommandError, p.parse_request, line)
    return exc.code, exc.req_id


def test_parse_request_errors_carry_a_code_and_the_id_when_known():
    assert _code(b"{not json") == (p.BAD_JSON, None)
    assert _code(b"\xff\xfe{}") == (p.BAD_JSON, None)
    assert _code(b"[1, 2]") == (p.BAD_REQUEST, None)
    assert _code(b'{"cmd": "hello"}') == (p.BAD_REQUEST, None)
    assert _code(b'{"id": true, "cmd": "hello"}') == (p.BAD_REQUEST, None)
    assert _code(b'{"id": 1.5, "cmd": "hello"}') == (p.BAD_REQUEST, None)
    assert _code(b'{"id": "' + b"x" * 41 + b'", "cmd": "hello"}') == (p.BAD_REQUEST, None)
    assert _code(b'{"id": 3}') == (p.BAD_REQUEST, 3)
    assert _code(b'{"id": 4, "cmd": 5}') == (p.BAD_REQUEST, 4)


def test_encoded_lines_are_single_json_lines():
    line = p.encode_error(9, p.BAD_ARGUMENT, "watts must be an integer")
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {
        "id": 9,
        "ok": False,
        "error": "bad_argument",
        "message": "watts must be an integer",
    }
    assert json.loads(p.encode_response(1, {"x": 1})) == {"id": 1, "ok": True, "result": {"x": 1}}
    assert json.loads(p.encode_event({"event": "boot", "seq": 1}))["event"] == "boot"


def test_argument_helpers_reject_wrong_types_and_ranges():
    assert p.arg_int({"n": 5}, "n", 0, 10) == 5
    assert p.arg_int({}, "n", 0, 10, 3) == 3
    for bad in ({"n": True}, {"n": 1.0}, {"n": "5"}, {"n": 11}, {}):
        assert support.raises(p.CommandError, p.arg_int, bad, "n", 0, 10).code == p.BAD_ARGUMENT
    assert p.arg_bool({"b": False}, "b") is False
    assert support.raises(p.CommandError, p.arg_bool, {"b": 0}, "b").code == p.BAD_ARGUMENT
    assert p.arg_hex({"k": "00ff"}, "k", 2) == b"\x00\xff"
    assert support.raises(p.CommandError, p.arg_hex, {"k": "zz"}, "k", 2).code == p.BAD_ARGUMENT
    assert (
        support.raises(p.CommandError, p.arg_hex, {"k": "00ff00"}, "k", 2).code == p.BAD_ARGUMENT
    )
    assert support.raises(p.CommandError, p.arg_str, {"s": "abc"}, "s", 2).code == p.BAD_ARGUMENT
    assert p.arg_choice({"u": "kwh"}, "u", ("kwh", "currency")) == "kwh"
