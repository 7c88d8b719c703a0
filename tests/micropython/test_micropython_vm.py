"""Runs the mp_test_*.py modules on the MicroPython VM and on CPython.

The VM is the MicroPython WebAssembly port run by ``run.mjs`` under node; CPython
runs the same modules through ``mptest.py``, so the logic is tested on both.
"""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.micropython

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RUN_MJS = HERE / "run.mjs"
MPTEST = HERE / "mptest.py"
VM_PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
MP_TESTS = sorted(HERE.glob("mp_test_*.py"))
TIMEOUT_S = 60
SUMMARY = re.compile(r"(\d+) passed, (\d+) failed")


def _run(command: list[str]) -> tuple[int, str]:
    """Run command from the repo root; return its exit status and merged output."""
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.output.decode() if isinstance(exc.output, bytes) else exc.output or ""
        pytest.fail(f"timed out after {TIMEOUT_S} s: {' '.join(command)}\n{partial}")
    return done.returncode, done.stdout


def run_on_vm(*args: str | Path, root: Path = ROOT) -> tuple[int, str]:
    node = shutil.which("node")
    if node is None or not VM_PACKAGE.is_dir():
        pytest.fail("node or the MicroPython VM npm package is missing: run `make deps`")
    return _run([node, str(RUN_MJS), "--root", str(root), *map(str, args)])


def run_on_cpython(*args: str | Path, root: Path = ROOT) -> tuple[int, str]:
    # -W error: the same warnings policy as this suite.
    return _run([sys.executable, "-W", "error", str(MPTEST), "--root", str(root), *map(str, args)])


RUNNERS = {"micropython": run_on_vm, "cpython": run_on_cpython}


def summary(output: str) -> tuple[int, int]:
    """The counts from the last line, which must be the summary."""
    last = output.rstrip("\n").rsplit("\n", 1)[-1]
    match = SUMMARY.fullmatch(last)
    assert match, f"last line is not 'N passed, M failed':\n{output}"
    return int(match[1]), int(match[2])


def assert_green(status: int, output: str, what: str) -> None:
    assert status == 0, f"{what} failed (exit {status}):\n{output}"
    passed, failed = summary(output)
    assert passed > 0, f"{what} ran no tests:\n{output}"
    assert failed == 0, output


# Without mp_test files the parameter list would be empty and pytest would skip:
# an empty suite must fail, not look green.
@pytest.mark.parametrize("mp_test", MP_TESTS or [None], ids=lambda p: p.stem if p else "none")
@pytest.mark.parametrize("interpreter", list(RUNNERS))
def test_mp_test_passes(interpreter: str, mp_test: Path | None) -> None:
    if mp_test is None:
        pytest.fail(f"no mp_test_*.py files in {HERE}: nothing runs on MicroPython")
    status, output = RUNNERS[interpreter](mp_test)
    assert_green(status, output, f"{mp_test.name} on {interpreter}")


def test_core_imports_on_micropython() -> None:
    status, output = run_on_vm("--import-all", "core")
    assert_green(status, output, "importing every core module on MicroPython")


def _write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


@pytest.mark.parametrize("interpreter", list(RUNNERS))
def test_a_failing_mp_test_makes_the_run_fail(interpreter: str, tmp_path: Path) -> None:
    module = _write(
        tmp_path / "mp_test_failing.py",
        """
        def test_passes():
            assert 1 + 1 == 2

        def test_assertion_fails():
            assert 1 + 1 == 3

        def test_raises_another_error():
            {}["missing"]

        async def test_async_body_never_runs():
            pass
        """,
    )
    status, output = RUNNERS[interpreter](module)
    assert status == 1, output
    assert summary(output) == (1, 3), output
    lines = output.splitlines()
    assert "PASS mp_test_failing::test_passes" in lines
    for name in ("test_assertion_fails", "test_raises_another_error", "test_async_body_never_runs"):
        assert f"FAIL mp_test_failing::{name}" in lines, output
    assert "KeyError" in output


@pytest.mark.parametrize("interpreter", list(RUNNERS))
def test_an_error_outside_the_tests_makes_the_run_fail(interpreter: str, tmp_path: Path) -> None:
    broken = _write(tmp_path / "mp_test_broken.py", "import fieldwatch_no_such_module\n")
    empty = _write(tmp_path / "mp_test_empty.py", "HELPER = 1\n")
    status, output = RUNNERS[interpreter](broken, empty)
    assert status == 1, output
    assert summary(output) == (0, 2), output
    assert "FAIL mp_test_broken: error while importing the module" in output
    assert "FAIL mp_test_empty: no test_* functions found" in output


@pytest.mark.parametrize("interpreter", list(RUNNERS))
def test_load_json_reads_from_the_given_root(interpreter: str, tmp_path: Path) -> None:
    _write(tmp_path / "vectors" / "reading.json", '{"id": "b-17", "v": [1.5, null]}')
    module = _write(
        tmp_path / "checks" / "mp_test_json.py",
        """
        from mptest import assert_equal, load_json

        def test_load_json():
            assert_equal(load_json("vectors/reading.json"), {"id": "b-17", "v": [1.5, None]})
        """,
    )
    extra = ("--mount", "vectors") if interpreter == "micropython" else ()
    status, output = RUNNERS[interpreter](*extra, module, root=tmp_path)
    assert_green(status, output, "load_json")


@pytest.mark.parametrize("interpreter", list(RUNNERS))
def test_import_check_reports_failures_and_skips(interpreter: str, tmp_path: Path) -> None:
    _write(tmp_path / "pkg" / "__init__.py", "")
    _write(tmp_path / "pkg" / "fine.py", "import struct\n")
    _write(tmp_path / "pkg" / "sub" / "__init__.py", "")
    _write(tmp_path / "pkg" / "sub" / "server.py", "import sqlite3\n")
    skip = _write(tmp_path / "skip.txt", "pkg.sub  # server side\npkg.gone\nother.module\n")
    status, output = RUNNERS[interpreter]("--import-all", "pkg", "--skip-file", skip, root=tmp_path)
    assert status == 1, output
    lines = output.splitlines()
    assert "PASS pkg" in lines
    assert "PASS pkg.fine" in lines
    assert "SKIP pkg.sub (CPython-only)" in lines
    assert "SKIP pkg.sub.server (CPython-only)" in lines
    # A stale entry fails; an entry for another package is none of this check's business.
    assert "FAIL pkg.gone: listed as CPython-only but there is no such module" in lines
    assert summary(output) == (2, 1), output


def test_import_check_catches_what_micropython_lacks(tmp_path: Path) -> None:
    _write(tmp_path / "pkg" / "__init__.py", "")
    _write(tmp_path / "pkg" / "typed.py", "from typing import Final\n")
    _write(
        tmp_path / "pkg" / "errors.py", "class E(Exception): pass\nclass F(E, ValueError): pass\n"
    )
    status, output = run_on_vm("--import-all", "pkg", root=tmp_path)
    assert status == 1, output
    assert "FAIL pkg.typed: import failed" in output
    assert "no module named 'typing'" in output
    assert "FAIL pkg.errors: import failed" in output
    assert summary(output) == (1, 2), output


def test_runner_rejects_a_missing_test_file() -> None:
    status, output = run_on_vm(HERE / "mp_test_no_such_file.py")
    assert status == 2, output
    assert "no such test file" in output
