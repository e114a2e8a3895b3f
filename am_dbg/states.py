"""The debugger's own schema (docs/architecture.md): every input becomes a mutation of these states.

Keys, clicks, network batches and timers add states; the handlers in `am_dbg/ui/handlers.py` move the
cursor and update the widgets. Serialising everything through one machine makes the UI scriptable
(tests drive it by adding states) and lets another am-dbg debug this one.

Input events are `multi` (each occurrence re-enters). User intents and actions are plain states that
their final handler removes right away (queued), so every key press is one accepted or canceled
transition (`FwdEnter` refuses a move past the end) and an intent's `remove` relations never stay
around to block a later `TailMode` / `Playing`. Exclusive groups use mutual `remove`.
"""

from __future__ import annotations

from am_core import State, StatesBase

__all__ = ["FOCUS", "PLAYBACK", "DbgStates"]

_PLAY = ["Playing", "TailMode"]

FOCUS = [
    "AddressFocused",
    "ClientListFocused",
    "TreeGroupsFocused",
    "TreeFocused",
    "LogFocused",
    "LogReaderFocused",
    "MatrixFocused",
    "TimelineTxsFocused",
    "TimelineStepsFocused",
    "ToolbarFocused",
    "DialogFocused",
]
PLAYBACK = ["Playing", "Paused", "TailMode"]


def _focus(name: str, **kw: object) -> State:
    return State(remove=[f for f in FOCUS if f != name], **kw)  # type: ignore[arg-type]


class BasicStates(StatesBase):
    """Lifecycle and errors every machine we ship has (pkg/states' basic schema)."""

    Exception = State(multi=True)
    ErrNetwork = State(multi=True, require=["Exception"], add=["Exception"])
    ErrHandlerTimeout = State(multi=True, require=["Exception"], add=["Exception"])
    Start = State()
    Ready = State(require=["Start"])
    Healthcheck = State(multi=True)
    Heartbeat = State()


class DbgStates(BasicStates):
    """States of am-dbg's UI machine, grouped as in §7.1."""

    # --- served over aRPC (am-dbg --ui-repl): what a client's NetMachine adds when its own
    # handler fails (aRPC spec §1.1: a source with handlers has it)
    ErrOnClient = State(require=["Exception"])

    # --- input events (multi, require Start) ---
    ConnectEvent = State(multi=True, require=["Start"])
    ClientMsg = State(multi=True, require=["Start"])
    DisconnectEvent = State(multi=True, require=["Start"])
    Resized = State(multi=True, require=["Start"])

    # --- user intents: stop play/tail, then ask for the move ---
    UserFwd = State(add=["Fwd"], remove=[*_PLAY, "LogUserScrolled"])
    UserBack = State(add=["Back"], remove=[*_PLAY, "LogUserScrolled"])
    UserFwdStep = State(
        add=["FwdStep"], require=["ClientSelected"], remove=[*_PLAY, "LogUserScrolled"]
    )
    UserBackStep = State(
        add=["BackStep"], require=["ClientSelected"], remove=[*_PLAY, "LogUserScrolled"]
    )

    # --- focus (exactly one) ---
    AddressFocused = _focus("AddressFocused")
    ClientListFocused = _focus("ClientListFocused")
    TreeGroupsFocused = _focus("TreeGroupsFocused")
    TreeFocused = _focus("TreeFocused")
    LogFocused = _focus("LogFocused")
    LogReaderFocused = _focus("LogReaderFocused", require=["LogReaderVisible"])
    MatrixFocused = _focus("MatrixFocused")
    TimelineTxsFocused = _focus("TimelineTxsFocused")
    TimelineStepsFocused = _focus("TimelineStepsFocused")
    ToolbarFocused = _focus("ToolbarFocused")
    DialogFocused = _focus("DialogFocused")
    AfterFocus = State(multi=True)

    # --- views and layout ---
    TreeLogView = State(auto=True, remove=["TreeMatrixView", "MatrixView", "MatrixRain"])
    TreeMatrixView = State(remove=["TreeLogView", "MatrixView", "LogReaderVisible"])
    MatrixView = State(remove=["TreeLogView", "TreeMatrixView", "LogReaderVisible"])
    MatrixRain = State(require=["ClientSelected"])
    LogReaderEnabled = State()
    LogReaderVisible = State(auto=True, require=["TreeLogView", "LogReaderEnabled"])
    NarrowLayout = State(require=["Ready"], remove=["ClientListVisible"])
    UserNarrowLayout = State(add=["NarrowLayout"])
    ClientListVisible = State()
    TimelineTxHidden = State(require=["TimelineStepsHidden"])
    TimelineStepsHidden = State()
    HelpDialog = State(add=["DialogFocused"], remove=["ExportDialog"])
    ExportDialog = State(add=["DialogFocused"], remove=["HelpDialog"])
    Redraw = State(multi=True)

    # --- external state / status ---
    SelectingClient = State(require=["Start"], remove=["ClientSelected"])
    ClientSelected = State(require=["Start"], remove=["SelectingClient"])
    TxSelected = State(require=["ClientSelected"])
    StateNameSelected = State(multi=True, require=["ClientSelected"])
    TimelineStepsScrolled = State(require=["ClientSelected"])
    LogUserScrolled = State(remove=_PLAY)

    # --- filters (active = hidden, like the CLI flags) ---
    FilterAutoTx = State(remove=["FilterAutoCanceledTx"])
    FilterAutoCanceledTx = State(remove=["FilterAutoTx"])
    FilterCanceledTx = State()
    FilterQueuedTx = State()
    FilterEmptyTx = State()
    FilterHealth = State()
    FilterChecks = State()
    FilterOutGroup = State()
    FilterDisconn = State()
    FilterRpcMachs = State()
    LogTimestamps = State()

    # --- playback (one at a time; Paused is the fallback) ---
    Playing = State(require=["ClientSelected"], remove=["Paused", "TailMode", "LogUserScrolled"])
    Paused = State(auto=True, require=["ClientSelected"], remove=["Playing", "TailMode"])
    TailMode = State(require=["ClientSelected"], remove=["Playing", "Paused", "LogUserScrolled"])

    # --- actions (self-removing: their final handler removes them, like Go's `defer Remove1`) ---
    Fwd = State(require=["ClientSelected"])
    Back = State(require=["ClientSelected"])
    FwdStep = State(require=["ClientSelected"])
    BackStep = State(require=["ClientSelected"])
    ScrollToTx = State(require=["ClientSelected"])
    ScrollToStep = State(require=["ClientSelected"])
    ScrollToMutTx = State(require=["ClientSelected"])
    RemoveClient = State()
    SetGroup = State(require=["ClientSelected"])
    ToggleTool = State()
    ToolToggled = State()
    SetLogLevel = State()
