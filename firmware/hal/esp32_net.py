"""Wi-Fi station mode for the ESP32 HAL: `network.WLAN`, reconnect with a backoff.

Imported only by the MQTT link's HAL hooks, i.e. only on a meter with network settings.
`ready()` is called every network poll (~50 ms): it never waits; a join in progress or a lost
access point just means "not yet", and a new `connect()` is issued after 1 s, doubling to 60 s.
Nothing here prints or logs the password.
"""

import time

import network

_BACKOFF_MIN_MS = 1000
_BACKOFF_MAX_MS = 60000


class Wifi:
    def __init__(self, ssid, password):
        self.ssid = ssid
        self.password = password
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        self.backoff = _BACKOFF_MIN_MS
        self.next_try = time.ticks_ms()
        self.joins = 0

    def ready(self):
        """True when the station has an IP address; otherwise (re)join when the backoff says."""
        if self.wlan.isconnected():
            self.backoff = _BACKOFF_MIN_MS
            return True
        now = time.ticks_ms()
        if time.ticks_diff(now, self.next_try) >= 0:
            try:
                self.wlan.disconnect()
                self.wlan.connect(self.ssid, self.password)  # returns at once; joins meanwhile
                self.joins += 1
            except OSError:
                pass
            self.next_try = time.ticks_add(now, self.backoff)
            self.backoff = min(self.backoff * 2, _BACKOFF_MAX_MS)
        return False
