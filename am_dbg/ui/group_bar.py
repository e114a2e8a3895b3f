"""The group dropdown above the states tree (docs/architecture.md).

One line, ` Group: <selected> ▾`; Enter or a click opens the list: `all`, then `<group>:<count>` for
each schema group in display order (the `StatesDef` suffix stripped, `self` shown as `- self` and every
group after it prefixed with `- `, being inherited ones, spec §2.1). Picking one posts `Selected`
with the schema's group name ("" = all), which the app turns into a `SetGroup` mutation.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from am_dbg.ui.theme import Palette
from am_rpc.dbg.protocol import SchemaMsg

__all__ = ["GroupBar", "GroupPicker", "group_options"]


def group_options(schema: SchemaMsg | None) -> list[tuple[str, str]]:
    """(label, group name) pairs: `all` first, then the display list of spec §2.1."""
    out = [("all", "")]
    if schema is None:
        return out
    order = [g for g in schema.groups_order if g in schema.groups] or list(schema.groups)
    after_self = False
    for g in order:
        name = g.removesuffix("StatesDef")
        if g == "self":
            after_self = True
            label = "- self"
        else:
            label = ("- " if after_self else "") + name
        out.append((f"{label}:{len(schema.groups[g])}", g))
    return out


class GroupPicker(ModalScreen[str | None]):
    """The opened dropdown; dismisses with the picked group name, or None (Esc)."""

    DEFAULT_CSS = """
    GroupPicker { align: left top; background: transparent; }
    #group-box { width: 40; height: auto; max-height: 20; margin: 3 0 0 0; }
    #group-list { height: auto; max-height: 18; border: round $panel-lighten-2; }
    """
    BINDINGS = [Binding("escape", "cancel", show=False)]

    def __init__(self, options: list[tuple[str, str]], selected: str, x: int) -> None:
        super().__init__()
        self.options = options
        self.selected = selected
        self.x = x

    def compose(self) -> ComposeResult:
        with Vertical(id="group-box"):
            yield OptionList(
                *(Option(label, id=f"g{k}") for k, (label, _) in enumerate(self.options)),
                id="group-list",
            )

    def on_mount(self) -> None:
        box = self.query_one("#group-box")
        box.styles.margin = (3, 0, 0, self.x)
        lst = self.query_one(OptionList)
        names = [g for _, g in self.options]
        lst.highlighted = names.index(self.selected) if self.selected in names else 0
        lst.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.options[event.option_index][1])

    def on_click(self, event: events.Click) -> None:
        if self.get_widget_at(event.screen_x, event.screen_y)[0] is self:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class GroupBar(Widget, can_focus=True):
    """` Group: <label> ▾`; the app feeds it the selected machine's schema and group."""

    DEFAULT_CSS = """
    GroupBar { height: 1; background: $panel; }
    GroupBar:focus { background: #003300; }
    """
    BINDINGS = [Binding("enter,space", "open", show=False)]

    class Selected(Message):
        def __init__(self, group: str) -> None:
            super().__init__()
            self.group = group

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self.schema: SchemaMsg | None = None
        self.group = ""
        self._sig: tuple[object, ...] = ()

    def show(self, schema: SchemaMsg | None, group: str) -> None:
        if (id(schema), group) == self._sig:
            return
        self._sig = (id(schema), group)
        self.schema, self.group = schema, group
        self.refresh()

    def render(self) -> RenderableType:
        label = next((lbl for lbl, g in group_options(self.schema) if g == self.group), "all")
        t = Text(" Group: ", Style(color=self.pal.grey))
        t.append(label.lstrip("- "), Style(color=self.pal.active, bold=True))
        t.append(" ▾", Style(color=self.pal.grey))
        return t

    def action_open(self) -> None:
        if self.schema is None:
            return
        self.app.push_screen(
            GroupPicker(group_options(self.schema), self.group, self.region.x), self._picked
        )

    def _picked(self, group: str | None) -> None:
        if group is not None and group != self.group:
            self.post_message(self.Selected(group))

    def on_click(self) -> None:
        self.action_open()
