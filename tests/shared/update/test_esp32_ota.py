"""The ESP32 slot writer's pure part (firmware/hal/esp32_ota.py) on both interpreters, against
a partition that keeps NOR rules: whole blocks, erased before written, the image intact."""

from support import raises

from firmware.hal import esp32_ota


class NorPartition:
    """esp32.Partition's block protocol and info() over bytes; a write to unerased flash fails."""

    def __init__(self, blocks, label="ota_1"):
        self.data = bytearray(b"\x00" * (blocks * 4096))  # not erased: old image bytes
        self.label = label
        self.erases = []

    def info(self):
        return (0, 0x11, 0x190000, len(self.data), self.label, False)

    def ioctl(self, op, arg):
        assert op == 6
        self.erases.append(arg)
        self.data[arg * 4096 : (arg + 1) * 4096] = b"\xff" * 4096

    def writeblocks(self, block, buf, offset):
        at = block * 4096 + offset
        for i in range(len(buf)):
            assert self.data[at + i] == 0xFF, "write to unerased flash"
        self.data[at : at + len(buf)] = buf


def test_an_image_is_written_whole_in_erased_blocks():
    part = NorPartition(4)
    image = bytes((i * 7) & 0xFF for i in range(4096 * 2 + 1000))
    slot = esp32_ota.OtaSlot(part, len(image))
    assert slot.name == "ota_1"
    for at in range(0, len(image), 672):
        slot.write(at, image[at : at + 672])
    slot.commit()
    assert part.erases == [0, 1, 2]
    assert bytes(part.data[: len(image)]) == image
    assert bytes(part.data[len(image) : 3 * 4096]) == b"\xff" * (3 * 4096 - len(image))
    assert bytes(part.data[3 * 4096 :]) == b"\x00" * 4096  # past the image: untouched
    slot.discard()
    assert bytes(part.data[:4096]) == b"\xff" * 4096  # no longer an app image


def test_too_big_or_wrong_kind_is_refused_before_any_erase():
    part = NorPartition(2)
    raises(ValueError, esp32_ota.OtaSlot, part, 2 * 4096 + 1)
    assert part.erases == []
    raises(ValueError, esp32_ota.check_kind, "mpy")
    esp32_ota.check_kind("esp32-app")


def test_trial_marker():
    path = "/tmp/prepay-ota-trial-test"
    esp32_ota.end_trial(path)
    assert not esp32_ota.on_trial(path)
    esp32_ota.start_trial("ota_1", path)
    assert esp32_ota.on_trial(path)
    esp32_ota.end_trial(path)
    assert not esp32_ota.on_trial(path)
