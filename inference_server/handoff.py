"""Items from a worker thread to the event loop, waking the loop only when it waits
(not once per item), which leaves CPU for the model threads."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

END = object()  # put by the producer when it is done


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Cancelled(Protocol):
    @property
    def cancelled(self) -> bool: ...


class Handoff:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: Any) -> None:
        """Worker thread side."""
        with self._lock:
            self._items.append(item)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            try:
                self._loop.call_soon_threadsafe(_wake, waiter)
            except RuntimeError:
                pass  # the loop is closed: nobody is listening any more

    async def take_all(self) -> list[Any]:
        """Loop side: everything queued so far, waiting if there is nothing."""
        while True:
            with self._lock:
                if self._items:
                    items = list(self._items)
                    self._items.clear()
                    return items
                waiter = self._waiter = self._loop.create_future()
            await waiter

    def pump(self, items: Iterable[Any], cancel: Cancelled) -> None:
        """Worker thread: hand over every item (or the error), then END; stop early
        once ``cancel`` says so."""
        try:
            for item in items:
                self.put(item)
                if cancel.cancelled:
                    break
        except BaseException as exc:
            self.put(exc)
        finally:
            self.put(END)

    async def items(self) -> AsyncIterator[Any]:
        """Loop side: the items one by one; an error from the worker is raised here."""
        while True:
            for item in await self.take_all():
                if item is END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
