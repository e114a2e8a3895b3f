"""Code generators: :mod:`am_core.gen.states` writes ``StatesBase`` modules (``am-gen states``,
docs/am-gen.md)."""

from .states import INHERITABLE, render_states, write_states

__all__ = ["INHERITABLE", "render_states", "write_states"]
