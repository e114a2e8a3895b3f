"""What each example program must stream to am-dbg: its machines (with parents) and kinds."""

from __future__ import annotations

# example -> (machine id -> parent id, kinds it must show)
EXPECTED: dict[str, tuple[dict[str, str], set[str]]] = {
    "worker_pool": (
        {
            "supervisor": "",
            **{f"worker-{n}": "supervisor" for n in (1, 2, 3)},
            **{f"rc-worker-{n}": "" for n in (1, 2, 3)},
            **{f"rm-worker-{n}": "" for n in (1, 2, 3)},
            **{f"rs-worker-{n}-1": f"rm-worker-{n}" for n in (1, 2, 3)},
        },
        {
            "canceled by negotiation",
            "queued mutation",
            "auto transition",
            "multi re-activation",
            "exception with stack trace",
            "parent/child",
            "tags",
        },
    ),
    "pipeline": (
        {"pipeline": "", "lane-1": "pipeline", "lane-2": "pipeline", "lane-3": "pipeline"},
        {
            "canceled by negotiation",
            "queued mutation",
            "auto transition",
            "multi re-activation",
            "exception with stack trace",
            "parent/child",
            "tags",
            "log level 1 external",
            "log level 5 everything",
        },
    ),
    "net_client": (
        {"echo-server": "", "net-client": "", "net-app": "net-client"},
        {
            "canceled by relation",
            "canceled by negotiation",
            "auto transition",
            "multi re-activation",
            "exception with stack trace",
            "parent/child",
            "tags",
        },
    ),
    "ui_input": (
        {"editor": "", "dialog": "editor"},
        {
            "canceled by relation",
            "canceled by negotiation",
            "queued mutation",
            "auto transition",
            "multi re-activation",
            "exception with stack trace",
            "parent/child",
            "tags",
            "log level 1 external",
            "log level 4 decisions",
        },
    ),
}
