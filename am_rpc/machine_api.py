"""Type-level proof that `am_core.Machine` and `NetMachine` both satisfy `am_core.MachineApi`.

mypy checks this module (it is part of the ``am_rpc`` package): a method that drifts apart in
name, parameters or result on either class fails the lint, not a user's code. At run time it only
defines `local_and_remote`, which code may use to treat either kind of machine the same.
"""

from __future__ import annotations

from am_core import Machine, MachineApi
from am_rpc.netmach import NetMachine

__all__ = ["local_and_remote"]


def local_and_remote(local: Machine, remote: NetMachine) -> tuple[MachineApi, MachineApi]:
    """Both machines as `MachineApi` (mypy rejects this function if either does not satisfy it)."""
    return local, remote
