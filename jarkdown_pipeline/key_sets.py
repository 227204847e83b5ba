"""IssueKeySet: a set of issue keys at about a bit per issue number, for a window's keys.

A backfill's window holds tens of thousands of keys in several sets at once (the search's keys so
far, the keys renders take as arriving, the render process's copy, the last pass's lookups). As a
``set`` of ``str`` each key costs ~100 bytes per set; here a project's keys are one bitmap of their
numbers (a window's keys are mostly runs of numbers), so a set of 100,000 keys is ~12 KiB. Kept
apart from ``issue_keys`` on purpose: that module is part of the renderer's fingerprint.
"""

import base64
import heapq
from collections.abc import Iterable, Iterator, Mapping, MutableSet
from typing import Any

# A project's bitmap may reach this many bytes whatever it holds, and beyond that a few bytes per
# key it holds: a key numbered far past its project's others (a hostile ABC-99999999999) is kept
# as a plain string instead of growing the bitmap to its number.
_BITMAP_FREE_BYTES = 8192
_BITMAP_BYTES_PER_KEY = 8


def _project_and_number(key: object) -> tuple[str, int] | None:
    """(project, number) of a key that its bitmap gives back exactly (``ABC-12``, not ``ABC-012``)."""
    if not isinstance(key, str):
        return None
    project, _, digits = key.rpartition("-")
    if not project or not digits.isascii() or not digits.isdigit() or (digits[0] == "0" and len(digits) > 1):
        return None
    return project, int(digits)


def _order(key: str) -> tuple[str, int, str]:
    """``issue_sort_key``, also for strings that are not keys (``A-²`` has no number)."""
    project, _, digits = key.rpartition("-")
    if project and digits.isascii() and digits.isdigit():
        return (project, int(digits), key)
    return (key, -1, key)


class IssueKeySet(MutableSet[str]):
    """A mutable set of issue keys (any strings are accepted; odd ones are kept as they are).

    Iterates in ``issue_sort_key`` order. ``as_data()`` / ``from_data()`` give a compact JSON form.
    """

    __slots__ = ("_bits", "_counts", "_other", "_size")

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._bits: dict[str, bytearray] = {}
        self._counts: dict[str, int] = {}
        self._other: set[str] = set()
        self._size = 0
        for key in keys:
            self.add(key)

    def __contains__(self, key: object) -> bool:
        split = _project_and_number(key)
        return (split is not None and self._has_bit(*split)) or key in self._other

    def _has_bit(self, project: str, number: int) -> bool:
        bits = self._bits.get(project)
        byte, bit = divmod(number, 8)
        return bits is not None and byte < len(bits) and bool(bits[byte] >> bit & 1)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[str]:
        in_bitmaps = self._bitmap_keys()
        if not self._other:
            return in_bitmaps
        return heapq.merge(in_bitmaps, sorted(self._other, key=_order), key=_order)

    def _bitmap_keys(self) -> Iterator[str]:
        for project in sorted(self._bits):
            for index, byte in enumerate(self._bits[project]):
                if byte:
                    for bit in range(8):
                        if byte >> bit & 1:
                            yield f"{project}-{index * 8 + bit}"

    def add(self, key: str) -> None:
        split = _project_and_number(key)  # once: a window's sets are built from thousands of keys
        if (split is not None and self._has_bit(*split)) or key in self._other:
            return
        if split is None or not self._set_bit(*split):
            self._other.add(key)
        self._size += 1

    def _set_bit(self, project: str, number: int) -> bool:
        """Set the number's bit, growing the project's bitmap within its bound; False beyond it."""
        byte, bit = divmod(number, 8)
        bits = self._bits.get(project)
        if bits is None or byte >= len(bits):
            held = self._counts.get(project, 0)
            if byte >= _BITMAP_FREE_BYTES + _BITMAP_BYTES_PER_KEY * held:
                return False
            if bits is None:
                bits = self._bits[project] = bytearray()
            # Doubling: a window adds its keys in rising order, one byte at a time.
            bits.extend(bytes(max(byte + 1, 2 * len(bits)) - len(bits)))
        bits[byte] |= 1 << bit
        self._counts[project] = self._counts.get(project, 0) + 1
        return True

    def update(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.add(key)

    def discard(self, key: str) -> None:
        if key not in self:
            return
        self._size -= 1
        if key in self._other:
            self._other.discard(key)
            return
        project, number = _project_and_number(key)  # type: ignore[misc]  # in a bitmap, so it splits
        byte, bit = divmod(number, 8)
        self._bits[project][byte] &= ~(1 << bit) & 0xFF
        self._counts[project] -= 1

    def projects(self) -> set[str]:
        """The project part (before the last ``-``) of every key held."""
        return {project for project, count in self._counts.items() if count} | {
            key.rpartition("-")[0] for key in self._other
        }

    def as_data(self) -> dict[str, Any]:
        """The set as JSON-ready data (each bitmap in base64): a few bytes per key sent to a child process."""
        return {
            "bitmaps": {project: base64.b64encode(bits.rstrip(b"\0")).decode() for project, bits in self._bits.items()},
            "other": sorted(self._other),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "IssueKeySet":
        """The set ``as_data()`` described."""
        keys = cls(data.get("other", ()))
        for project, encoded in data.get("bitmaps", {}).items():
            bits = bytearray(base64.b64decode(encoded, validate=True))
            count = sum(byte.bit_count() for byte in bits)
            if count:
                keys._bits[project] = bits
                keys._counts[project] = count
                keys._size += count
        return keys

    @classmethod
    def _from_iterable(cls, keys: Iterable[str]) -> "IssueKeySet":
        return cls(keys)

    def __repr__(self) -> str:
        return f"IssueKeySet({len(self)} keys)"
