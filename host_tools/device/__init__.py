"""Talking to meters over serial: the protocol client, flashing, deploying, the live monitor.

Only the serial protocol and the boards: nothing here imports the vending station.
Provisioning a meter from a station composes both and lives in host_tools/provisioning.py.
"""
