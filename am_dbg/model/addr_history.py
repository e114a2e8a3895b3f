"""Addresses of moments, both ways (docs/architecture.md): the full URL of what is viewed, and the
transition a URL names. The browser-like history itself (≤ 100 entries, back / forward, skipping to
another machine) is `am_dbg.model.urls.AddressHistory`, kept on the `Viewer`.

`full_url` is what *copy* puts in the clipboard: `mach://id/tx[/step]` plus `t` (machine time), `q`
(queue tick), `ht` (RFC3339 human time, UTC, nanoseconds), `group` and `state`, so a colleague's
am-dbg lands on the same moment even when it has the data under other tx ids (a re-recorded run).
`resolve` follows the order of §5.11: tx id, else `t`, else `ht`, else `q`.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import replace

from am_dbg.model.history import MachineHistory
from am_dbg.model.urls import MachUrl, UrlError, normalise_group
from am_dbg.model.viewer import Viewer

__all__ = ["format_ht", "full_url", "group_named", "parse_ht", "resolve"]

_HT = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


def format_ht(ns: int) -> str:
    """RFC3339 with nanoseconds, UTC: `2025-06-15T15:06:40.001000000Z`."""
    sec, frac = divmod(ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def parse_ht(text: str) -> int:
    """Nanoseconds since the epoch of an RFC3339 time (any offset); raises `UrlError`."""
    m = _HT.match(text.strip())
    if m is None:
        raise UrlError(f"ht= must be an RFC3339 time like 2025-06-15T15:06:40.5Z, got {text!r}")
    base = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    frac = int((m.group(2) or "0").ljust(9, "0"))
    off = 0
    if m.group(3) != "Z":
        sign = 1 if m.group(3)[0] == "+" else -1
        hh, mm = m.group(3)[1:].split(":")
        off = sign * (int(hh) * 3600 + int(mm) * 60)
    return (base - off) * 10**9 + frac


def full_url(viewer: Viewer) -> MachUrl:
    """The viewed moment with every parameter (what the address bar's *copy* gives)."""
    url = viewer.url()
    hist, view = viewer.history, viewer.current
    if hist is None or view is None:
        return url
    c = view.cursor
    if 0 < c.tx <= len(hist):
        info = hist.info(c.tx - 1)
        url = replace(url, t=info.time_sum, q=info.queue_tick, ht=format_ht(info.time_ns))
    if view.group:
        url = replace(url, group=normalise_group(view.group))
    if viewer.state_name and viewer.state_name in hist.state_names:
        url = replace(url, state=viewer.state_name)
    return url


def resolve(hist: MachineHistory, url: MachUrl) -> int | None:
    """0-based index of the transition `url` names on `hist`; -1 = the bare schema (a URL with no
    moment, or a moment before the first transition); None = the named tx is not in the history."""
    if url.tx_id:
        return hist.index_of(url.tx_id)
    if url.t is not None:
        i = hist.tx_at_mach_time(url.t)
        return i if i >= 0 else None
    if url.ht:
        return hist.tx_at_human_time(parse_ht(url.ht))
    if url.q is not None:
        return hist.tx_at_queue_tick(url.q)
    return -1


def group_named(hist: MachineHistory, name: str) -> str:
    """The schema group whose normalised name is `name` ("" = all / unknown)."""
    for g in hist.schema.groups:
        if normalise_group(g) == name or g == name:
            return g
    return ""
