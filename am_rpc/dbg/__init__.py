"""am-dbg telemetry: the message definitions and the sender that streams a machine to am-dbg."""
