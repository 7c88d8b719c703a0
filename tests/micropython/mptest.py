"""A tiny test framework that runs on MicroPython and on CPython.

Test modules are named ``mp_test_*.py`` (so pytest does not collect them) and
hold plain ``test_*`` functions that use ``assert`` and the helpers below.
MicroPython's ``assert`` shows no values on failure, hence ``assert_equal``.

Only the MicroPython subset is used here: no typing, no dataclasses, no
``__future__``, no pathlib or os.path (absent on most boards), no ``*x``
unpacking in literals.

On the VM, ``run.mjs`` sets ``REPO_ROOT`` and calls ``run_file`` or
``import_all``. On CPython: ``python tests/micropython/mptest.py FILE...``.
"""

import json
import os
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"


def _parent(path):
    cut = path.rfind("/")
    if cut < 0:
        return "."
    return path[:cut] or "/"


def _default_root():
    # This file is <root>/tests/micropython/mptest.py.
    here = __file__
    if not here.startswith("/"):
        here = os.getcwd() + "/" + here
    return _parent(_parent(_parent(here)))


# "/repo" on the VM (set by run.mjs); the checkout on CPython (set by main).
REPO_ROOT = _default_root()


def _print_exception(exc, stream):
    if IS_MICROPYTHON:
        sys.print_exception(exc, stream)
    else:
        import traceback

        traceback.print_exception(exc, file=stream)


def _name(obj):
    return getattr(obj, "__name__", repr(obj))


def summary_line(passed, failed):
    """The last line of every run; CI tooling parses this exact form."""
    return f"{passed} passed, {failed} failed"


def repo_path(relative):
    """Path of a file given relative to the repository root (absolute paths pass through)."""
    if relative.startswith("/"):
        return relative
    return REPO_ROOT + "/" + relative


def load_json(relative):
    """Parse a JSON file given relative to the repository root."""
    with open(repo_path(relative)) as f:
        return json.load(f)


def assert_raises(exc_type, fn, *args, **kwargs):
    """Call fn and return the exc_type it raises; fail if it raises nothing.

    Any other exception propagates, so the test errors with its traceback.
    """
    try:
        fn(*args, **kwargs)
    except exc_type as exc:
        return exc
    raise AssertionError(f"{_name(exc_type)} not raised by {_name(fn)}")


def assert_equal(actual, expected, message=None):
    """Fail showing both values (MicroPython's bare assert shows neither)."""
    if actual != expected:
        text = f"expected {expected!r}, got {actual!r}"
        raise AssertionError(text if message is None else message + ": " + text)


def _call(test):
    # Returns the exception the test raised, or None if it passed.
    try:
        result = test()
    except Exception as exc:
        return exc
    if result is not None and hasattr(result, "send"):
        # An async (or generator) test only builds its coroutine: the body never ran,
        # which would otherwise look like a pass.
        close = getattr(result, "close", None)
        if close is not None:
            close()
        return AssertionError("test returned a coroutine or generator: its body never ran")
    return None


def run_module(module, name=None, stream=None):
    """Run every test_* function of module in name order; return (passed, failed).

    Reports one line per test, and tracebacks, to stream (default sys.stdout).
    """
    if name is None:
        name = module.__name__
    if stream is None:
        stream = sys.stdout
    tests = sorted(n for n in dir(module) if n.startswith("test_"))
    tests = [n for n in tests if callable(getattr(module, n))]
    if not tests:
        # An empty module is a mistake (a typo in a name), never a green run.
        print(f"FAIL {name}: no test_* functions found", file=stream)
        return 0, 1
    passed = 0
    failed = 0
    for test in tests:
        exc = _call(getattr(module, test))
        if exc is None:
            print(f"PASS {name}::{test}", file=stream)
            passed += 1
        else:
            print(f"FAIL {name}::{test}", file=stream)
            _print_exception(exc, stream)
            failed += 1
    return passed, failed


