"""``am-repl [ADDR]``: a prompt on any machine served over aRPC (docs/remote.md).

A running debugger is one of them: ``am-dbg --ui-repl [ADDR]`` serves its own machine
(`am_dbg.remote.repl_serve`), so ``am-repl ADDR`` lists, inspects and mutates the debugger the
way its keys do (``add SelectingClient id=ps-1``, ``add UserFwd amount=5``, ``when ClientSelected``).

Stdlib `cmd` + `readline` (Tab completes commands and state names): connect to an aRPC server
(`am_rpc.connect`, the NetMachine mirrors the source), list and inspect states, add / remove /
set them, and wait (``when``) until states are active or inactive. Mutations travel to the source;
reads are answered from the mirror, as with any NetMachine (docs/arpc.md). An unknown state is an
error naming it; nothing is sent then.
"""

from __future__ import annotations

import argparse
import cmd
import os
import shlex
import sys
import time
from typing import Any

from am_core import Result
from am_dbg.remote.errors import RemoteError

__all__ = ["Repl", "arg_value", "entry", "main"]

_RESULTS = {0: "executed", 1: "canceled"}
_WAIT_SLICE = 0.1  # how often a `when` wakes to let Ctrl-C through


def arg_value(text: str) -> Any:
    """A ``key=value`` argument: an int, a float, true / false as such, anything else a string
    (``amount=5`` is the number a handler computes with; ``id=ps-1`` a machine's id)."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class Repl(cmd.Cmd):
    """The commands; `client` is an `am_rpc.Client` once connected."""

    intro = "am-repl: type help or ?, Tab completes states; Ctrl-D quits."

    def __init__(self, token: str = "", stdin: Any = None, stdout: Any = None) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.client: Any = None
        self.addr = ""
        self.token = token
        self.prompt = "am> "

    # plumbing -----------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def onecmd(self, line: str) -> bool:
        try:
            return super().onecmd(line)
        except RemoteError as err:
            self.say(f"error: {err}")
        except Exception as err:  # a failed call must not end the session
            self.say(f"error: {type(err).__name__}: {err}")
        return False

    def emptyline(self) -> bool:
        return False

    def default(self, line: str) -> None:
        raise RemoteError(f"unknown command {line.split()[0]!r} (help lists them)")

    @property
    def mach(self) -> Any:
        if self.client is None:
            raise RemoteError("not connected: connect HOST:PORT")
        return self.client.mach

    def _names(self) -> list[str]:
        return list(self.mach.state_names()) if self.client is not None else []

    def _states(self, words: list[str], what: str) -> list[str]:
        if not words:
            raise RemoteError(f"{what}: name one or more states")
        names = set(self._names())
        unknown = [w for w in words if w not in names]
        if unknown:
            raise RemoteError(
                f"{what}: no state {', '.join(map(repr, unknown))} on {self.mach.remote_id()!r}"
            )
        return words

    def _complete_states(self, text: str, *_: Any) -> list[str]:
        return [n + " " for n in self._names() if n.startswith(text)]

    complete_add = complete_remove = complete_set = complete_inspect = _complete_states
    complete_when = complete_when_not = _complete_states

    # commands -----------------------------------------------------------------------------------

    def do_connect(self, arg: str) -> None:
        """connect HOST:PORT  -- connect to an aRPC server (closes the current connection)."""
        from am_rpc import connect

        addr = arg.strip()
        if not addr:
            raise RemoteError("connect: give HOST:PORT")
        self._close()
        self.client = connect(addr, id=f"repl-{os.getpid()}", token=self.token or None)
        self.addr = addr
        mach = self.client.mach
        self.prompt = f"{mach.remote_id()}> "
        self.say(f"connected to {mach.remote_id()} at {addr}: {len(mach.state_names())} states")

    def do_list(self, arg: str) -> None:
        """list  -- every state: * active, its clock (odd = active)."""
        mach = self.mach
        active = set(mach.active_states())
        clock = mach.clock()
        for name in mach.state_names():
            self.say(f"{'*' if name in active else ' '} {name:<24} {clock.get(name, 0)}")

    do_ls = do_list

    def do_inspect(self, arg: str) -> None:
        """inspect [STATE...]  -- the machine (id, active states) or states' relations."""
        mach = self.mach
        words = arg.split()
        if not words:
            self.say(f"id: {mach.remote_id()}  at {self.addr}")
            self.say(f"active: {' '.join(mach.active_states()) or '(none)'}")
            self.say(f"states: {' '.join(mach.state_names())}")
            return
        schema = mach.schema() or {}
        for name in self._states(words, "inspect"):
            st = schema.get(name)
            rels = []
            for rel in ("require", "add", "remove", "after"):
                vals = list(getattr(st, rel, None) or ())
                if vals:
                    rels.append(f"{rel}={','.join(vals)}")
            for flag in ("auto", "multi"):
                if getattr(st, flag, False):
                    rels.append(flag)
            mark = "active" if mach.is1(name) else "inactive"
            self.say(f"{name}: {mark}, tick {mach.tick(name)}; {' '.join(rels) or 'no relations'}")

    def _mutate(self, kind: str, arg: str) -> None:
        words = shlex.split(arg)
        states = [w for w in words if "=" not in w]
        args = {k: arg_value(v) for k, v in (w.split("=", 1) for w in words if "=" in w)}
        self._states(states, kind)
        fn = getattr(self.mach, kind)
        res = int(fn(states, args or None))
        self.say(_RESULTS.get(res, f"queued (tick {res})"))
        if res == Result.CANCELED:
            err = self.mach.err() if hasattr(self.mach, "err") else None
            if err is not None:
                self.say(f"  last error: {err}")

    def do_add(self, arg: str) -> None:
        """add STATE... [key=value...]  -- activate states (numbers, true/false typed; else text)."""
        self._mutate("add", arg)

    def do_remove(self, arg: str) -> None:
        """remove STATE... [key=value...]  -- deactivate states."""
        self._mutate("remove", arg)

    def do_set(self, arg: str) -> None:
        """set STATE... [key=value...]  -- exactly these states active."""
        self._mutate("set", arg)

    def _wait(self, arg: str, active: bool) -> None:
        words = arg.split()
        timeout = 0.0
        if "--timeout" in words:
            k = words.index("--timeout")
            try:
                timeout = float(words[k + 1])
            except (IndexError, ValueError):
                raise RemoteError("--timeout: give seconds, e.g. --timeout 5") from None
            del words[k : k + 2]
        what = "when" if active else "when_not"
        states = self._states(words, what)
        waiter = self.mach.when(states) if active else self.mach.when_not(states)
        start = time.monotonic()
        try:
            while not waiter.wait(_WAIT_SLICE):
                if not self.client.ready:  # the mirror stops changing: nothing would wake us
                    self.say(f"error: {what}: lost the connection to {self.addr}")
                    return
                if timeout and time.monotonic() - start > timeout:
                    self.say(f"timeout: after {timeout:g}s")
                    return
        except KeyboardInterrupt:
            self.say("interrupted")
            return
        self.say(f"{'active' if active else 'inactive'}: {' '.join(states)}")

    def do_when(self, arg: str) -> None:
        """when STATE... [--timeout S]  -- wait until all are active (Ctrl-C stops waiting)."""
        self._wait(arg, True)

    def do_when_not(self, arg: str) -> None:
        """when_not STATE... [--timeout S]  -- wait until all are inactive."""
        self._wait(arg, False)

    def do_disconnect(self, arg: str) -> None:
        """disconnect  -- close the connection."""
        self._close()
        self.say("disconnected")

    def do_quit(self, arg: str) -> bool:
        """quit  -- leave (also Ctrl-D)."""
        self._close()
        return True

    do_exit = do_quit

    def do_EOF(self, arg: str) -> bool:
        self.say("")
        return self.do_quit(arg)

    def _close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
            self.prompt = "am> "


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="am-repl",
        description="A prompt on a machine served over aRPC, e.g. a running `am-dbg --ui-repl` "
        "(docs/remote.md).",
    )
    p.add_argument(
        "addr", nargs="?", default="", help="HOST:PORT of an aRPC server (am-dbg --ui-repl: 6835)"
    )
    p.add_argument(
        "--token", default=None, help="the server's secret (default $AM_RPC_TOKEN if set)"
    )
    ns = p.parse_args(argv)
    token = ns.token if ns.token is not None else os.environ.get("AM_RPC_TOKEN", "")
    repl = Repl(token=token)
    try:
        import readline  # noqa: F401  (line editing and Tab completion for cmd)
    except ImportError:  # pragma: no cover - platforms without readline
        pass
    if ns.addr:
        try:
            repl.do_connect(ns.addr)
        except Exception as err:
            print(f"am-repl: cannot connect to {ns.addr}: {err}", file=sys.stderr)
            return 1
    try:
        repl.cmdloop()
    except KeyboardInterrupt:
        repl._close()
    return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
