"""The SVG of the demo recording opens in a real browser (headless Chromium) and shows the graph;
in the SVGs of the demo recording and of the Go fixture no two node boxes overlap (read from the
SVG's polygons). `.ci/run` installs graphviz + chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from am_dbg.model.diagram import machine_diagram
from am_dbg.model.session import Session
from am_dbg.recordings.io import load
from am_dbg.vis.svg import to_svg
from tests.dbg.vis import png

ROOT = Path(__file__).resolve().parents[3]
NS = {"s": "http://www.w3.org/2000/svg"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz (.ci/run)")


DEMO, GO = ROOT / "recordings" / "demo.amdbg", ROOT / "tests" / "data" / "am-dbg-sim.gob.br"


def _svg(mach: str, path: Path = DEMO) -> tuple[str, list[str]]:
    s = Session(clean_on_connect=False, max_mem_bytes=2**62)
    s.load(load(path).machines)
    h = s.machines[mach]
    return to_svg(machine_diagram(h, len(h) - 1)), list(h.state_names)


def _boxes(svg: str) -> dict[str, tuple[float, float, float, float]]:
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        if "node" not in (g.get("class") or "").split():
            continue
        name = g.findtext("s:text", namespaces=NS)
        pts = [
            tuple(map(float, p.split(",")))
            for poly in g.findall("s:polygon", NS)
            for p in (poly.get("points") or "").split()
        ]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        assert name and xs, g.attrib
        out[name] = (min(xs), min(ys), max(xs), max(ys))
    return out


@pytest.mark.parametrize(
    ("path", "mach"),
    [(DEMO, "editor"), (DEMO, "supervisor"), (DEMO, "rc-worker-1"), (GO, "sim-p11"), (GO, "sim")],
)
def test_svg_every_state_no_overlap(path: Path, mach: str) -> None:
    svg, names = _svg(mach, path)
    boxes = _boxes(svg)
    assert sorted(boxes) == sorted(names)
    items = sorted(boxes.items())
    for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(items):
        for b, (bx0, by0, bx1, by1) in items[i + 1 :]:
            overlap = ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1
            assert not overlap, f"{a} overlaps {b}"


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (.ci/run)")
def test_svg_screenshot_shows_graph(tmp_path: Path) -> None:
    svg, _ = _svg("editor")
    (tmp_path / "d.svg").write_text(svg)
    m = re.search(r'<svg width="(\d+)pt" height="(\d+)pt"', svg)
    assert m
    w, h = int(int(m[1]) * 4 / 3) + 20, int(int(m[2]) * 4 / 3) + 20
    shot = tmp_path / "out.png"
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--screenshot={shot}",
                f"--window-size={w},{h}",
                (tmp_path / "d.svg").as_uri(),
            ],
            capture_output=True,
            timeout=180,
            check=False,
        )
    assert shot.exists(), run.stderr.decode(errors="replace")[-2000:]
    dark, total = png.non_white(shot.read_bytes())
    # boxes, fills, edges and labels: a blank or error page is (nearly) all white
    assert dark > total * 0.03, (dark, total)


def test_png_decoder_sees_blank() -> None:
    """The check above can fail: a white PNG has no dark pixels."""
    import struct
    import zlib

    w, h = 4, 3
    raw = b"".join(b"\x00" + b"\xff" * (w * 3) for _ in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)

    def chunk(k: bytes, b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b))

    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    assert png.non_white(data) == (0, 12)
