"""Value types shared by the whole package: enums, results, schema states, steps, mutations."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

if TYPE_CHECKING:
    from .ctx import Ctx


class Result(int):
    """Mutation result: 0 executed, 1 canceled, any value >= 2 is the queue tick of a queued mutation."""

    __slots__ = ()

    EXECUTED: ClassVar[Result]
    CANCELED: ClassVar[Result]
    QUEUED: ClassVar[Result]

    @staticmethod
    def is_queued(r: int) -> bool:
        return r > 1

    def __str__(self) -> str:
        if self == 0:
            return "executed"
        if self == 1:
            return "canceled"
        return "queued"

    def __repr__(self) -> str:
        if self == 0:
            return "Result.EXECUTED"
        if self == 1:
            return "Result.CANCELED"
        return f"Result.QUEUED({int(self)})"


Result.EXECUTED = Result(0)
Result.CANCELED = Result(1)
Result.QUEUED = Result(2)


class _GoStrEnum(enum.IntEnum):
    """IntEnum whose ``str()`` is the Go string."""

    def __str__(self) -> str:
        return _ENUM_STR[type(self).__name__][int(self)]


class MutationType(_GoStrEnum):
    ADD = 0
    REMOVE = 1
    SET = 2
    EVAL = 3


class StepType(_GoStrEnum):
    NONE = 0  # the zero value (Go's ``StepType(0)``): stringifies to ""
    RELATION = 1
    HANDLER = 2
    SET = 4
    REMOVE = 8
    REMOVE_NOT_ACTIVE = 16
    REQUESTED = 32
    CANCEL = 64


class Relation(_GoStrEnum):
    AFTER = 0
    ADD = 1
    REQUIRE = 2
    REMOVE = 3


class Position(_GoStrEnum):
    ANY = 0
    FIRST = 1
    LAST = 2


class LogLevel(_GoStrEnum):
    NOTHING = 0
    EXTERNAL = 1
    CHANGES = 2
    OPS = 3
    DECISIONS = 4
    EVERYTHING = 5


_ENUM_STR: dict[str, dict[int, str]] = {
    "MutationType": {0: "add", 1: "remove", 2: "set", 3: "eval"},
    "StepType": {
        0: "",
        1: "rel",
        2: "handler",
        4: "activate",
        8: "deactivate",
        16: "deactivate-passive",
        32: "called",
        64: "cancel",
    },
    "Relation": {0: "after", 1: "add", 2: "require", 3: "remove"},
    "Position": {0: "any", 1: "first", 2: "last"},
    "LogLevel": {
        0: "nothing",
        1: "external",
        2: "changes",
        3: "ops",
        4: "decisions",
        5: "everything",
    },
}

MUTATION_STR = ("add", "remove", "set", "eval")


def _uniq(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """One state of a schema: flags and relations to other states (by name)."""

    auto: bool = False
    multi: bool = False
    require: list[str] = field(default_factory=list)
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    args: type | None = field(default=None, compare=False)
    """The state's args type (a dataclass or ``TypedDict``), docs/typed-args.md."""
    _name: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.args is not None:
            from .typed_args import register_args_type

            register_args_type(self.args)

    # typing aid: inside a StatesBase class, `Foo = State()` reads back as the name "Foo" (a str)
    def __get__(self, obj: object, owner: type | None = None) -> str:
        if not self._name:
            raise AttributeError("State is only a str constant inside a StatesBase class")
        return self._name

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def copy(self) -> State:
        return State(
            auto=self.auto,
            multi=self.multi,
            require=list(self.require),
            add=list(self.add),
            remove=list(self.remove),
            after=list(self.after),
            tags=list(self.tags),
            args=self.args,
        )

    def extend(self, overlay: State) -> State:
        """Union of relations (uniq, self first); auto/multi become True if the overlay has them."""
        return State(
            auto=self.auto or overlay.auto,
            multi=self.multi or overlay.multi,
            require=_uniq([*self.require, *overlay.require]),
            add=_uniq([*self.add, *overlay.add]),
            remove=_uniq([*self.remove, *overlay.remove]),
            after=_uniq([*self.after, *overlay.after]),
            tags=_uniq([*self.tags, *overlay.tags]),
            args=overlay.args or self.args,
        )

    def set(
        self,
        auto: bool,
        multi: bool,
        overlay: dict[str, Sequence[str] | None] | None = None,
    ) -> State:
        """Replace only the relations present (non-None) in ``overlay``; set auto/multi."""
        ov = overlay or {}

        def pick(key: str, cur: list[str]) -> list[str]:
            v = ov.get(key)
            return list(v) if v is not None else list(cur)

        return State(
            auto=auto,
            multi=multi,
            require=pick("require", self.require),
            add=pick("add", self.add),
            remove=pick("remove", self.remove),
            after=pick("after", self.after),
            tags=pick("tags", self.tags),
            args=self.args,
        )


Schema = dict[str, State]


def schema_merge(*schemas: Schema) -> Schema:
    """Later definitions replace earlier ones per state (no relation merge)."""
    out: Schema = {}
    for sch in schemas:
        for k, v in sch.items():
            out[k] = v
    return out


