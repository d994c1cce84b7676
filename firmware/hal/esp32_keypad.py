"""4×4 keypad matrix decoding and debouncing, pure (the ESP32 HAL feeds it raw scans).

The HAL drives one row low at a time and reads the four column inputs (pulled up, so a
pressed key reads 0). `scan_bitmap` folds the column readings of one full scan into a 16-bit
map of pressed keys; `KeypadDebouncer.feed` turns a stream of such maps into key presses.

Debounce rule: a key counts once, when the same single key has been seen in `stable_scans`
consecutive scans after the pad was released for `stable_scans` scans. Two or more keys at
once (a ghosting matrix or a palm on the pad) count as nothing. Holding a key does not
repeat it. The inter-digit timeout is the app's business; this module only reports presses.
"""

# Row-major layout of the common 4×4 membrane keypad.
DEFAULT_KEYMAP = "123A456B789C*0#D"
_NONE = -1
_MANY = -2


def scan_bitmap(rows):
    """A 16-bit map of pressed keys from one scan: `rows[r]` = the 4 column levels read
    while row r was driven low, as a 4-bit int (bit c = column c, 0 = pressed)."""
    bitmap = 0
    shift = 0
    for levels in rows:
        bitmap |= (~levels & 0xF) << shift
        shift += 4
    return bitmap


def key_index(bitmap):
    """The index (row * 4 + col) of the one pressed key, -1 for none, -2 for several."""
    if bitmap == 0:
        return _NONE
    if bitmap & (bitmap - 1):
        return _MANY
    index = 0
    while not bitmap & 1:
        bitmap >>= 1
        index += 1
    return index


class KeypadDebouncer:
    """Turns successive scan bitmaps into key presses, kept in a small ring until taken."""

    def __init__(self, keymap=DEFAULT_KEYMAP, stable_scans=3, capacity=32):
        if len(keymap) != 16:
            raise ValueError("a 4x4 keymap has 16 keys, got %d" % len(keymap))
        if stable_scans < 1:
            raise ValueError("stable_scans must be >= 1")
        self._codes = keymap.encode()
        self.stable_scans = stable_scans
        self._ring = bytearray(capacity)
        self._head = 0  # next slot to write
        self._count = 0
        self.dropped = 0  # presses lost because nobody read the ring
        self._candidate = _NONE
        self._seen = 0
        self._released = True

    def feed(self, bitmap):
        """Account one scan; allocation-free so it can run in a timer callback."""
        key = key_index(bitmap)
        if key == self._candidate:
            if self._seen < self.stable_scans:
                self._seen += 1
        else:
            self._candidate = key
            self._seen = 1
        if self._seen < self.stable_scans:
            return
        if key == _NONE:
            self._released = True
        elif key >= 0 and self._released:
            self._released = False
            self._push(self._codes[key])

    def _push(self, code):
        if self._count == len(self._ring):
            self.dropped += 1
            return
        self._ring[self._head] = code
        self._head = (self._head + 1) % len(self._ring)
        self._count += 1

    def take(self):
        """The keys pressed since the last call, oldest first ("" when none)."""
        # `feed` may run (from a scheduled timer callback) between any two loop iterations
        # here, so take a snapshot first and give back only what was read. A single
        # `-=` has no branch, so MicroPython's scheduler cannot run a callback inside it.
        head, count = self._head, self._count
        if not count:
            return ""
        size = len(self._ring)
        start = (head - count) % size
        out = bytearray(count)
        for i in range(count):
            out[i] = self._ring[(start + i) % size]
        self._count -= count
        return out.decode()
