"""4x4 keypad matrix decoding and debouncing of the ESP32 HAL (both interpreters)."""

import support

from firmware.hal.esp32_keypad import DEFAULT_KEYMAP, KeypadDebouncer, key_index, scan_bitmap

ALL_UP = bytearray((0xF, 0xF, 0xF, 0xF))  # pulled-up columns read 1 when nothing is pressed


def _press(row, col):
    """The column levels of one scan with the key at (row, col) held down."""
    levels = bytearray(ALL_UP)
    levels[row] &= ~(1 << col) & 0xF
    return levels


def _feed(deb, scans):
    for levels in scans:
        deb.feed(scan_bitmap(levels))


def test_bitmap_and_index_of_each_key():
    for row in range(4):
        for col in range(4):
            bitmap = scan_bitmap(_press(row, col))
            assert bitmap == 1 << (row * 4 + col)
            assert key_index(bitmap) == row * 4 + col
    assert key_index(scan_bitmap(ALL_UP)) == -1
    two = bytearray(ALL_UP)
    two[1] = 0b1100  # two keys in one row
    assert key_index(scan_bitmap(two)) == -2


def test_keymap_is_the_usual_membrane_layout():
    # Row 0 is "1 2 3 A", row 3 is "* 0 # D".
    assert DEFAULT_KEYMAP[0:4] == "123A" and DEFAULT_KEYMAP[12:16] == "*0#D"


def test_a_bouncy_press_counts_once():
    deb = KeypadDebouncer(stable_scans=3)
    five = _press(1, 1)
    # Contact bounce: on/off flicker shorter than 3 scans, then held, then bouncy release.
    _feed(deb, [five, ALL_UP, five, five, ALL_UP, five, five, five, five, five])
    _feed(deb, [ALL_UP, five, ALL_UP, ALL_UP, ALL_UP])
    assert deb.take() == "5"
    assert deb.take() == ""


def test_held_key_does_not_repeat_and_release_is_needed():
    deb = KeypadDebouncer(stable_scans=2)
    _feed(deb, [_press(0, 0)] * 200)
    assert deb.take() == "1"
    # Rolling straight from one key to another without a release is not a new press.
    _feed(deb, [_press(0, 1)] * 5)
    assert deb.take() == ""
    _feed(deb, [ALL_UP] * 2 + [_press(0, 1)] * 2)
    assert deb.take() == "2"


def test_two_keys_at_once_count_as_nothing():
    deb = KeypadDebouncer(stable_scans=2)
    both = _press(2, 0)
    both[3] &= 0b1101  # "7" and "0" together
    _feed(deb, [both] * 10 + [ALL_UP] * 3)
    assert deb.take() == ""


def test_sequence_of_digits_in_order():
    deb = KeypadDebouncer(stable_scans=2)
    positions = {ch: divmod(i, 4) for i, ch in enumerate(DEFAULT_KEYMAP)}
    typed = "0123456789ABCD*#"
    for ch in typed:
        _feed(deb, [_press(*positions[ch])] * 3 + [ALL_UP] * 3)
    assert deb.take() == typed


def test_full_ring_drops_newest_and_counts_them():
    deb = KeypadDebouncer(stable_scans=1, capacity=4)
    for _ in range(6):
        _feed(deb, [_press(3, 1), ALL_UP])
    assert deb.dropped == 2
    assert deb.take() == "0000"
    _feed(deb, [_press(3, 1), ALL_UP])
    assert deb.take() == "0"


def test_ring_wraps_around():
    deb = KeypadDebouncer(stable_scans=1, capacity=3)
    for round_ in range(5):
        _feed(deb, [_press(0, round_ % 3), ALL_UP, _press(1, round_ % 3), ALL_UP])
        assert deb.take() == "123"[round_ % 3] + "456"[round_ % 3]


def test_bad_keymap_or_stability():
    support.raises(ValueError, KeypadDebouncer, "123")
    support.raises(ValueError, KeypadDebouncer, DEFAULT_KEYMAP, 0)


def test_feed_allocates_nothing_on_micropython():
    try:
        import micropython
    except ImportError:
        support.skip("heap_lock is MicroPython-only")
        return
    deb = KeypadDebouncer(stable_scans=2)
    seven = _press(2, 0)
    feed = deb.feed
    micropython.heap_lock()
    try:
        for _ in range(10):
            feed(scan_bitmap(seven))
            feed(scan_bitmap(seven))
            feed(scan_bitmap(ALL_UP))
            feed(scan_bitmap(ALL_UP))
    finally:
        micropython.heap_unlock()
    assert deb.take() == "7" * 10
