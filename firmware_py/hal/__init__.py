"""Hardware modules of a board (MicroPython ``machine``); each has a twin in ``firmware_py.host.twins``."""
