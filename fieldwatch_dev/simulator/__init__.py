"""The fleet simulator: real agent code on simulated hardware against a real broker.

``scenario`` reads a scenario file, ``world`` turns it into where each wearer
is and what each river holds at any simulated second, ``fleet`` runs the
devices (agents, boards, twins, host transport) on a simulated clock, and
``fieldwatch_dev.simulate`` is the command line.
"""
