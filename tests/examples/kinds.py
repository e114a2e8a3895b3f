"""What the demo machines must show the debugger, computed from the telemetry they produced.

`kinds_of` reads schema + transition messages (from a live `Session` or a recording) and names the
kinds of behaviour present, so a test can require each of them without knowing the exact counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from am_rpc.dbg.protocol import SchemaMsg, TxMsg

KINDS = (
    "canceled by relation",
    "canceled by negotiation",
    "queued mutation",
    "auto transition",
    "multi re-activation",
    "exception with stack trace",
    "parent/child",
    "tags",
    "log level 1 external",
    "log level 2 changes",
    "log level 3 ops",
    "log level 4 decisions",
    "log level 5 everything",
)
_LEVELS = ("external", "changes", "ops", "decisions", "everything")


def kinds_of(
    machines: Iterable[tuple[SchemaMsg, Sequence[TxMsg]]], want: Iterable[str] = ()
) -> dict[str, int]:
    """How many times each kind of `KINDS` occurs (missing kinds are absent from the result).

    With ``want``, reading stops as soon as all of those kinds were seen (decoding a long
    recording is the slow part), so the counts are then lower bounds.
    """
    out: dict[str, int] = {}
    wanted = set(want)

    def see(kind: str) -> None:
        out[kind] = out.get(kind, 0) + 1

    machs = list(machines)
    ids = {s.id for s, _ in machs}
    for schema, _ in machs:
        if schema.parent and schema.parent in ids:
            see("parent/child")
        if schema.tags:
            see("tags")
    for schema, txs in machs:
        if wanted and wanted <= set(out):
            break
        multi = {i for i, n in enumerate(schema.states_index) if schema.states[n].multi}
        prev: tuple[int, ...] = ()
        for tx in txs:
            for entry in (*tx.pre_log, *tx.log):
                if 1 <= entry.level <= 5:
                    see(f"log level {entry.level} {_LEVELS[entry.level - 1]}")
                if entry.text.startswith("[error") and "Traceback (most recent call" in entry.text:
                    see("exception with stack trace")
            if tx.is_queued:
                if tx.mut_queue_tick > tx.queue_tick:  # it had to wait for the running queue
                    see("queued mutation")
                continue
            texts = [e.text for e in tx.log]
            if not tx.accepted and not tx.is_auto and not tx.is_check:
                if any(t.startswith("[cancel:reject]") for t in texts):
                    see("canceled by relation")
                if any(
                    t.startswith("[cancel")
                    and " by " in t
                    and not t.endswith((" by recover", " by timeout"))
                    for t in texts
                ):
                    see("canceled by negotiation")
            if tx.accepted and tx.is_auto:
                see("auto transition")
            if tx.accepted and prev:
                for i in tx.called:
                    if (
                        i in multi
                        and i < len(prev)
                        and prev[i] % 2 == 1
                        and tx.clocks[i] == prev[i] + 2
                    ):
                        see("multi re-activation")
            prev = tx.clocks
    return out
