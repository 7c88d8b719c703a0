"""Host stand-ins for a board's hardware and MQTT client.

``twins`` (MicroPython subset, so the VM tests use it too) holds the simulated
twin of each HAL module; ``paho_link`` (CPython only) is the host transport;
``mypy_typeshed`` (CPython only) lays out the MicroPython stubs for type checking.
"""
