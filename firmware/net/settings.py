"""The meter's network settings: one small JSON file beside the firmware (`/net.json` on a
board, `net.json` in the simulator's state folder), written by the `provision` or
`net.set` command. No file: the meter works exactly as a keypad-only meter and never imports
the MQTT client.

Fields (docs/interfaces.md, Online meters): `broker` ("mqtt://host:port", "mqtts://..."),
`user`/`password` (the broker login; the user defaults to the meter number), `ssid`/`wifi_password`
(ESP32 station mode; the simulator ignores them), `ca` (PEM of the broker's CA, for mqtts).
`public()` is what `status` shows: never a password or the CA.
"""

import json

_FIELDS = ("broker", "user", "password", "ssid", "wifi_password", "ca")
_SECRET = ("password", "wifi_password", "ca")
_MAX_FIELD = 4000  # a PEM CA certificate fits; anything longer is a mistake


def parse_broker(url):
    """("host", port, tls) from "mqtt://host[:port]" or "mqtts://host[:port]"; ValueError."""
    if not isinstance(url, str):
        raise ValueError("broker must be a URL like mqtt://host:1883")
    if url.startswith("mqtt://"):
        rest, tls, port = url[7:], False, 1883
    elif url.startswith("mqtts://"):
        rest, tls, port = url[8:], True, 8883
    else:
        raise ValueError("broker must start with mqtt:// or mqtts://")
    rest = rest.rstrip("/")
    if ":" in rest:
        rest, text = rest.rsplit(":", 1)
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise ValueError("broker port must be a number from 1 to 65535")
        port = int(text)
    if not rest:
        raise ValueError("broker has no host")
    return rest, port, tls


def check(settings):
    """A clean copy of `settings` (dict of strings), or ValueError saying what is wrong."""
    if not isinstance(settings, dict):
        raise ValueError("network settings must be an object")
    out = {}
    for name in settings:
        if name not in _FIELDS:
            raise ValueError("unknown network setting " + str(name)[:40])
        value = settings[name]
        if not isinstance(value, str) or len(value) > _MAX_FIELD:
            raise ValueError(
                "network setting %s must be text up to %d characters" % (name, _MAX_FIELD)
            )
        out[name] = value
    parse_broker(out.get("broker"))
    if "ca" in out:
        ca_der(out["ca"])
    return out


def load(path):
    """The stored settings, or None when the meter has none (or the file is unreadable)."""
    try:
        with open(path) as f:
            return check(json.loads(f.read()))
    except (OSError, ValueError):
        return None


def save(path, settings):
    """Write checked settings atomically (a temporary file, then rename)."""
    import os

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(settings))
    os.rename(tmp, path)


def public(settings):
    """The settings without secrets: safe for `status`, events and logs."""
    out = {}
    for name in settings:
        if name not in _SECRET:
            out[name] = settings[name]
    return out


def ca_der(pem):
    """The first certificate of a PEM text as DER bytes: MicroPython's TLS (mbedTLS) takes
    `cadata` as DER (a PEM string is refused as "invalid cert"). ValueError if there is none."""
    from binascii import a2b_base64

    begin = pem.find("-----BEGIN CERTIFICATE-----")
    end = pem.find("-----END CERTIFICATE-----")
    if begin < 0 or end < begin:
        raise ValueError("ca must be a PEM certificate")
    body = pem[begin + 27 : end]
    return a2b_base64("".join(body.split()))
