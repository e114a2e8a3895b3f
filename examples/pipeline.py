"""A file-processing pipeline: download -> process -> upload, each step a state of a lane machine.

Three lanes (``lane-1..3``, children of the ``pipeline`` machine) take files one after another.
The steps are **Auto** states chained by **Require**: ``Downloading`` starts on its own once a file
is assigned, ``Processing`` once it is downloaded *and* the pipeline granted a processing slot,
``Uploading`` once processed, ``Done`` once uploaded. Removing ``FileAssigned`` drops the whole
chain at once, because every later step requires an earlier one.

What it shows in am-dbg:
- auto transitions, and canceled ones: ``Processing`` waits for ``SlotGranted`` (only two lanes
  may process at once), so some auto transitions are rejected by the Require relation;
- queued mutations: the pipeline grants slots from its handlers, while the lane is mid-transition;
- multi states re-activated (``FileQueued``, ``SlotRequested``, ``SlotReleased`` on the pipeline);
- canceled by negotiation: ``FileQueuedEnter`` refuses new files while the backlog is full;
- errors: downloads fail with ``ErrNetwork`` and are retried with a backoff; corrupt files raise
  inside ``ProcessingState``, which becomes the ``Exception`` state with its stack trace;
- parent/child machines and tags (``file``, ``lane:N``, ``pipeline``);
- an ``async def`` final handler (``UploadingState``) run as a task under its state's context.

Run: ``python examples/pipeline.py`` (``-v`` prints the log; ``AM_DBG_ADDR=1`` streams to am-dbg).
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque

from kit import Example, run

from am_core import ARG_EXCEPTION, Event, ExceptionHandler, LogLevel, Machine, State
from am_core.states import BasicStates

SLOTS = 2  # lanes allowed to process at the same time
BACKLOG = 4  # files waiting for a lane before FileQueued refuses more
RETRIES = 3  # download attempts per file


class LaneStates(BasicStates):
    """One file at a time moves through the chain; each step requires the previous one."""

    # an error stops the running step and keeps the auto steps from starting until it is cleared
    Exception = State(multi=True, remove=["Downloading", "Processing", "Uploading"])

    FileAssigned = State(require=["Start"], tags=["file"])
    Downloading = State(auto=True, require=["FileAssigned"])
    Downloaded = State(require=["FileAssigned"], remove=["Downloading"])
    SlotGranted = State(require=["Downloaded"])
    Processing = State(auto=True, require=["Downloaded", "SlotGranted"])
    Processed = State(require=["Downloaded"], remove=["Processing"])
    Uploading = State(auto=True, require=["Processed"])
    Uploaded = State(require=["Processed"], remove=["Uploading"])
    Done = State(auto=True, require=["Uploaded"])
    Failed = State(require=["FileAssigned"], remove=["Downloading", "Processing", "Uploading"])


class PipelineStates(BasicStates):
    """Hands files to lanes and processing slots to lanes."""

    FileQueued = State(multi=True, require=["Start"])
    SlotRequested = State(multi=True, require=["Start"])
    SlotReleased = State(multi=True, require=["Start"])
    FileDone = State(multi=True)
    FileFailed = State(multi=True)
    Saturated = State(require=["Start"])  # every slot is taken


class Lane(ExceptionHandler):
    """Handlers of a lane: the work of each step runs as a task under that step's state context."""

    def __init__(self, ex: Example, pipe: Pipeline, mach: Machine) -> None:
        self.ex = ex
        self.pipe = pipe
        self.mach = mach
        self.attempts = 0

    def path(self) -> str:
        return str(self.pipe.assigned.get(self.mach.id, "?"))

    def FileAssignedState(self, e: Event) -> None:
        self.attempts = 0

    def DownloadingState(self, e: Event) -> None:
        self.attempts += 1
        path, attempt = self.path(), self.attempts
        delay = self.ex.rng.uniform(0.05, 0.25)
        fail = self.ex.rng.random() < 0.25

        async def download() -> None:
            await asyncio.sleep(delay)
            try:
                if fail:
                    raise ConnectionResetError(f"download of {path} reset (attempt {attempt})")
            except ConnectionResetError:
                self.mach.panic_to_err_state("ErrNetwork", {"path": path})
                return
            self.mach.add1("Downloaded", {"path": path, "size": int(delay * 10_000)})

        self.mach.fork(self.mach.new_state_ctx("Downloading"), e, download)

    def DownloadedState(self, e: Event) -> None:
        # a cross-machine call from a handler: the grant comes back as a queued mutation
        self.pipe.mach.add1("SlotRequested", {"id": self.mach.id})

    def ProcessingState(self, e: Event) -> None:
        path = self.path()
        if path.endswith(".corrupt"):
            # an exception in a final handler becomes the Exception state, with its stack trace
            raise ValueError(f"cannot parse {path}: unexpected byte 0x00 at offset 512")
        delay = self.ex.rng.uniform(0.05, 0.2)

        async def process() -> None:
            await asyncio.sleep(delay)
            self.mach.add1("Processed", {"path": path})

        self.mach.fork(self.mach.new_state_ctx("Processing"), e, process)

    def ProcessedState(self, e: Event) -> None:
        self.pipe.mach.add1("SlotReleased", {"id": self.mach.id})

    async def UploadingState(self, e: Event) -> None:
        # an async final handler: a task under Uploading's state context (e.ctx), cancelled if
        # the file is dropped meanwhile (the same as forking a coroutine, without the fork)
        path = self.path()
        await asyncio.sleep(self.ex.rng.uniform(0.05, 0.2))
        self.mach.add1("Uploaded", {"path": path})

    def DoneState(self, e: Event) -> None:
        self.mach.log("done %s", self.path())
        self.pipe.mach.add1("FileDone", {"id": self.mach.id, "path": self.path()})

    def FailedState(self, e: Event) -> None:
        self.pipe.mach.add1("FileFailed", {"id": self.mach.id, "path": self.path()})

    def ExceptionState(self, e: Event) -> None:
        super().ExceptionState(e)  # logs "[error] ..." with the stack trace
        exc = e.args.get(ARG_EXCEPTION)
        err = getattr(exc, "err", None)
        if isinstance(err, ConnectionError) and self.attempts < RETRIES:
            # retry: clearing the error lets the auto state Downloading start again
            backoff = 0.1 * 2**self.attempts
            self.mach.go_after(None, backoff, lambda: self.mach.remove(["Exception", "ErrNetwork"]))
            return
        self.mach.log("giving up on %s: %s", self.path(), err)
        if self.mach.is1("SlotGranted"):
            self.pipe.mach.add1("SlotReleased", {"id": self.mach.id})
        # Failed first: it blocks the auto steps, so clearing the error cannot restart them
        self.mach.add1("Failed", {"err": str(err)})
        self.mach.remove(["Exception", "ErrNetwork", "SlotGranted"])


