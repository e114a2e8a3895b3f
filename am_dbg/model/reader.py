"""Structured facts of one transition for the log reader pane (docs/architecture.md), from log lines.

Plain Python (no Textual). `Reader(session).sections(mach_id, i)` returns the reader's sections for
transition `i` of a machine: where the mutation came from (`[source]`, followed across machines),
the chain of sources, the queue (queued / executed, the pending queue), transitions forked from it,
handlers executed, arguments, and the subscriptions, state contexts and pipes *open at that moment*.

Only what the streamed data carries can be shown: `[source]`, `[handler:n]`, `[when:new]` ... lines
are level-3 (ops) log lines, so a sender logging below ops gives a reader with the queue, the
arguments and little else.

Cost: open entries are replayed from per-machine checkpoints (every `_CHECKPOINT` transitions), and
only transitions whose packed bytes mention a reader prefix are decoded, so a cursor move costs at
most one checkpoint's worth of cheap byte scans. The fork index (which transitions name this one
as their source) is built incrementally over new transitions of every machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import or_

from am_dbg.model.history import MachineHistory, TxInfo
from am_dbg.model.session import Session
from am_dbg.model.urls import MachUrl
from am_rpc.dbg.protocol import LogEntry

__all__ = [
    "SECTIONS",
    "OpenEntry",
    "Reader",
    "ReaderNode",
    "ReaderSection",
    "SourceRef",
    "open_entries_step",
    "parse_source",
]

SECTIONS = (
    "Source",
    "State Trace",
    "Queue",
    "Forked",
    "Siblings",
    "Executed",
    "Arguments",
    "StateCtx",
    "When",
    "WhenNot",
    "WhenTime",
    "WhenArgs",
    "WhenQueue",
    "Pipe-in",
    "Pipe-out",
)
TYPE_NAMES = {0: "add", 1: "remove", 2: "set", 3: "eval"}
TYPE_SIGN = {0: "+", 1: "-", 2: "="}
_CHECKPOINT = 256
_TRACE_DEPTH = 20
_QUEUE_SHOWN = 50
_QUEUE_SCANNED = 5000
_FORKS_SHOWN = 50

_SOURCE = re.compile(r"^\[source\]\s+(.+)/([^/\s]+)/(\d+)\s*$")
_HANDLER = re.compile(r"^\[handler:(\d+)\]\s+(\S+)")
_SUB = re.compile(r"^\[(when|whenNot|whenTime|whenArgs|whenQueue|ctx):(new|match)\]\s*(.*)$")
_PIPE = re.compile(r"^\[pipe-(in|out):(add|remove)\]\s+(\S+)\s+(?:from|to)\s+(\S+)\s*$")
_PIPE_GC = re.compile(r"^\[pipe:gc\]\s+(\S+)")
# byte markers of the lines above, checked on the packed message before decoding it
# log markers of the lines that open or close entries: a message without any needs no decode
_OPEN_MARKS = (b":new]", b":match]", b"[pipe")
_SOURCE_MARKS = (b"[source]",)
_KIND_SECTION = {
    "when": "When",
    "whenNot": "WhenNot",
    "whenTime": "WhenTime",
    "whenArgs": "WhenArgs",
    "whenQueue": "WhenQueue",
    "ctx": "StateCtx",
    "pipe-in": "Pipe-in",
    "pipe-out": "Pipe-out",
}


@dataclass(frozen=True, slots=True)
class SourceRef:
    """`[source] <machId>/<txId>/<machTime>`: the transition that caused this mutation."""

    mach_id: str
    tx_id: str
    mach_time: int


def parse_source(entries: Sequence[LogEntry]) -> SourceRef | None:
    for e in entries:
        if e.text.startswith("[source]"):
            m = _SOURCE.match(e.text)
            if m is not None:
                return SourceRef(m.group(1), m.group(2), int(m.group(3)))
    return None


@dataclass(frozen=True, slots=True)
class OpenEntry:
    """An open subscription, state context or pipe; `created` = the machine time it opened at."""

    kind: str  # when | whenNot | whenTime | whenArgs | whenQueue | ctx | pipe-in | pipe-out
    text: str  # as logged after the prefix (pipes: "<add|remove> <state> <other machine>")
    created: int
    states: tuple[str, ...] = ()
    other: str = ""  # pipes: the other machine


def _sub_key(kind: str, text: str) -> tuple[str, ...]:
    """What a `:match` line must share with its `:new` line to close it (the states)."""
    if kind == "whenTime":  # new: `A,B 1 2`, match: `A B [1 2]`; ticks are the numbers
        return tuple(sorted(s for s in re.split(r"[,\s\[\]]+", text) if s and not s.isdigit()))
    if kind == "whenArgs":
        return (text.split(" ", 1)[0],)
    if kind == "whenQueue":
        return (text.strip(),)
    return tuple(sorted(s for s in re.split(r"[, ]+", text.strip()) if s))


def open_entries_step(
    prev: tuple[OpenEntry, ...], entries: Sequence[LogEntry], mach_time: int
) -> tuple[OpenEntry, ...]:
    """The open entries after one transition: `:new` opens, `:match` closes the first match,
    `[pipe-*:add|remove]` registers a pipe, `[pipe:gc] M` drops every pipe with M."""
    out = list(prev)
    changed = False
    for e in entries:
        text = e.text
        if not text.startswith("["):
            continue
        m = _SUB.match(text)
        if m is not None:
            kind, op, rest = m.group(1), m.group(2), m.group(3).strip()
            key = _sub_key(kind, rest)
            if op == "new":
                states = key if kind not in ("whenQueue",) else ()
                out.append(OpenEntry(kind, rest, mach_time, states))
                changed = True
            else:
                for k, o in enumerate(out):
                    if o.kind == kind and _sub_key(kind, o.text) == key:
                        del out[k]
                        changed = True
                        break
            continue
        m = _PIPE.match(text)
        if m is not None:
            kind = "pipe-" + m.group(1)
            op, state, other = m.group(2), m.group(3), m.group(4)
            # `add` and `remove` are the two kinds of pipe (mirroring activation / deactivation),
            # both registrations; pipes are forgotten only by `[pipe:gc]` (am_core's pipes.py)
            entry = OpenEntry(kind, f"{op} {state} {other}", mach_time, (state,), other)
            if not any(o.kind == kind and o.text == entry.text for o in out):
                out.append(entry)
                changed = True
            continue
        m = _PIPE_GC.match(text)
        if m is not None:
            gone = m.group(1)
            kept = [o for o in out if not (o.kind.startswith("pipe") and o.other == gone)]
            changed = changed or len(kept) != len(out)
            out = kept
    return tuple(out) if changed else prev


@dataclass(frozen=True, slots=True)
class ReaderNode:
    """One row of the reader; `link` makes it navigable, `states` selects its first state."""

    text: str
    link: MachUrl | None = None
    states: tuple[str, ...] = ()
    children: tuple[ReaderNode, ...] = ()


@dataclass(frozen=True, slots=True)
class ReaderSection:
    name: str
    nodes: tuple[ReaderNode, ...]
    count: int = -1  # shown as ` (N)`; -1 = len(nodes)

    @property
    def title(self) -> str:
        n = len(self.nodes) if self.count < 0 else self.count
        return f"{self.name} ({n})"


@dataclass(slots=True)
class _MachCache:
    hist: MachineHistory
    first: str  # id of transition 0 (a GC drop from the front invalidates the checkpoints)
    checkpoints: list[tuple[OpenEntry, ...]] = field(default_factory=lambda: [()])
    last: tuple[int, tuple[OpenEntry, ...]] = (-1, ())


def _not_executed(hist: MachineHistory, info: TxInfo) -> str:
    """Why a queued message has no executing transition: still waiting in the queue (the
    machine's queue has not reached its tick), or skipped (the queue moved past it)."""
    newest = hist.info(len(hist) - 1).queue_tick
    if info.mut_queue_tick and newest > info.mut_queue_tick:
        return f"not executed: the queue passed q{info.mut_queue_tick} (canceled or dropped)"
    return "pending: not executed yet"


class Reader:
    """Reader sections of any transition of a session (caches per machine, rebuilt on replace)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._open: dict[str, _MachCache] = {}
        # fork index: (machine id, tx id) -> [(machine id, tx id)] of txs whose [source] is it
        self._forks: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._fork_scan: dict[str, tuple[MachineHistory, int]] = {}

    # open entries -----------------------------------------------------------------------------------

    def open_at(self, mach_id: str, i: int) -> tuple[OpenEntry, ...]:
        """Subscriptions, contexts and pipes open right after transition `i` (-1: none yet)."""
        hist = self.session.machines.get(mach_id)
        if hist is None or i < 0:
            return ()
        i = min(i, len(hist) - 1)
        first = hist.info(0).id
        c = self._open.get(mach_id)
        if c is None or c.hist is not hist or c.first != first:  # replaced run, or GC dropped txs
            c = _MachCache(hist, first)
            self._open[mach_id] = c
        if c.last[0] == i:
            return c.last[1]
        cps = c.checkpoints  # cps[k]: open entries after transitions [0, k * CP)
        target = i + 1
        k = target // _CHECKPOINT
        while len(cps) <= k:
            m = len(cps)
            cps.append(self._replay(hist, cps[m - 1], (m - 1) * _CHECKPOINT, m * _CHECKPOINT))
        if c.last[0] >= 0 and k * _CHECKPOINT <= c.last[0] + 1 <= target:
            state, start = c.last[1], c.last[0] + 1
        else:
            state, start = cps[k], k * _CHECKPOINT
        got = self._replay(hist, state, start, target)
        c.last = (i, got)
        return got

    def _replay(
        self, hist: MachineHistory, state: tuple[OpenEntry, ...], start: int, end: int
    ) -> tuple[OpenEntry, ...]:
        """Apply transitions [start, end) to `state`."""
        end = min(end, len(hist))
        for j in compress(range(start, end), _containing(hist.raws(start, end), _OPEN_MARKS)):
            msg = hist.tx(j)
            state = open_entries_step(state, msg.pre_log + msg.log, hist.info(j).time_sum)
        return state

    # forks ------------------------------------------------------------------------------------------

    def _index_forks(self) -> None:
        for mid, hist in self.session.machines.items():
            seen = self._fork_scan.get(mid)
            start = 0 if seen is None or seen[0] is not hist else seen[1]
            end = len(hist)
            for j in compress(range(start, end), _containing(hist.raws(start, end), _SOURCE_MARKS)):
                msg = hist.tx(j)
                src = parse_source(msg.pre_log + msg.log)
                if src is not None:
                    self._forks.setdefault((src.mach_id, src.tx_id), []).append((mid, msg.id))
            self._fork_scan[mid] = (hist, len(hist))

    def forks_of(self, mach_id: str, tx_id: str) -> list[tuple[str, str]]:
        """(machine id, tx id) of the transitions whose `[source]` is this one, still known."""
        self._index_forks()
        out = []
        for mid, tid in self._forks.get((mach_id, tx_id), ()):
            h = self.session.machines.get(mid)
            if h is not None and h.index_of(tid) is not None:
                out.append((mid, tid))
        return out

    # sections ---------------------------------------------------------------------------------------

    def source_of(self, mach_id: str, i: int) -> SourceRef | None:
        hist = self.session.machines.get(mach_id)
        if hist is None or not 0 <= i < len(hist):
            return None
        if b"[source]" not in hist.raw(i):
            return None
        msg = hist.tx(i)
        return parse_source(msg.pre_log + msg.log)

    def sections(self, mach_id: str, i: int) -> list[ReaderSection]:
        """Non-empty reader sections of transition `i` (0-based) of `mach_id`, in §4.6 order."""
        hist = self.session.machines.get(mach_id)
        if hist is None or not 0 <= i < len(hist):
            return []
        msg = hist.tx(i)
        entries = msg.pre_log + msg.log
        out: list[ReaderSection] = []

        def add(name: str, nodes: list[ReaderNode], count: int = -1) -> None:
            if nodes:
                out.append(ReaderSection(name, tuple(nodes), count))

        src = parse_source(entries) if b"[source]" in hist.raw(i) else None
        add("Source", self._source_nodes(hist, i, src, bool(msg.stack_trace)))
        add("State Trace", self._trace_nodes(src))
        add("Queue", self._queue_nodes(hist, i))
        forks = self.forks_of(mach_id, msg.id)
        add("Forked", [self._tx_node(m, t) for m, t in forks[:_FORKS_SHOWN]], len(forks))
        if src is not None:
            sib = [f for f in self.forks_of(src.mach_id, src.tx_id) if f != (mach_id, msg.id)]
            add("Siblings", [self._tx_node(m, t) for m, t in sib[:_FORKS_SHOWN]], len(sib))
        handlers: list[ReaderNode] = []
        for e in entries:
            if e.text.startswith("[handler:"):
                m = _HANDLER.match(e.text)
                if m is not None:
                    name = m.group(2)
                    handlers.append(
                        ReaderNode(f"{name}:{m.group(1)}", states=_states_in(name, hist))
                    )
        add("Executed", handlers)
        add(
            "Arguments",
            [ReaderNode(f"{k} {msg.args[k]}") for k in sorted(msg.args)],
        )
        by_section: dict[str, list[ReaderNode]] = {}
        for o in self.open_at(mach_id, i):
            by_section.setdefault(_KIND_SECTION[o.kind], []).append(self._open_node(hist, o))
        for name in SECTIONS[7:]:
            add(name, by_section.get(name, []))
        return out

    def _tx_node(self, mach_id: str, tx_id: str) -> ReaderNode:
        h = self.session.machines.get(mach_id)
        j = h.index_of(tx_id) if h is not None else None
        if h is None or j is None:
            return ReaderNode(f"{mach_id} tx unknown", MachUrl(mach_id=mach_id, tx_id=tx_id))
        info = h.info(j)
        called = _names(h, info.called)
        label = f"{TYPE_NAMES.get(info.type, '?')} {' '.join(called)} t{info.time_sum}"
        link = MachUrl(mach_id=mach_id, tx_id=tx_id)
        tags = tuple(ReaderNode("#" + t) for t in h.tags)
        return ReaderNode(
            label, link, called, (ReaderNode(f"{mach_id} t{info.time_sum}", link), *tags)
        )

    def _source_nodes(
        self, hist: MachineHistory, i: int, src: SourceRef | None, trace: bool
    ) -> list[ReaderNode]:
        info = hist.info(i)
        nodes: list[ReaderNode] = []
        if info.is_auto:
            nodes.append(ReaderNode("auto"))
        if src is not None:
            sh = self.session.machines.get(src.mach_id)
            mlink = MachUrl(mach_id=src.mach_id, t=src.mach_time)
            if src.mach_id == hist.id:
                nodes.append(ReaderNode("self", mlink))
            elif sh is None:
                nodes.append(ReaderNode(f"mach unknown ({src.mach_id})"))
            else:
                nodes.append(ReaderNode(f"{src.mach_id} t{src.mach_time}", mlink))
            j = sh.index_of(src.tx_id) if sh is not None else None
            if sh is None or j is None:
                nodes.append(ReaderNode("tx unknown"))
            else:
                si = sh.info(j)
                called = _names(sh, si.called)
                nodes.append(
                    ReaderNode(
                        f"{TYPE_NAMES.get(si.type, '?')} {' '.join(called)} t{src.mach_time}",
                        MachUrl(mach_id=src.mach_id, tx_id=src.tx_id),
                        called,
                    )
                )
                nodes.extend(ReaderNode("#" + t) for t in sh.tags)
        if trace:
            nodes.append(ReaderNode("stack trace"))
        return nodes

    def _trace_nodes(self, src: SourceRef | None) -> list[ReaderNode]:
        nodes: list[ReaderNode] = []
        seen: set[tuple[str, str]] = set()
        while src is not None and len(nodes) < _TRACE_DEPTH:
            key = (src.mach_id, src.tx_id)
            if key in seen:
                break
            seen.add(key)
            h = self.session.machines.get(src.mach_id)
            j = h.index_of(src.tx_id) if h is not None else None
            link = MachUrl(mach_id=src.mach_id, tx_id=src.tx_id)
            if h is None or j is None:
                nodes.append(ReaderNode(f"{src.mach_id} unknown", link))
                break
            info = h.info(j)
            called = _names(h, info.called)
            text = TYPE_SIGN.get(info.type, "?") + ",".join(called)
            nodes.append(
                ReaderNode(
                    text, link, called, (ReaderNode(f"{src.mach_id} t{src.mach_time}", link),)
                )
            )
            src = self.source_of(src.mach_id, j)
        return nodes

    def _queue_nodes(self, hist: MachineHistory, i: int) -> list[ReaderNode]:
        info = hist.info(i)
        msg = hist.tx(i)
        mid = hist.id
        nodes = [ReaderNode(f"current q{info.queue_tick}")]
        if info.is_queued:
            ex = hist.executed_by(i)
            if ex is not None:
                ei = hist.info(ex)
                nodes.append(
                    ReaderNode(f"executed at t{ei.time_sum}", MachUrl(mach_id=mid, tx_id=ei.id))
                )
            else:
                nodes.append(ReaderNode(_not_executed(hist, info)))
            nodes.append(ReaderNode(f"queued at t{info.time_sum}"))
            nodes.append(ReaderNode(f"queued for q{info.mut_queue_tick}"))
        else:
            q = self._queued_msg_of(hist, i)
            if q is not None:
                qi = hist.info(q)
                nodes.append(
                    ReaderNode(f"queued at t{qi.time_sum}", MachUrl(mach_id=mid, tx_id=qi.id))
                )
        pending = self._pending(hist, i)
        length = msg.queue_len if not info.is_queued else len(pending)
        label = f"length {length}" + (" (inferred)" if info.is_queued else "")
        children = [
            ReaderNode(
                f"q{hist.info(j).mut_queue_tick} {TYPE_SIGN.get(hist.info(j).type, '?')}"
                + ",".join(_names(hist, hist.info(j).called)),
                MachUrl(mach_id=mid, tx_id=hist.info(j).id),
                _names(hist, hist.info(j).called),
            )
            for j in pending[:_QUEUE_SHOWN]
        ]
        if len(pending) > _QUEUE_SHOWN:
            children.append(ReaderNode("..."))
        nodes.append(ReaderNode(label, children=tuple(children)))
        return nodes

    def _queued_msg_of(self, hist: MachineHistory, i: int) -> int | None:
        """The queued-mutation message that transition `i` executed, if it was queued."""
        info = hist.info(i)
        lo = max(0, i - _QUEUE_SCANNED)
        for j in range(i - 1, lo - 1, -1):
            q = hist.info(j)
            if not q.is_queued:
                continue
            if (info.mut_queue_token and q.mut_queue_token == info.mut_queue_token) or (
                q.mut_queue_tick and q.mut_queue_tick == info.queue_tick
            ):
                return j
        return None

    def _pending(self, hist: MachineHistory, i: int) -> list[int]:
        """Queued messages before (and including) `i` not yet executed at `i`: prioritised first.

        A message that cannot be linked to its execution (no queue tick, no token) counts as
        pending only until the next executed transition; one whose tick is already behind the
        queue and was never executed was canceled or dropped."""
        lo = max(0, i - _QUEUE_SCANNED)
        prio: list[int] = []
        rest: list[int] = []
        now_tick = hist.info(i).queue_tick
        last_exec = -1  # the newest executed transition at or before i
        for j in range(i, lo - 1, -1):
            if not hist.info(j).is_queued:
                last_exec = j
                break
        for j in range(lo, i + 1):
            q = hist.info(j)
            if not q.is_queued:
                continue
            ex = hist.executed_by(j)
            if ex is not None:
                if ex <= i:
                    continue
            elif not q.mut_queue_tick and not q.mut_queue_token:
                if j < last_exec:
                    continue
            elif now_tick > q.mut_queue_tick > 0:
                continue
            (prio if q.mut_queue_token else rest).append(j)
        return prio + rest

    def _open_node(self, hist: MachineHistory, o: OpenEntry) -> ReaderNode:
        link = MachUrl(mach_id=hist.id, t=o.created)
        if o.kind.startswith("pipe"):
            op, state, other = [*o.text.split(" ", 2), "", ""][:3]
            return ReaderNode(
                f"{state}: {op.capitalize()} | t{o.created} {other}",
                link,
                o.states,
                (ReaderNode(f"mach://{other}", MachUrl(mach_id=other)),),
            )
        if o.kind == "whenTime":
            parts = o.text.split(" ", 1)
            ticks = parts[1].split() if len(parts) > 1 else []
            names = parts[0].split(",")
            pairs = " ".join(f"{n}:{t}" for n, t in zip(names, ticks, strict=False))
            return ReaderNode(f"{pairs or o.text} t{o.created}", link, o.states)
        if o.kind == "whenArgs":
            name, _, args = o.text.partition(" ")
            return ReaderNode(f"{name} t{o.created}", link, (name,), (ReaderNode(args),))
        return ReaderNode(f"{o.text} t{o.created}", link, o.states)


def _names(hist: MachineHistory, idxs: Sequence[int]) -> tuple[str, ...]:
    names = hist.state_names
    return tuple(names[k] if 0 <= k < len(names) else f"#{k}" for k in idxs)


def _states_in(handler: str, hist: MachineHistory) -> tuple[str, ...]:
    """The state a handler name is about (`FooEnter` -> Foo, `FooBar` -> Foo), if known."""
    best = ""
    for s in hist.state_names:
        if handler.startswith(s) and len(s) > len(best):
            best = s
    return (best,) if best else ()


def _containing(raws: list[bytes], marks: tuple[bytes, ...]) -> Iterator[bool]:
    """Per message: does it contain any of `marks` (C-level scans, no Python call per message)."""
    found: Iterator[bool] = map(bytes.__contains__, raws, repeat(marks[0]))
    for mark in marks[1:]:
        found = map(or_, found, map(bytes.__contains__, raws, repeat(mark)))
    return found