class S(list[str]):
    """A list of state names, with the Go ``S*`` helpers as static methods."""

    @staticmethod
    def add(*lists: Iterable[str]) -> S:
        """Concatenate and de-duplicate (first wins)."""
        out: dict[str, None] = {}
        for lst in lists:
            for s in lst:
                out[s] = None
        return S(out)

    @staticmethod
    def delete(src: Iterable[str], *remove: Iterable[str]) -> S:
        """``src`` without the states of ``remove``."""
        rm: set[str] = set()
        for r in remove:
            rm.update(r)
        return S(s for s in src if s not in rm)

    sub = delete

    @staticmethod
    def shared(a: Iterable[str], b: Iterable[str]) -> S:
        bs = set(b)
        return S(_uniq(s for s in a if s in bs))

    @staticmethod
    def equal(a: Iterable[str], b: Iterable[str]) -> bool:
        """Set equality."""
        return set(a) == set(b)

    @staticmethod
    def index(states: Sequence[str], state: str) -> int:  # type: ignore[override]
        try:
            return states.index(state)
        except ValueError:
            return -1


class LogEntry(NamedTuple):
    """One emitted log line (without the ``[id5] `` prefix); an immutable named tuple."""

    level: int
    text: str


class Step(NamedTuple):
    """One relation-resolution or handler step of a transition (debugger data).

    An immutable named tuple (cheap to create: transitions with steps on make dozens).
    """

    type: StepType
    from_state: str = ""
    to_state: str = ""
    rel_type: Relation | None = None
    is_final: bool = False
    is_self: bool = False
    is_enter: bool = False
    data: Any = None

    @property
    def from_state_idx(self) -> int:
        return -1 if not self.from_state else 0

    @property
    def to_state_idx(self) -> int:
        return -1 if not self.to_state else 0

    def string_from_index(self, names: Sequence[str] | None = None) -> str:
        """Go's step text: ``**A** add **B**``, ``called **D**``, ``handler **A**Exit``."""
        frm, to = self.from_state, self.to_state
        if self.type == StepType.RELATION:
            return f"**{frm}** {self.rel_type} **{to}**"
        line = ""
        if frm:
            line = f"**{frm}**"
        if to:
            line = f"{line} **{to}**" if line else f"**{to}**"
        if not frm and not to:
            line = "**Any**"
        suffix = ""
        if self.type == StepType.HANDLER:
            if self.is_self:
                suffix = line
            elif self.is_final:
                suffix = "State" if self.is_enter else "End"
            else:
                suffix = "Enter" if self.is_enter else "Exit"
        return f"{self.type} {line}{suffix}"

    def __str__(self) -> str:
        return self.string_from_index()


@dataclass(frozen=True, slots=True)
class MutSource:
    """Where a traced (``ev_*``) mutation came from."""

    mach_id: str
    tx_id: str
    mach_time: int


class Mutation:
    """A queued request to change states. ``called`` holds state names."""

    __slots__ = (
        "args",
        "called",
        "canceled",
        "ctx",
        "done_event",
        "eval_fn",
        "eval_source",
        "is_auto",
        "is_check",
        "queue_tick",
        "source",
        "type",
    )

    def __init__(
        self,
        type: MutationType,
        called: list[str],
        args: dict[str, Any],
        is_auto: bool = False,
        is_check: bool = False,
        source: MutSource | None = None,
        queue_tick: int = 0,
        ctx: Ctx | None = None,
        eval_fn: Callable[[], Any] | None = None,
        eval_source: str = "",
        done_event: Any = None,
    ) -> None:
        self.type = type
        self.called = called
        self.args = args
        self.is_auto = is_auto
        self.is_check = is_check
        self.source = source
        self.queue_tick = queue_tick
        self.ctx = ctx
        self.eval_fn = eval_fn
        self.eval_source = eval_source
        # set when an eval timed out: skipped when its turn comes
        self.canceled = False
        # eval / check bookkeeping: a threading.Event set once it ran (or was skipped)
        self.done_event = done_event

    def string(self) -> str:
        return f"[{MUTATION_STR[self.type]}] {' '.join(self.called)}"

    def __str__(self) -> str:
        return self.string()

    def __repr__(self) -> str:
        return f"Mutation({self.string()!r}, queue_tick={self.queue_tick}, auto={self.is_auto})"

    def called_index(self, names: Sequence[str]) -> list[int]:
        idx = {n: i for i, n in enumerate(names)}
        return [idx.get(s, -1) for s in self.called]


@dataclass(frozen=True, slots=True)
class ExceptionPanic:
    """Details of a handler exception turned into the Exception state."""

    called_states: list[str]
    states_before: list[str]
    transition: Any
    handler: str = ""


@dataclass(frozen=True, slots=True)
class AException:
    """Typed args of the Exception state (key ``"_am__Exception"``)."""

    err: BaseException
    err_trace: str = ""
    panic: ExceptionPanic | None = None


ARG_EXCEPTION = "_am__Exception"