def run_file(path):
    """Import the test module at path and run it; return (passed, failed)."""
    directory = _parent(path)
    filename = path[len(directory) :].lstrip("/")
    name = filename[:-3] if filename.endswith(".py") else filename
    if directory not in sys.path:
        sys.path.insert(0, directory)
    sys.modules.pop(name, None)
    try:
        module = __import__(name)
    except Exception as exc:
        print(f"FAIL {name}: error while importing the module")
        _print_exception(exc, sys.stdout)
        return 0, 1
    return run_module(module, name)


def read_skip_file(path):
    """Dotted module names from a file: one a line, '#' starts a comment."""
    names = []
    with open(path) as f:
        for line in f:
            name = line.split("#", 1)[0].strip()
            if name:
                names.append(name)
    return names


def _within(module, package):
    return module == package or module.startswith(package + ".")


def _is_dir(path):
    return os.stat(path)[0] & 0x4000 != 0


def _modules_under(directory, dotted):
    entries = sorted(os.listdir(directory))
    modules = [dotted] if "__init__.py" in entries else []
    for entry in entries:
        path = directory + "/" + entry
        if _is_dir(path):
            if entry != "__pycache__" and not entry.startswith("."):
                modules.extend(_modules_under(path, dotted + "." + entry))
        elif entry.endswith(".py") and entry != "__init__.py":
            modules.append(dotted + "." + entry[:-3])
    return modules


def import_all(package, skip=()):
    """Import every module of package, except those in skip; return (passed, failed).

    A skip entry also covers its submodules. An entry naming no module of the
    package fails, so the skip list cannot silently go stale.
    """
    directory = repo_path(package.replace(".", "/"))
    try:
        modules = _modules_under(directory, package)
    except OSError as exc:
        print(f"FAIL {package}: cannot list {directory}: {exc!r}")
        return 0, 1
    if not modules:
        print(f"FAIL {package}: no modules found under {directory}")
        return 0, 1
    passed = 0
    failed = 0
    for entry in skip:
        if _within(entry, package) and not [m for m in modules if _within(m, entry)]:
            print(f"FAIL {entry}: listed as CPython-only but there is no such module")
            failed += 1
    for module in modules:
        if [entry for entry in skip if _within(module, entry)]:
            print(f"SKIP {module} (CPython-only)")
            continue
        try:
            __import__(module)
        except Exception as exc:
            print(f"FAIL {module}: import failed")
            _print_exception(exc, sys.stdout)
            failed += 1
        else:
            print(f"PASS {module}")
            passed += 1
    return passed, failed


_USAGE = "usage: mptest.py [--root DIR] [--import-all PKG]... [--skip-file FILE] [TEST_FILE]..."


def main(argv):
    """Command line for CPython (the VM uses run.mjs); return the exit status."""
    global REPO_ROOT
    root = REPO_ROOT
    skip_file = None
    packages = []
    files = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--root", "--import-all", "--skip-file"):
            if i + 1 >= len(argv):
                print(_USAGE)
                return 2
            value = argv[i + 1]
            i += 2
            if arg == "--root":
                root = value
            elif arg == "--import-all":
                packages.append(value)
            else:
                skip_file = value
        elif arg.startswith("-"):
            print(_USAGE)
            return 2
        else:
            files.append(arg)
            i += 1
    if not files and not packages:
        print(_USAGE)
        return 2
    REPO_ROOT = os.path.abspath(root)
    for path in (os.path.dirname(os.path.abspath(__file__)), REPO_ROOT):
        if path not in sys.path:
            sys.path.insert(0, path)
    if skip_file is None:
        default = repo_path("tests/micropython/cpython_only.txt")
        skip = read_skip_file(default) if os.path.exists(default) else []
    else:
        skip = read_skip_file(skip_file)
    passed = 0
    failed = 0
    for package in packages:
        p, f = import_all(package, skip)
        passed += p
        failed += f
    for path in files:
        p, f = run_file(os.path.abspath(path))
        passed += p
        failed += f
    print(summary_line(passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    # Run through the importable module, not __main__, so test modules that
    # `import mptest` share its state (REPO_ROOT) instead of getting a second copy.
    sys.exit(__import__("mptest").main(sys.argv[1:]))
