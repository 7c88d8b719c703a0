"""fieldwatch device firmware: agents, their shared logic, parsers and HAL.

Frozen onto a board as the ``firmware_py`` package (see ``manifest.py``), so the
same import names work on the device, on the MicroPython VM and on CPython.
"""
