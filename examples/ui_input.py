"""A UI-like machine: a text editor driven by a simulated user, with Multi input states.

Every key press, click and resize is a mutation of a **Multi** state (``KeyPress``, ``MouseClick``,
``Resize``): each one re-activates the state, ticks its clock and runs its handlers again, so the
input history is visible in am-dbg transition by transition. Rendering is an **Auto** state that
follows any input marked ``RenderPending``; saving is an Auto state that follows a save request.
An "open file" dialog is a child machine; while it is shown (piped into the editor's
``DialogOpen``), the editor refuses key presses.

What it shows in am-dbg:
- multi re-activations (``KeyPress``, ``MouseClick``, ``Resize``);
- canceled by negotiation: ``KeyPressEnter`` refuses keys while the dialog is open; canceled by a
  relation: ``ctrl+s`` with nothing to save (``SaveRequested`` requires ``Dirty``) and typing while
  unfocused (``KeyPress`` requires ``Focused``);
- auto transitions (``Rendering``, ``Saving``), queued mutations from handlers;
- errors: every third save fails (the first one too) inside an asyncio task (``OSError``),
  which becomes the ``Exception`` state with its stack trace; the user saves again later;
- parent/child machines (``editor`` -> ``dialog``), tags, external log lines (``mach.log``).

Run: ``python examples/ui_input.py`` (``-v`` prints the log; ``AM_DBG_ADDR=1`` streams to am-dbg).
"""

from __future__ import annotations

import asyncio
import sys

from kit import Example, run

from am_core import Event, ExceptionHandler, LogLevel, Machine, State, pipes
from am_core.states import BasicStates

WORDS = ("state", "machine", "relation", "clock", "queue", "handler", "auto", "multi", "tick")


class EditorStates(BasicStates):
    """Input events are multi states; the rest is the editor's condition."""

    KeyPress = State(multi=True, require=["Focused"])
    MouseClick = State(multi=True, require=["Start"])
    Resize = State(multi=True, require=["Start"])
    Focused = State(require=["Start"])
    Editing = State(require=["Focused"])
    Dirty = State(require=["Start"], remove=["Saved"])
    RenderPending = State(require=["Start"])
    Rendering = State(auto=True, require=["RenderPending"])
    SaveRequested = State(require=["Dirty"])
    Saving = State(auto=True, require=["SaveRequested"])
    Saved = State(remove=["Dirty", "SaveRequested", "Saving"])
    DialogOpen = State(require=["Start"], remove=["Editing"])


class DialogStates(BasicStates):
    Shown = State(require=["Start"], remove=["Confirmed", "Dismissed"])
    Confirmed = State(multi=True, remove=["Shown"])
    Dismissed = State(multi=True, remove=["Shown"])


class Editor(ExceptionHandler):
    def __init__(self, ex: Example, mach: Machine) -> None:
        self.ex = ex
        self.mach = mach
        self.text: list[str] = []
        self.saves = 0
        self.frames = 0

    def KeyPressEnter(self, e: Event) -> bool:
        return not self.mach.is1("DialogOpen")  # a modal dialog swallows the keys

    def KeyPressState(self, e: Event) -> None:
        key = e.args["key"]
        if key == "ctrl+s":
            self.mach.add1("SaveRequested")  # queued; canceled if nothing is Dirty
            return
        if key == "escape":
            self.mach.remove1("Editing")
            return
        self.text.append(" " if key == "space" else key)
        self.mach.add(["Editing", "Dirty", "RenderPending"])

    def MouseClickState(self, e: Event) -> None:
        if e.args["y"] > 20:  # below the text area: the editor loses focus
            self.mach.remove1("Focused")
        else:
            self.mach.add(["Focused", "RenderPending"])

    def ResizeState(self, e: Event) -> None:
        self.mach.add1("RenderPending")

    def RenderingState(self, e: Event) -> None:
        self.frames += 1
        self.mach.remove(["RenderPending", "Rendering"])  # drawn: next input renders again

    def SavingState(self, e: Event) -> None:
        self.saves += 1
        n, size = self.saves, len("".join(self.text))

        async def save() -> None:
            await asyncio.sleep(0.05)
            if n % 3 == 1:
                raise OSError(28, f"No space left on device while saving draft-{n}.txt")
            self.mach.log("saved draft-%d.txt (%d bytes)", n, size)
            self.mach.add1("Saved", {"path": f"draft-{n}.txt"})

        self.mach.fork(self.mach.new_state_ctx("Saving"), e, save)

    def ExceptionState(self, e: Event) -> None:
        super().ExceptionState(e)  # "[error] ..." with the stack trace
        # the save failed: clear the error and the request; the user will press ctrl+s again
        self.mach.remove(["Exception", "SaveRequested"])


