"""``am-gen``, the one generator CLI: ``am-gen states ...`` (state-schema modules, am_core.gen)
and ``am-gen grafana ...`` (dashboards, am_rpc.telemetry); each subcommand is imported only when
used (docs/am-gen.md)."""

from __future__ import annotations

import sys

USAGE = """usage: am-gen {states,grafana} ...

  states   write a StatesBase module: am-gen states NAME --states Foo,Bar --inherit basic,connected
  grafana  a Grafana dashboard JSON for the Prometheus metrics: am-gen grafana --ids a,b
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd == "states":
        from am_core.gen.states import main as states_main

        return states_main(rest)
    if cmd == "grafana":
        from am_rpc.telemetry.gen_cli import main as grafana_main

        return grafana_main(args)
    sys.stderr.write(f"am-gen: unknown command {cmd!r}\n{USAGE}")
    return 2


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
