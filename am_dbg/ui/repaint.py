"""Repaint only what changed: a pane's border title without its body.

Textual's `border_title` setter repaints the whole widget, even when the title did not change. The
panes that put live figures in their titles (machine time, counts) would then redraw every line of
their body on each frame. `set_border_title` skips an unchanged title and, for a changed one,
repaints just the top border row (the title is drawn only there).
"""

from __future__ import annotations

from textual.geometry import Region
from textual.widget import Widget

__all__ = ["set_border_title"]


def set_border_title(widget: Widget, title: str) -> bool:
    """Show `title` (console markup) on `widget`'s top border; True when it changed."""
    shown: str | None = getattr(widget, "_am_title", None)
    if shown == title:
        return False
    widget._am_title = title  # type: ignore[attr-defined]
    size = widget.outer_size
    if shown is None or not widget.is_mounted or not size or not hasattr(widget, "_border_title"):
        widget.border_title = title  # first title, or not laid out yet: the plain setter
        return True
    # what the setter stores, without its full repaint
    widget._border_title = widget.render_str(title).expand_tabs(4).split()[0]
    off = widget.content_offset  # refresh regions are content-relative: reach the border row
    widget.refresh(Region(-off.x, -off.y, size.width, 1))
    return True