class User:
    """A seeded script of input events: typing, saving, clicking, resizing, dialogs."""

    def __init__(self, ex: Example, editor: Machine, dialog: Machine) -> None:
        self.ex = ex
        self.editor = editor
        self.dialog = dialog
        self.canceled = 0

    def press(self, key: str) -> None:
        if self.editor.add1("KeyPress", {"key": key}) == 1:  # 1 = canceled
            self.canceled += 1

    async def type_word(self, word: str) -> bool:
        for ch in word:
            self.press(ch)
            if not await self.ex.sleep(self.ex.rng.uniform(0.01, 0.04)):
                return False
        self.press("space")
        return True

    async def intro(self) -> None:
        """Every behaviour once, in the first second or two; then the user acts at random."""
        ed, sleep = self.editor, self.ex.sleep
        await self.type_word("hello")  # KeyPress re-activations, Rendering (auto)
        self.press("ctrl+s")  # save #1 fails: Exception with a stack trace
        await sleep(0.2)
        self.press("ctrl+s")  # save #2 works: Saved, nothing is Dirty any more
        await sleep(0.2)
        self.press("ctrl+s")  # canceled by the Require relation of SaveRequested
        ed.add1("MouseClick", {"x": 5, "y": 22})  # outside the text: focus lost
        self.press("x")  # canceled by the Require relation of KeyPress
        ed.add1("MouseClick", {"x": 5, "y": 3})
        await self.dialog_flow()  # keys refused by KeyPressEnter (negotiation)

    async def dialog_flow(self) -> None:
        self.dialog.add1("Shown", {"name": "open file"})
        if not await self.ex.sleep(0.05):  # the pipe shows it in the editor meanwhile
            return
        for ch in "readme":  # typing into the dialog: the editor refuses these keys
            self.press(ch)
        await self.ex.sleep(0.3)
        self.dialog.add1("Confirmed" if self.ex.rng.random() < 0.5 else "Dismissed")
        self.editor.add1("MouseClick", {"x": 10, "y": 5})

    async def act(self) -> None:
        rng, ed = self.ex.rng, self.editor
        roll = rng.random()
        if roll < 0.55:
            await self.type_word(rng.choice(WORDS))
        elif roll < 0.75:
            self.press("ctrl+s")
            self.press("ctrl+s")  # impatient: the second one finds nothing to save, or a dialog
        elif roll < 0.80:
            ed.add1("MouseClick", {"x": rng.randint(0, 80), "y": rng.randint(0, 24)})
        elif roll < 0.88:
            ed.add1("Resize", {"w": rng.randint(60, 200), "h": rng.randint(20, 60)})
        elif roll < 0.93:
            self.press("escape")
        else:
            await self.dialog_flow()


async def main(ex: Example) -> str:
    loop = asyncio.get_running_loop()
    ed = Machine(EditorStates.schema(), id="editor", tags=["ui", "editor"], loop=loop)
    ed.verify_states(EditorStates.names())
    ex.track(ed, LogLevel.DECISIONS, ("key", "x", "y", "w", "h"))
    editor = Editor(ex, ed)
    ed.handlers_bind(editor, id="editor")

    dlg = Machine(DialogStates.schema(), id="dialog", parent=ed, tags=["ui", "dialog"], loop=loop)
    dlg.verify_states(DialogStates.names())
    ex.track(dlg, LogLevel.OPS)
    pipes.bind(dlg, ed, "Shown", "DialogOpen")
    dlg.add1("Start")

    ed.add(["Start", "Focused"])
    ed.add1("Resize", {"w": 120, "h": 40})
    user = User(ex, ed, dlg)
    await user.intro()
    while not ex.stop.is_set():
        await user.act()
        if not await ex.sleep(ex.rng.uniform(0.03, 0.12)):
            break
    ed.remove1("Start")
    return (
        f"ui_input: {len(editor.text)} chars typed, {editor.saves} saves, "
        f"{editor.frames} frames, {user.canceled} key presses refused"
    )


if __name__ == "__main__":
    sys.exit(run(main, __doc__))
