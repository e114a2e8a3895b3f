"""Transition filters (docs/architecture.md): which transitions navigation, the log and the counters see.

Filters hide, they never delete. `Filters` is an immutable value (the UI swaps it whole, so a render
never sees half a change); `toggle()` applies the side rules of §5.7 in one place. `accepts()` is the
one predicate every pane uses, so the log, the timeline counters and the cursor always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from am_dbg.config import Config

__all__ = ["TX_FILTERS", "AutoFilter", "Filters", "TxLike"]


class AutoFilter(IntEnum):
    """The tri-state *auto* filter. Toolbar cycle: HIDE_CANCELED (`*`) -> SHOW_ALL (`X`) -> HIDE_ALL."""

    HIDE_CANCELED = 0
    SHOW_ALL = 1
    HIDE_ALL = 2

    def next(self) -> AutoFilter:
        return AutoFilter((self + 1) % 3)


class TxLike(Protocol):
    """The few `TxInfo` fields the predicate reads (the history model's per-tx record)."""

    @property
    def accepted(self) -> bool: ...
    @property
    def is_auto(self) -> bool: ...
    @property
    def is_check(self) -> bool: ...
    @property
    def is_queued(self) -> bool: ...
    @property
    def is_health(self) -> bool: ...
    @property
    def is_empty(self) -> bool: ...
    @property
    def called(self) -> tuple[int, ...]: ...


# Filter names that can hide transitions (as opposed to machines or log lines), toolbar order.
TX_FILTERS = ("canceled", "queued", "auto", "empty", "health", "checks", "group")


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    """What is hidden. `True` = hidden (the toolbar shows the opposite: checked = included)."""

    canceled: bool = False
    queued: bool = False
    auto: AutoFilter = AutoFilter.HIDE_CANCELED
    empty: bool = False
    health: bool = True
    checks: bool = True
    group: bool = True  # only matters while a group is selected
    disconn: bool = False
    rpc: bool = False
    log_level: int = 2

    @classmethod
    def from_config(cls, cfg: Config) -> Filters:
        if cfg.filter_auto:
            auto = AutoFilter.HIDE_ALL
        elif cfg.filter_auto_canceled:
            auto = AutoFilter.HIDE_CANCELED
        else:
            auto = AutoFilter.SHOW_ALL
        return cls(
            canceled=cfg.filter_canceled,
            queued=cfg.filter_queued,
            auto=auto,
            empty=cfg.filter_empty,
            health=cfg.filter_health,
            checks=cfg.filter_checks,
            group=cfg.filter_group,
            disconn=cfg.filter_disconn,
            rpc=cfg.filter_rpc_machs,
            log_level=cfg.filter_log_level,
        )

    def toggle(self, name: str) -> Filters:
        """Flip one filter (cycle `auto` and `log_level`), applying the §5.7 side rules."""
        if name == "auto":
            return replace(self, auto=self.auto.next())
        if name == "log_level":
            return replace(self, log_level=(self.log_level + 1) % 6)
        if name not in (
            "canceled",
            "queued",
            "empty",
            "health",
            "checks",
            "group",
            "disconn",
            "rpc",
        ):
            raise ValueError(f"unknown filter {name!r}")
        hidden = not getattr(self, name)
        changes: dict[str, Any] = {name: hidden}
        # Showing canceled txs or queued messages also shows empty ones: what was skipped to reach
        # a canceled/queued tx would otherwise vanish in between.
        if name in ("canceled", "queued") and not hidden:
            changes["empty"] = False
        return replace(self, **changes)

    def with_log_level(self, level: int) -> Filters:
        if not 0 <= level <= 5:
            raise ValueError(f"log level must be 0-5, got {level}")
        return replace(self, log_level=level)

    def hides_txs(self, group_selected: bool = False) -> bool:
        """Whether any transition can be hidden (False = every tx is visible; no index needed)."""
        return (
            self.canceled
            or self.queued
            or self.auto != AutoFilter.SHOW_ALL
            or self.empty
            or self.health
            or self.checks
            or (self.group and group_selected)
        )

    def shows_gutter(self) -> bool:
        """The log gutter appears when canceled or queued txs can be seen and the level shows changes."""
        return (not self.canceled or not self.queued) and self.log_level >= 2

    def accepts(
        self,
        tx: TxLike,
        group: Collection[int] | None = None,
        queued_exec_canceled: Callable[[], bool] | None = None,
    ) -> bool:
        """True when `tx` passes every filter.

        `group`: state indexes of the selected group (None = `all`). `queued_exec_canceled`: asked
        lazily, only for a queued auto message under the hide-canceled-auto filter, whether the
        transition that executed it was canceled.
        """
        if tx.is_check and self.checks:
            return False
        if tx.is_queued:
            if self.queued:
                return False
        elif not tx.accepted:
            if self.canceled:
                return False
        elif tx.is_empty and self.empty:
            return False
        if tx.is_auto:
            if self.auto == AutoFilter.HIDE_ALL:
                return False
            if self.auto == AutoFilter.HIDE_CANCELED:
                if not tx.is_queued and not tx.accepted:
                    return False
                if tx.is_queued and queued_exec_canceled is not None and queued_exec_canceled():
                    return False
        if self.health and tx.is_health:
            return False
        return not (self.group and group is not None and not any(s in group for s in tx.called))
