"""Files am-dbg keeps up to date in `--dir` when their flags ask (docs/architecture.md).

- `tx.md` (`--output-tx`): the current transition as text: its URL, RFC3339-nano UTC time, a blank
  line, `[<type>] A, B`, then `- <step>` per step (spec §2.3 text export);
- `log.md` (`--output-log`): the log around the cursor as the log pane shows it (the filtered
  transitions, entries up to the log level), markup stripped;
- `clients.txt` (`--output-clients`): the client list labels, `  #tag` lines per machine, a blank
  line between top-level machines;
- `diagram-machine.mmd`, `diagram-state.mmd`, `diagram-tx.mmd` (`--output-diagrams`): Mermaid of
  the selected machine at the cursor, of the selected state's neighbours, and of only what the
  transition touched (docs/diagrams.md), at most every `DIAGRAM_EVERY` seconds.

Every flag defaults off (docs/architecture.md), so running or testing am-dbg never litters the directory.
Files are written atomically (temporary file renamed into place) and only when their text changed;
a failure is returned as one line for the UI to show, never raised into the event loop.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from am_dbg.config import Config
from am_dbg.model.cursor import Visible
from am_dbg.model.history import MachineHistory
from am_dbg.ui.format import step_text

__all__ = [
    "DIAGRAM_EVERY",
    "LOG_WINDOW",
    "Outputs",
    "clients_text",
    "diagram_texts",
    "log_text",
    "tx_text",
]

LOG_WINDOW = 200  # visible transitions written to log.md on each side of the cursor
DIAGRAM_EVERY = 0.25  # seconds between diagram rewrites while the cursor moves
_TYPES = {0: "add", 1: "remove", 2: "set", 3: "eval"}


def rfc3339(ns: int) -> str:
    sec, frac = divmod(ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def tx_text(hist: MachineHistory, i: int) -> str:
    """The spec §2.3 text export of transition `i` (0-based)."""
    info = hist.info(i)
    msg = hist.tx(i)
    names = hist.state_names
    called = ", ".join(names[k] if 0 <= k < len(names) else f"#{k}" for k in info.called)
    lines = [f"mach://{hist.id}/{info.id}", rfc3339(info.time_ns), ""]
    lines.append(f"[{_TYPES.get(info.type, '?')}] {called}")
    lines.extend(f"- {step_text(s, names)}" for s in msg.steps)
    return "\n".join(lines) + "\n"


def log_text(hist: MachineHistory, vis: Visible, cursor_tx: int, level: int) -> str:
    """The log of the visible transitions around the cursor (1-based), entries up to `level`."""
    if level <= 0 or not len(vis):
        return ""
    pos = vis.count_upto(cursor_tx - 1)
    lo, hi = max(0, pos - LOG_WINDOW), min(len(vis), pos + LOG_WINDOW)
    out: list[str] = []
    for p in range(lo, hi):
        out.extend(e.text for e in hist.log_entries(vis[p]) if 0 < e.level <= level)
    return "\n".join(out) + ("\n" if out else "")


def diagram_texts(hist: MachineHistory, i: int | None, state: str) -> dict[str, str]:
    """The diagram files for transition `i` (0-based, None: the schema) and the selected state."""
    from am_dbg.model.diagram import machine_diagram
    from am_dbg.vis.text import to_mermaid

    out = {"diagram-machine.mmd": to_mermaid(machine_diagram(hist, i))}
    if state in hist.state_names:
        out["diagram-state.mmd"] = to_mermaid(machine_diagram(hist, i, state=state, distance=1))
    if i is not None:
        out["diagram-tx.mmd"] = to_mermaid(machine_diagram(hist, i, touched_only=True))
    return out


def clients_text(rows: Sequence[tuple[str, int, str]], tags: dict[str, tuple[str, ...]]) -> str:
    """`rows`: (machine id, depth, plain label) in list order."""
    out: list[str] = []
    for mid, depth, label in rows:
        if depth == 0 and out:
            out.append("")
        out.append(label)
        out.extend(f"  #{t}" for t in tags.get(mid, ()))
    return "\n".join(out) + ("\n" if out else "")


class Outputs:
    """Writes the files whose flags are on; remembers what it wrote to skip unchanged rewrites."""

    def __init__(self, cfg: Config) -> None:
        self.dir = cfg.dir
        self.tx = cfg.output_tx
        self.log = cfg.output_log
        self.clients = cfg.output_clients
        self.diagrams = cfg.output_diagrams
        self._last: dict[str, str] = {}

    @property
    def any(self) -> bool:
        return self.tx or self.log or self.clients or self.diagrams

    def write(self, name: str, text: str) -> str | None:
        """Write `<dir>/<name>` if `text` changed; returns an error line, or None."""
        if self._last.get(name) == text:
            return None
        path = Path(self.dir) / name
        tmp = path.with_name(path.name + ".part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            return f"cannot write {str(path)!r}: {err.strerror or err}"
        self._last[name] = text
        return None
