"""The Prometheus metric names and labels the exporter emits; the Grafana generator uses the same
constants, so a dashboard can only reference what is exported (docs/telemetry.md#prometheus)."""

from __future__ import annotations

TRANSITIONS = "am_transitions_total"
STATE_ACTIVATIONS = "am_state_activations_total"
STATE_ACTIVE = "am_state_active"
STATE_TICK = "am_state_tick"
QUEUE_LENGTH = "am_queue_length"
QUEUE_TICK = "am_queue_tick"
MACHINE_TICK = "am_machine_tick"
EXCEPTIONS = "am_exceptions_total"
HANDLER_DURATION = "am_handler_duration_seconds"

#: the sample names each metric family exposes (histograms: _bucket, _sum, _count)
SAMPLES: dict[str, tuple[str, ...]] = {
    TRANSITIONS: (TRANSITIONS,),
    STATE_ACTIVATIONS: (STATE_ACTIVATIONS,),
    STATE_ACTIVE: (STATE_ACTIVE,),
    STATE_TICK: (STATE_TICK,),
    QUEUE_LENGTH: (QUEUE_LENGTH,),
    QUEUE_TICK: (QUEUE_TICK,),
    MACHINE_TICK: (MACHINE_TICK,),
    EXCEPTIONS: (EXCEPTIONS,),
    HANDLER_DURATION: tuple(HANDLER_DURATION + s for s in ("_bucket", "_sum", "_count")),
}

#: every sample name the exporter can emit
ALL_SAMPLES = frozenset(s for names in SAMPLES.values() for s in names)

#: labels
MACHINE = "machine"
STATE = "state"
TYPE = "type"
RESULT = "result"

#: the label value that replaces machines / states beyond the cardinality bound
OTHER = "_other"
