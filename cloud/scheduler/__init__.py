"""The cloud's time-driven checks, run by one replica at a time under a database lease."""
