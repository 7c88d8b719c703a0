"""Developer tools: the fleet simulator, the benchmarks, the local service runners, the demo.

Not shipped in the wheel or the image: they run from a checkout (``make deps`` installs
the project editable, which puts the repository root, and so this package and
``firmware_py``, on the path).
"""
