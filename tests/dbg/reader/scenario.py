"""A small network of real am_core machines streamed over a real socket, for the reader.

`orders` handles `Order` by adding `Pay` on `payments` (a traced cross-machine mutation: its
`[source]` line points back), `payments` adds `Ship` on `shipping` from its handler (a chain of
two sources), and `orders` keeps a When subscription, a state context and a pipe open, queues
mutations from a handler and passes arguments. Recorded with `record_live` (fixed receive times).
"""

from __future__ import annotations

from typing import Any

from am_core import LogLevel, Machine, State, pipes
from am_core.semlogger import new_log_args_mapper
from am_rpc.dbg import connect

SCHEMA = {
    "Start": State(),
    "Order": State(multi=True, require=["Start"]),
    "Pay": State(require=["Start"]),
    "Ship": State(require=["Start"]),
    "Done": State(),
    "Exception": State(multi=True),
}


class OrdersHandlers:
    def __init__(self, payments: Machine) -> None:
        self.payments = payments

    def OrderState(self, e: Any) -> None:
        self.payments.ev_add1(e, "Pay", {"id": e.args.get("id", "")})
        e.machine().add1("Done")  # queued: we are inside a handler


class PaymentsHandlers:
    def __init__(self, shipping: Machine) -> None:
        self.shipping = shipping

    def PayState(self, e: Any) -> None:
        self.shipping.ev_add1(e, "Ship")


def orders_network(addr: str) -> tuple[list[Machine], list[Any]]:
    shipping = Machine(dict(SCHEMA), id="shipping", tags=["svc:ship"])
    payments = Machine(dict(SCHEMA), id="payments", tags=["svc:pay"])
    orders = Machine(dict(SCHEMA), id="orders", tags=["svc:orders"])
    machs = [orders, payments, shipping]
    for m in machs:
        m.verify_states(list(SCHEMA))
        m.semlogger().set_args_mapper(new_log_args_mapper(names=["id"]))
    tracers = [connect(m, addr) for m in machs]
    for m in machs:  # after connecting: the `[tracers] bind <random port>` line stays unlogged
        m.semlogger().set_level(LogLevel.OPS)
    for m in machs:
        m.add1("Start")
    payments.handlers_bind(PaymentsHandlers(shipping))
    orders.handlers_bind(OrdersHandlers(payments))
    # flat pipes: synchronous, so every transition id is drawn in the same order on every run
    orders.handlers_bind_maps(
        finals={
            "DoneState": pipes.add_flat(orders, shipping, "Done"),
            "DoneEnd": pipes.remove_flat(orders, shipping, "Done"),
        }
    )
    orders.when1("Ship")  # opened on orders, never matched
    orders.new_state_ctx("Start")
    orders.add1("Order", {"id": "o-1"})
    orders.add1("Order", {"id": "o-2"})
    return machs, tracers
