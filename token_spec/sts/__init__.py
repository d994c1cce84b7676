"""STS-compatible token codec (IEC 62055-41 classes 0/1/2, EA07 and EA11), meter and host.

Import the submodules you need; this package imports nothing, so a meter that only decodes
loads only `token_spec.sts.token` and what it uses. docs/sts.md describes what is supported.

    crc        CRC-16 and CRC_C            amount   0.1-unit and currency amount encodings
    tid        TID minutes, base dates, KEN digits   20 digits and the class-bit transposition
    sta        EA07 (STA), table-driven    misty1   EA11 (MISTY1, RFC 2994)
    token      token layouts: encode (host) and decode (meter)
"""
