"""A process's bounded memory of rendered text, for values that never change under their key.

The stored documents (`documents`) and the portal's session rows (`rows`) are kept here keyed by
a session's document revision, which names one state of one session and is never reused: an
entry can only ever be right or unused, so nothing is invalidated, only forgotten, least
recently used first, once the texts kept pass their budget. Plain dicts of strings: no
pickling (as Django's local-memory cache does for every read), a few microseconds for hundreds of
keys.
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable


class TextLRU:
    """Up to `budget` characters of text values (each value a string, or a tuple counted by the
    strings in it), least recently used forgotten first. Safe to share between threads."""

    def __init__(self, budget: int):
        self.budget = budget
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[Hashable]) -> dict:
        """The values kept for `keys`, by key (keys not kept are left out)."""
        found = {}
        with self._lock:
            entries = self._entries
            for key in keys:
                entry = entries.get(key)
                if entry is not None:
                    entries.move_to_end(key)
                    found[key] = entry[0]
        return found

    def set_many(self, items: Iterable[tuple[Hashable, object]]) -> None:
        """Keep each (key, value), then forget the least recently used past the budget."""
        with self._lock:
            for key, value in items:
                size = _size(value)
                if size > self.budget:
                    continue
                old = self._entries.pop(key, None)
                if old is not None:
                    self._size -= old[1]
                self._entries[key] = (value, size)
                self._size += size
            while self._size > self.budget:
                _, (_, size) = self._entries.popitem(last=False)
                self._size -= size

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._entries.clear()
            self._size = 0

    def __len__(self) -> int:
        return len(self._entries)


def _size(value) -> int:
    """The characters of a value: a string, or the strings in a tuple (nested or not)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, tuple):
        return sum(_size(part) for part in value)
    return 0
