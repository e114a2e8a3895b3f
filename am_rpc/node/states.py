"""Schemas of the node machines: supervisor, worker and client (docs/workers.md)."""

from __future__ import annotations

from am_core import State
from am_core.states import BasicStates


class WorkerStates(BasicStates):
    """A worker process: runs jobs sent by its client, answers the supervisors' heartbeats."""

    ErrOnClient = State(require=["Exception"])  # required by aRPC for a source with handlers
    ServerPayload = State(multi=True)
    WorkRequested = State(multi=True, require=["Ready"])
    """A client asks for a job: args ``job``, ``fn``, ``args``, ``kwargs``, ``client``."""
    Working = State(require=["Ready"])
    JobDone = State(multi=True)
    SupervisorSeen = State(multi=True)
    """A supervisor's heartbeat arrived (args ``sup``); an orphan worker exits on its own."""


class SupervisorStates(BasicStates):
    """Keeps the pool: spawning, health, hand-outs; ``Active`` only in the supervisor holding the lock."""

    ErrOnClient = State(require=["Exception"])
    ServerPayload = State(multi=True)
    Active = State(require=["Start"], remove=["Standby"])
    Standby = State(require=["Start"], remove=["Active"])
    PoolReady = State(require=["Active"])
    """At least ``min`` workers are ready."""
    WorkerSpawned = State(multi=True, require=["Active"])
    WorkerReady = State(multi=True, require=["Active"])
    WorkerLost = State(multi=True)
    WorkerRetired = State(multi=True)
    WorkerRequested = State(multi=True, require=["Active"])
    """A client asks for a worker (args ``client``); refused by a standby supervisor."""
    WorkerGiven = State(multi=True)
    WorkerReleased = State(multi=True, require=["Active"])
    TookOver = State(multi=True)


class ClientStates(BasicStates):
    """A pool client: gets a worker from a supervisor and sends it jobs directly."""

    ServerPayload = State(multi=True)  # where aRPC delivers the supervisor's and worker's payloads
    WorkerAssigned = State(require=["Start"])
    JobSent = State(multi=True)
    JobResult = State(multi=True)
    WorkerFailed = State(multi=True)