class Pipeline(ExceptionHandler):
    """Handlers of the pipeline: a backlog of files and a fixed number of processing slots."""

    def __init__(self, ex: Example) -> None:
        self.ex = ex
        self.mach = ex.track(
            Machine(PipelineStates.schema(), id="pipeline", tags=["pipeline"]), LogLevel.DECISIONS
        )
        self.mach.verify_states(PipelineStates.names())
        self.backlog: deque[str] = deque()
        self.waiting: deque[str] = deque()  # lanes waiting for a processing slot
        self.slots: set[str] = set()
        self.assigned: dict[str, str] = {}
        self.lanes: dict[str, Machine] = {}
        self.done = 0
        self.failed = 0

    def FileQueuedEnter(self, e: Event) -> bool:
        return len(self.backlog) < BACKLOG  # backpressure: the producer retries later

    def FileQueuedState(self, e: Event) -> None:
        self.backlog.append(e.args["path"])
        self.assign()

    def SlotRequestedState(self, e: Event) -> None:
        self.waiting.append(e.args["id"])
        self.grant()

    def SlotReleasedState(self, e: Event) -> None:
        self.slots.discard(e.args["id"])
        self.mach.remove1("Saturated")
        self.grant()

    def FileDoneState(self, e: Event) -> None:
        self.done += 1
        self.release(e.args["id"])

    def FileFailedState(self, e: Event) -> None:
        self.failed += 1
        self.release(e.args["id"])

    def grant(self) -> None:
        while self.waiting and len(self.slots) < SLOTS:
            lane = self.waiting.popleft()
            self.slots.add(lane)
            self.lanes[lane].add1("SlotGranted")
        if len(self.slots) >= SLOTS:
            self.mach.add1("Saturated")

    def release(self, lane_id: str) -> None:
        # the whole chain goes with FileAssigned (Require); the lane is free again
        self.assigned.pop(lane_id, None)
        self.lanes[lane_id].remove(["FileAssigned", "Failed"])
        self.assign()

    def assign(self) -> None:
        for lane_id, lane in self.lanes.items():
            if not self.backlog:
                return
            if lane_id not in self.assigned:
                path = self.backlog.popleft()
                self.assigned[lane_id] = path
                lane.add1("FileAssigned", {"path": path})


async def main(ex: Example) -> str:
    loop = asyncio.get_running_loop()
    pipe = Pipeline(ex)
    pipe.mach.handlers_bind(pipe, id="pipeline")
    for n in range(1, 4):
        lane = Machine(
            LaneStates.schema(),
            id=f"lane-{n}",
            parent=pipe.mach,
            tags=["file", f"lane:{n}"],
            loop=loop,
        )
        lane.verify_states(LaneStates.names())
        ex.track(lane, LogLevel.EVERYTHING if n == 1 else LogLevel.DECISIONS, ("size",))
        lane.handlers_bind(Lane(ex, pipe, lane), id="lane")
        lane.add1("Start")
        pipe.lanes[lane.id] = lane
    pipe.mach.add1("Start")
    queued = refused = 0
    while not ex.stop.is_set():
        queued += 1
        kind = "corrupt" if queued % 7 == 0 else "csv"
        path = f"/data/in/{queued:04d}.{kind}"
        while pipe.mach.add1("FileQueued", {"path": path}) != 0:  # 0 = executed
            refused += 1
            if not await ex.sleep(0.1):
                break
        # the first files arrive as one batch (a directory listing), the rest one by one
        pause = 0.0 if queued < 2 * BACKLOG else ex.rng.uniform(0.05, 0.2)
        if not await ex.sleep(pause):
            break
    return (
        f"pipeline: {pipe.done} files done, {pipe.failed} failed, {refused} refused by backpressure"
    )


if __name__ == "__main__":
    sys.exit(run(main, __doc__))
