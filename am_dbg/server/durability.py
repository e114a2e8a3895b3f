"""Acks that mean *durable*: a sender hears "I have it" only once every sink that is on holds it.

The ingest server numbers every event it queues for the model. An ack owed for a frame waits here
with the number of the last event that frame produced; it is released when the model has applied
that event and, with ``--record``, when the live recording was flushed after it (written and
flushed to the operating system: it survives a crash or SIGKILL of am-dbg, not a power cut; the
recording is fsync'd on close). A flush starts `flush_delay` (20 ms) after the first event
waiting for one and covers every ack owed by then: a flood costs one flush per round, not one per
frame, and a slow stream at most ~50 small chunks a second (docs/protocol.md, "Delivery").

Without a recorder (or once it failed and stopped), acks mean "in the model".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["AckGate", "Flushable"]

log = logging.getLogger("am_dbg.server")


class Flushable(Protocol):
    """What the gate needs of a recorder (`RecordingWriter`)."""

    error: str | None

    def flush(self) -> None: ...


class AckGate:
    """Releases owed acks once the events they cover are applied and flushed."""

    def __init__(
        self, recorder: Flushable | None, release: Callable[[int], None], flush_delay: float = 0.0
    ) -> None:
        self.recorder = recorder
        self.release = release  # called with the number of events now durable
        self.flush_delay = flush_delay
        self.applied = 0  # events applied to the model
        self.durable = 0  # events applied and flushed
        self.flushes = 0
        self._flushing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def recording(self) -> bool:
        return self.recorder is not None and self.recorder.error is None

    def on_applied(self, applied: int) -> None:
        """The model applied events up to ``applied`` (loop thread)."""
        self.applied = applied
        if applied <= self.durable:
            return
        if not self.recording:
            self._done(applied)
        elif not self._flushing:
            self._flushing = True
            if self.flush_delay > 0:  # gather a little more into the same chunk
                self._loop = self._loop or asyncio.get_running_loop()
                self._loop.call_later(self.flush_delay, self._start_flush)
            else:
                self._start_flush()

    def _start_flush(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._flushing = True
        target = self.applied
        rec = self.recorder
        assert rec is not None
        try:
            fut = self._loop.run_in_executor(None, rec.flush)
        except RuntimeError:  # the loop is shutting down (its executor is gone): flush here
            self._flushing = False
            self.flush_now()
            return
        fut.add_done_callback(lambda f: self._flushed(f, target))

    def _flushed(self, fut: asyncio.Future[Any], target: int) -> None:
        self._flushing = False
        self.flushes += 1
        if not fut.cancelled() and fut.exception() is not None:
            log.error("recording flush failed: %s", fut.exception())
        # a failed recording has said why (once) and stopped: from now on acks mean "in the model"
        self._done(target)
        if self.applied > self.durable:
            if self.recording:
                self._start_flush()
            else:
                self._done(self.applied)

    def flush_now(self) -> None:
        """Flush in this thread and release everything applied (on close / drain)."""
        if self.recording:
            assert self.recorder is not None
            self.recorder.flush()
        self._done(self.applied)

    def _done(self, upto: int) -> None:
        if upto > self.durable:
            self.durable = upto
            self.release(upto)
