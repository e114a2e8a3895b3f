"""Keys typed right after the key that opened a dialog belong to the dialog, not to the panes behind.

A pushed screen focuses its input only once it is mounted; keys that arrive before that (typing
straight on after ctrl+g, a paste) reach the screen itself, where nothing reads them. `EarlyKeys`
keeps those keys and hands them, in order, to the widget that holds the focus once there is one.
"""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.screen import ModalScreen

__all__ = ["EarlyKeys"]

R = TypeVar("R")


class EarlyKeys(ModalScreen[R]):
    """A dialog that passes keys sent to itself on to its focused widget.

    A subclass of `ModalScreen`, not a mixin: Textual takes the CSS of the first base class only,
    and a dialog without `ModalScreen`'s CSS hides the screen behind it."""

    def __init__(self) -> None:
        super().__init__()
        self._direct: set[int] = set()  # ids of keys the app sent to this screen itself
        self._held: list[events.Key] = []

    def _forward_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._direct.add(id(event))
        super()._forward_event(event)

    def on_key(self, event: events.Key) -> None:
        if id(event) not in self._direct:
            return  # bubbled up from a widget: that widget already had it
        self._direct.discard(id(event))
        event.stop()
        event.prevent_default()
        self._held.append(events.Key(event.key, event.character))
        self.pass_held()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.pass_held()

    def pass_held(self) -> None:
        """Hand the held keys to the focused widget (call again once the focus is set)."""
        target = self.focused
        if target is None:
            return
        held, self._held = self._held, []
        for key in held:
            target.post_message(key)
