"""The one table of key bindings: the app's `BINDINGS`, the footer and the help screen all come from it.

Keys are chosen to survive common terminals and tmux: Alt+arrows reach Textual as Escape followed by
the arrow (so they are not used); Alt+letter arrives as one `alt+x` key and is kept for Go users, and
every Alt binding has a plain alternative (`[` `]` `,` `.` `<` `>` ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

__all__ = ["BINDINGS", "KeySpec", "app_bindings", "key_label"]


@dataclass(frozen=True, slots=True)
class KeySpec:
    keys: str  # comma-separated Textual key names; the first one is shown in the footer
    action: str  # app action name (without `action_`)
    description: str  # footer / help text
    footer: bool = False  # shown in the footer (the help screen shows every binding)
    group: str = "time"  # help section: time | view | filters | panes | app
    # checked before the focused widget's own bindings; the keys that open a dialog must be, so
    # that keys typed straight after them reach the dialog, not the pane behind it
    priority: bool = False


BINDINGS: tuple[KeySpec, ...] = (
    # moving through time
    KeySpec("right", "tx_fwd", "next tx", footer=True, priority=True),
    KeySpec("left", "tx_back", "prev tx", footer=True, priority=True),
    KeySpec("full_stop,alt+k", "fwd_step", "step fwd", footer=True, priority=True),
    KeySpec("comma,alt+j", "back_step", "step back", footer=True, priority=True),
    KeySpec("right_square_bracket,alt+l", "jump_fwd", "jump fwd", footer=True, priority=True),
    KeySpec("left_square_bracket,alt+h", "jump_back", "jump back", footer=True, priority=True),
    KeySpec("greater_than_sign,end", "last", "last tx", priority=True),
    KeySpec("less_than_sign,home", "first", "first tx", priority=True),
    KeySpec("space", "play", "play/pause", footer=True, priority=True),
    KeySpec("ctrl+t,alt+v", "tail", "tail", footer=True, priority=True),
    # machines and panes
    KeySpec("tab", "focus_next_pane", "next pane", group="panes", priority=True),
    KeySpec("shift+tab", "focus_prev_pane", "prev pane", group="panes", priority=True),
    KeySpec("ctrl+up", "prev_machine", "prev machine", group="panes"),
    KeySpec("ctrl+down", "next_machine", "next machine", group="panes"),
    KeySpec("backspace,alt+d", "remove_machine", "remove machine", group="panes"),
    KeySpec("equals_sign,alt+e", "expand_all", "expand/collapse tree", group="panes"),
    KeySpec("escape", "escape", "close / default pane", group="panes"),
    KeySpec("ctrl+f,alt+f", "focus_toolbar", "toolbar", group="panes"),
    # views and addresses (part 2)
    KeySpec("f2,alt+m", "cycle_view", "cycle views", footer=True, group="panes"),
    KeySpec("f3,alt+r", "toggle_rain", "rain view", group="panes"),
    KeySpec("f4,alt+o", "toggle_reader", "log reader", group="panes"),
    KeySpec("f6,alt+w", "toggle_wrap", "wrap log lines", group="panes"),
    KeySpec("f7,alt+g", "toggle_diagram", "diagram view", group="panes"),
    KeySpec("ctrl+g", "goto_url", "go to address", group="panes", priority=True),
    KeySpec("alt+c", "copy_url", "copy address", group="panes"),
    KeySpec("ctrl+v", "paste_url", "paste address", group="panes", priority=True),
    KeySpec("ctrl+o", "history_back", "address history back", group="panes"),
    KeySpec("ctrl+n", "history_fwd", "address history forward", group="panes"),
    # filters
    KeySpec("0,1,2,3,4,5", "log_level_key", "log level 0-5", group="filters"),
    KeySpec("ctrl+l", "cycle_log_level", "log level", group="filters"),
    # app
    KeySpec("f5,alt+s", "export", "export", group="app", priority=True),
    KeySpec("f9,alt+t", "toggle_theme", "dark/light theme", group="app"),
    KeySpec("question_mark,f1", "help", "help", footer=True, group="app", priority=True),
    KeySpec("ctrl+q", "quit", "quit", footer=True, group="app", priority=True),
)

_NAMES = {
    "right": "→",
    "left": "←",
    "up": "↑",
    "down": "↓",
    "full_stop": ".",
    "comma": ",",
    "right_square_bracket": "]",
    "left_square_bracket": "[",
    "greater_than_sign": ">",
    "less_than_sign": "<",
    "question_mark": "?",
    "equals_sign": "=",
    "space": "space",
    "escape": "esc",
    "backspace": "bksp",
    "up_arrow": "↑",
}


def key_label(key: str) -> str:
    """Human form of one Textual key name: `alt+l` -> `alt+l`, `right_square_bracket` -> `]`."""
    parts = key.split("+")
    parts[-1] = _NAMES.get(parts[-1], parts[-1])
    return "+".join(parts)


def app_bindings() -> list[Binding]:
    """Textual bindings for the app, one per key (so each key gets its own label in the help)."""
    out: list[Binding] = []
    for spec in BINDINGS:
        keys = spec.keys.split(",")
        if spec.action == "log_level_key":
            out.extend(
                Binding(k, f"log_level({k})", spec.description, show=False, priority=spec.priority)
                for k in keys
            )
            continue
        out.append(
            Binding(
                keys[0],
                spec.action,
                spec.description,
                show=spec.footer,
                key_display=key_label(keys[0]),
                priority=spec.priority,
            )
        )
        out.extend(
            Binding(k, spec.action, spec.description, show=False, priority=spec.priority)
            for k in keys[1:]
        )
    return out
