"""Talking to meters over serial: the protocol client, flashing and deploying boards."""
