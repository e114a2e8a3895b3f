"""`mach://` addresses and the browser-like address history (docs/architecture.md).

`MachUrl.parse(text)` / `str(url)` round-trip: `mach://<machine>[/<tx>[/<step>]][?params]` with the
params printed sorted (`group`, `ht`, `q`, `state`, `t`). `AddressHistory` is newest-first with a cursor
(0 = newest), deduplicated on the base URL, capped at 100 (keeping the newest, unlike Go's bug, §11).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, quote, unquote, urlencode

from am_dbg.errors import DbgError

__all__ = ["HISTORY_CAP", "AddressHistory", "MachUrl", "UrlError", "normalise_group"]

HISTORY_CAP = 100
_SCHEME = "mach://"


class UrlError(DbgError, ValueError):
    """Text that is not a `mach://` address; the message says which part is wrong."""


def normalise_group(name: str) -> str:
    """Group name as it appears in URLs: part before ':', '-' and spaces removed, no 'StatesDef'."""
    name = name.split(":", 1)[0].replace("-", "").replace(" ", "")
    return name.removesuffix("StatesDef")


@dataclass(frozen=True, slots=True, kw_only=True)
class MachUrl:
    """One address: a machine, optionally a tx (and step), or a moment given by t / q / ht."""

    mach_id: str
    tx_id: str = ""
    step: int = 0
    t: int | None = None  # machine time
    q: int | None = None  # queue tick
    ht: str = ""  # RFC3339 human time
    group: str = ""
    state: str = ""

    @classmethod
    def parse(cls, text: str) -> MachUrl:
        text = text.strip()
        if not text.startswith(_SCHEME):
            raise UrlError(f"not a mach:// address: {text!r}")
        rest, _, query = text[len(_SCHEME) :].partition("?")
        parts = rest.split("/")
        mach_id = unquote(parts[0])
        if not mach_id:
            raise UrlError(f"no machine id in {text!r}")
        if len(parts) > 3:
            raise UrlError(f"too many path parts in {text!r} (mach://id/tx/step)")
        tx_id = unquote(parts[1]) if len(parts) > 1 else ""
        step = 0
        if len(parts) > 2 and parts[2]:
            try:
                step = int(parts[2])
            except ValueError:
                raise UrlError(f"step must be a number in {text!r}") from None
            if step < 0:
                raise UrlError(f"step must be >= 0 in {text!r}")
        kw: dict[str, object] = {}
        for key, val in parse_qsl(query, keep_blank_values=True):
            if key in ("t", "q"):
                try:
                    kw[key] = int(val)
                except ValueError:
                    raise UrlError(f"{key}= must be a number in {text!r}") from None
            elif key in ("ht", "group", "state"):
                kw[key] = val
            else:
                raise UrlError(f"unknown parameter {key!r} in {text!r}")
        return cls(mach_id=mach_id, tx_id=tx_id, step=step, **kw)  # type: ignore[arg-type]

    @property
    def base(self) -> str:
        """The address without parameters (what history deduplicates on)."""
        out = _SCHEME + quote(self.mach_id, safe="-_.~:@")
        if self.tx_id:
            out += "/" + quote(self.tx_id, safe="-_.~")
            if self.step:
                out += f"/{self.step}"
        return out

    def __str__(self) -> str:
        params: list[tuple[str, str]] = []
        if self.group:
            params.append(("group", self.group))
        if self.ht:
            params.append(("ht", self.ht))
        if self.q is not None:
            params.append(("q", str(self.q)))
        if self.state:
            params.append(("state", self.state))
        if self.t is not None:
            params.append(("t", str(self.t)))
        return self.base + ("?" + urlencode(params) if params else "")

    def without_params(self) -> MachUrl:
        return replace(self, t=None, q=None, ht="", group="", state="")


@dataclass(slots=True)
class AddressHistory:
    """Newest-first visited addresses plus a cursor (0 = newest)."""

    entries: list[MachUrl] = field(default_factory=list)
    pos: int = 0

    @property
    def current(self) -> MachUrl | None:
        return self.entries[self.pos] if self.entries else None

    def push(self, url: MachUrl) -> bool:
        """Record a visit, as a browser does: when the base differs from the current entry's, it
        becomes the newest entry, and while browsed back the forward entries are dropped first.
        Landing on the current entry (a history move selects its machine, then its moment) records
        nothing. Returns whether an entry was added."""
        if self.pos != 0:
            cur = self.entries[self.pos]
            if cur.base == url.base or url == MachUrl(mach_id=cur.mach_id):
                return False  # the landing of a history move
            self.trim()
        if self.entries and self.entries[0].base == url.base:
            self.entries[0] = url  # same place: keep the freshest params
            return False
        self.entries.insert(0, url)
        del self.entries[HISTORY_CAP:]
        return True

    def trim(self) -> None:
        """Drop the forward entries: the current one becomes the newest (jumps while browsing back)."""
        del self.entries[: self.pos]
        self.pos = 0

    def back(self) -> MachUrl | None:
        if self.pos + 1 >= len(self.entries):
            return None
        self.pos += 1
        return self.entries[self.pos]

    def forward(self) -> MachUrl | None:
        if self.pos == 0:
            return None
        self.pos -= 1
        return self.entries[self.pos]

    def _skip(self, step: int) -> MachUrl | None:
        cur = self.current
        if cur is None:
            return None
        i = self.pos + step
        while 0 <= i < len(self.entries):
            if self.entries[i].mach_id != cur.mach_id:
                self.pos = i
                return self.entries[i]
            i += step
        return None

    def back_mach(self) -> MachUrl | None:
        """Back to the nearest older entry of a different machine."""
        return self._skip(1)

    def forward_mach(self) -> MachUrl | None:
        return self._skip(-1)

    def remove_machine(self, mach_id: str) -> None:
        cur = self.current
        self.entries = [u for u in self.entries if u.mach_id != mach_id]
        if cur is not None and cur in self.entries:
            self.pos = self.entries.index(cur)
        else:
            self.pos = min(self.pos, max(0, len(self.entries) - 1))
