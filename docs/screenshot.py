"""Export the README screenshot (`docs/screenshot.svg`) from the real app on the shipped recording.

Run: ``python docs/screenshot.py [OUT.svg]``. The app runs headless (Textual's test driver) in its
test mode (fixed clock and figures), opens `recordings/demo.amdbg`, selects a worker of the worker
pool, steps back a few transitions from the end and saves what the terminal shows.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from am_dbg.config import parse_args
from am_dbg.ui.app import DbgApp

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "worker-2"


async def shoot(out: Path, size: tuple[int, int] = (150, 42)) -> None:
    rec = ROOT / "recordings" / "demo.amdbg"
    cfg, _ = parse_args(["-i", str(rec), "--listen-addr", "-1", "--test-mode", f"mach://{MACHINE}"])
    app = DbgApp(cfg)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.5)
        await pilot.press("end")  # the last transition, then a few back
        for _ in range(6):
            await pilot.press("left")
        await pilot.pause(0.5)
        app.save_screenshot(filename=out.name, path=str(out.parent))


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "screenshot.svg"
    asyncio.run(shoot(out.resolve()))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
