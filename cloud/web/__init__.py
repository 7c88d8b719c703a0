"""What every domain's routes share: the running service's parts, a session, the clock,
the caller-independent request shapes (ids, text, time windows), the error answers.

Imports no domain: domains import it.
"""
