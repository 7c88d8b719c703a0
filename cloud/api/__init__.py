"""The HTTP API's wiring: builds the runtime, mounts every domain's routes, maps errors.

No domain imports this package.
"""
