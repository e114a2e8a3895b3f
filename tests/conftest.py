"""Load our pytest plugin from this tree when the installed package does not register it yet
(an editable install made before the ``pytest11`` entry point existed)."""

from importlib.metadata import entry_points

if not any(ep.value == "am_core.testing.plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["am_core.testing.plugin"]
