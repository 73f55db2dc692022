"""The bounded caches of the SQL engine's web processes (parsed statements, translations, catalogs)."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class WeightedLRU(Generic[V]):
    """Entries within a budget of weight, the least recently used dropped first.

    Memory is bounded by construction: each entry weighs what its caller says it costs (or what
    ``weigh`` says of its value), and one weighing more than a fortieth of the budget is not kept,
    so a single huge entry never empties the cache. Thread-safe: gunicorn's threads share one per
    process.
    """

    def __init__(self, max_weight: int, weigh: Callable[[V], int] | None = None) -> None:
        self.max_weight = max_weight
        self._weigh = weigh
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V, weight: int | None = None) -> None:
        if weight is None:
            weight = self._weigh(value) if self._weigh is not None else 1
        if weight > self.max_weight // 40:
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = (value, weight)
            self._weight += weight
            while self._weight > self.max_weight:
                _, (_, gone) = self._entries.popitem(last=False)
                self._weight -= gone

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._drop(key)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._weight -= entry[1]

    @property
    def weight(self) -> int:
        return self._weight
