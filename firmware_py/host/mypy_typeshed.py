"""Lay out the MicroPython typeshed that firmware_py/mypy.ini checks the board code against.

CPython only, a build tool (``make typecheck`` runs it); never frozen. The two
stub packages from the dev group do not install in a form mypy can use as is:
``micropython-stdlib-stubs`` puts a typeshed-shaped ``stdlib/`` (with its
``VERSIONS``), ``stubs/mypy-extensions`` and the ``_mpy_shed`` helpers at the top
of site-packages, and ``micropython-esp32-stubs`` puts the port's modules
(``machine``, ``network``, ``time``, ``gc``, ``umqtt``...) there as bare ``.pyi``
files, which PEP 561 lookup ignores. Site-packages itself cannot go on
``mypy_path`` either: its CPython modules (``typing_extensions.py``) would shadow
the stubs. So this links each stub file of the two installed distributions, as
their RECORD lists it, into one directory in typeshed layout: the stdlib as it
is, the port's modules and ``_mpy_shed`` beside it in ``stdlib/``. mypy then uses
it as ``custom_typeshed_dir``: no CPython stdlib, no site-packages, and the
stubs' own errors stay silent like any typeshed's.

    python firmware_py/host/mypy_typeshed.py .venv/micropython-typeshed
"""

import os
import shutil
import sys
from importlib.metadata import distribution

DISTRIBUTIONS = ("micropython-stdlib-stubs", "micropython-esp32-stubs")
TYPESHED_DIRS = ("stdlib/", "stubs/")


def layout(record_path: str) -> "str | None":
    """Where a file of a stub distribution goes in the typeshed, or None to leave it out."""
    if record_path.startswith(TYPESHED_DIRS):
        if record_path.endswith(".pyi") or record_path == "stdlib/VERSIONS":
            return record_path
        return None
    if record_path.endswith(".pyi") and ".dist-info/" not in record_path:
        return "stdlib/" + record_path
    return None


def build(out_dir: str) -> int:
    """Replace ``out_dir`` with links to the installed stub files; return how many."""
    shutil.rmtree(out_dir, ignore_errors=True)
    count = 0
    for name in DISTRIBUTIONS:
        dist = distribution(name)
        for file in dist.files or ():
            target = layout(file.as_posix())
            if target is None:
                continue
            link = os.path.join(out_dir, target)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            # Two distributions giving the same module fail here, not in a silent overwrite.
            os.symlink(os.path.abspath(str(file.locate())), link)
            count += 1
    if not os.path.isfile(os.path.join(out_dir, "stdlib", "VERSIONS")):
        raise SystemExit("no stdlib/VERSIONS in " + DISTRIBUTIONS[0] + ": not a typeshed")
    return count


def main(argv: "list[str]") -> int:
    if len(argv) != 2:
        print("usage: python firmware_py/host/mypy_typeshed.py OUT_DIR", file=sys.stderr)
        return 2
    build(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
