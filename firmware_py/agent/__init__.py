"""Behaviour every fieldwatch device shares, as sans-IO logic.

Nothing here reads a clock, a socket or a pin: callers pass ``now`` (whole
seconds since 1970, device time) and the readings, and collect the messages
to publish. The same code runs on a board, on the MicroPython VM and behind
the host transport of the fleet simulator.
"""
