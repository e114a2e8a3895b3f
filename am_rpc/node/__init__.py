"""Workers: supervised pools of worker processes on aRPC (docs/workers.md).

A :class:`Supervisor` keeps ``min..max`` worker processes alive (heartbeats, restarts with backoff,
an optional standby supervisor), hands a ready worker to a :class:`Client`, and the client then
sends jobs (``module:function`` calls) to that worker directly over aRPC.
"""

from __future__ import annotations

from am_rpc.node.client import Client, JobError, NoWorkerError
from am_rpc.node.supervisor import Supervisor, SupervisorOpts
from am_rpc.node.worker import Worker

__all__ = ["Client", "JobError", "NoWorkerError", "Supervisor", "SupervisorOpts", "Worker"]
