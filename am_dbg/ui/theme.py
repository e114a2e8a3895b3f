"""The semantic palette (docs/architecture.md): widgets ask for a role, never a raw colour.

Colours are hex, not ANSI names: Textual maps ANSI names through its own theme (yellow turns orange).

Two rules keep the light theme readable on a dark terminal: every text cell a widget paints itself
(`render_line`) gets the widget's own style underneath (`Strip.apply_style(widget.rich_style)`),
so no cell is left to the terminal's default background (SGR 49); and borders, all drawn with
`$panel-lighten-2`, get a colour darker than the panels in the light theme (`css_variables`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style

__all__ = ["DARK", "LIGHT", "Palette", "css_variables", "palette"]


@dataclass(frozen=True, slots=True)
class Palette:
    active: str
    active2: str
    inactive: str
    highlight: str
    highlight2: str
    highlight3: str
    err: str
    err_bg: str
    err_recent: str
    grey: str
    dark_grey: str
    white: str
    yellow: str
    green: str

    def s(self, role: str, *, bold: bool = False, underline: bool = False) -> Style:
        """A Rich style for a role name (`"active"`, `"err"`, ...)."""
        return Style(color=getattr(self, role), bold=bold or None, underline=underline or None)

    @property
    def selection(self) -> Style:
        return Style(bgcolor=self.highlight2, color=self.white)


DARK = Palette(
    active="#FFFF00",
    active2="#ADFF2F",
    inactive="#32CD32",  # limegreen
    highlight="#2F4F4F",  # darkslategrey
    highlight2="#696969",  # dimgrey
    highlight3="#121212",
    err="#FF0000",
    err_bg="#CD5C5C",
    err_recent="#FF5FAF",
    grey="#A9A9A9",  # darkgrey
    dark_grey="#808080",
    white="#FFFFFF",
    yellow="#FFFF00",
    green="#008000",
)

LIGHT = Palette(
    active="#7B6200",
    active2="#005500",
    inactive="#007700",
    highlight="#C8DCE0",
    highlight2="#B0B8BB",
    highlight3="#EBEBEB",
    err="#CC0000",
    err_bg="#B03030",
    err_recent="#C7006B",
    grey="#555555",
    dark_grey="#888888",
    white="#111111",
    yellow="#8B7500",
    green="#006400",
)


def palette(name: str) -> Palette:
    return LIGHT if name == "light" else DARK


def css_variables(variables: dict[str, str], dark: bool) -> dict[str, str]:
    """Textual's theme variables with the border colour (`$panel-lighten-2`, used by every
    border) darker than the panels in a light theme: Textual's own is near-white on light grey."""
    if dark or "panel-darken-3" not in variables:
        return variables
    return {**variables, "panel-lighten-2": variables["panel-darken-3"]}
