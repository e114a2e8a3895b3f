"""A PubSub member process for the tests: ``python member_proc.py URL TOPIC MEMBER_ID``.

Joins with one machine ``<MEMBER_ID>-m`` (heartbeat 0.3 s), prints ``joined``, then adds/removes
states read from stdin lines (``+Foo`` / ``-Foo``) until killed or stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

import nats

from am_core import Machine, State
from am_rpc.nats import join


async def main() -> None:
    url, topic, mid = sys.argv[1], sys.argv[2], sys.argv[3]
    nc = await nats.connect(url)
    mach = Machine({"Foo": State(), "Bar": State(require=["Foo"])}, id=f"{mid}-m")
    ps = await join(nc, topic, [mach], member_id=mid, heartbeat=0.3)
    print("joined", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line.startswith("+"):
            mach.add1(line[1:])
        elif line.startswith("-"):
            mach.remove1(line[1:])
        print("ok", flush=True)
    await ps.close()
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
