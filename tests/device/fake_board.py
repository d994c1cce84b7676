"""An in-memory board for deploy tests: the same methods as deploy.MpremoteBoard."""

import hashlib


class FakeBoard:
    """A board filesystem in a dict. `corrupt` makes writes to those paths store wrong bytes."""

    def __init__(self, mpy_abi=None, files=None, state=(), corrupt=()):
        self.abi = mpy_abi
        self.files = dict(files or {})
        self.dirs = set()
        self.state = set(state)
        self.corrupt = set(corrupt)
        self.writes = []
        self.resets = 0

    def mpy_abi(self):
        return self.abi

    def hashes(self, paths):
        return {
            p: hashlib.sha256(self.files[p]).hexdigest() if p in self.files else None
            for p in paths
        }

    def list_files(self, roots):
        prefixes = tuple("/" + r + "/" for r in roots)
        return sorted(p for p in self.files if p.startswith(prefixes))

    def makedirs(self, path):
        self.dirs.add(path)

    def write(self, path, data):
        parent = path.rsplit("/", 1)[0]
        assert parent == "" or parent in self.dirs, f"{parent} was not created before {path}"
        self.writes.append(path)
        self.files[path] = data + b"!" if path in self.corrupt else data

    def remove(self, path):
        del self.files[path]

    def meter_state(self):
        return sorted(self.state)

    def wipe_meter_state(self):
        gone, self.state = sorted(self.state), set()
        return gone

    def reset(self):
        self.resets += 1
