"""Host-only STS-compatible parts: decoder-key generation (DES, HMAC) and table generation.

The meter never imports this package; it holds only a decoder key (docs/sts.md).
"""
