"""A value loaded on first use and reused for a while by every request a container serves (thread-safe)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Expiring(Generic[T]):
    """Holds what `load` returned for `max_age_seconds`; `forget` drops it (after a change this container made)."""

    def __init__(self, max_age_seconds: float) -> None:
        self.max_age_seconds = max_age_seconds
        self._lock = threading.Lock()
        self._loaded: tuple[float, T] | None = None

    def get(self, load: Callable[[], T], *, max_age_seconds: float | None = None) -> T:
        max_age = self.max_age_seconds if max_age_seconds is None else max_age_seconds
        now = time.monotonic()
        with self._lock:
            if self._loaded is not None and now - self._loaded[0] < max_age:
                return self._loaded[1]
        value = load()  # outside the lock: a slow load does not hold up readers of a fresh value
        with self._lock:
            self._loaded = (now, value)
        return value

    def forget(self) -> None:
        with self._lock:
            self._loaded = None
