"""Diagram renderers (Mermaid, D2, DOT/SVG) and the `am-vis` CLI (docs/diagrams.md)."""
