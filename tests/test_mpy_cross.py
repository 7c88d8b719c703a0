"""Every file that goes onto the device compiles with the pinned mpy-cross.

firmware_py/manifest.py freezes the whole core package, so every .py file under
core/ and firmware_py/ is compiled, CPython-only modules included. mpy-cross
catches syntax MicroPython lacks (match, positional-only parameters, `*x` in
literals); the import check on the VM catches missing modules.
"""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.micropython

ROOT = Path(__file__).resolve().parents[1]
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"
DEVICE_SOURCE_DIRS = ("core", "firmware_py")
TIMEOUT_S = 30


def device_sources(root: Path) -> list[Path]:
    """The .py files under the device source directories, relative to root."""
    return sorted(
        path.relative_to(root)
        for name in DEVICE_SOURCE_DIRS
        for path in (root / name).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def compile_errors(root: Path, sources: list[Path], out_dir: Path) -> list[str]:
    """Compile each source with mpy-cross; return one message per file that failed."""
    if not MPY_CROSS.is_file():
        pytest.fail(f"mpy-cross not found at {MPY_CROSS}: run `make deps`")

    def compile_one(source: Path) -> str | None:
        target = out_dir / source.with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [str(MPY_CROSS), "-o", str(target), str(source)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        if done.returncode == 0 and target.is_file():
            return None
        message = (done.stderr + done.stdout).strip() or f"exit status {done.returncode}"
        return f"{source}:\n{message}"

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(compile_one, sources))
    return [message for message in results if message is not None]


def test_device_sources_compile_with_mpy_cross(tmp_path: Path) -> None:
    sources = device_sources(ROOT)
    assert sources, f"no .py files under {', '.join(DEVICE_SOURCE_DIRS)}: nothing was checked"
    errors = compile_errors(ROOT, sources, tmp_path)
    listing = "\n\n".join(errors)
    assert not errors, f"{len(errors)} of {len(sources)} files do not compile:\n\n{listing}"


def test_mpy_cross_check_catches_syntax_micropython_rejects(tmp_path: Path) -> None:
    fine = "def scale(raw, factor):\n    return raw * factor\n"
    # Valid Python 3.11, which MicroPython does not have.
    match = "def kind(code):\n    match code:\n        case 1:\n            return 'fix'\n"
    for name, source in {"fine.py": fine, "uses_match.py": match}.items():
        path = tmp_path / "src" / "core" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        compile(source, name, "exec")  # CPython accepts both

    sources = device_sources(tmp_path / "src")
    assert sources == [Path("core/fine.py"), Path("core/uses_match.py")]
    errors = compile_errors(tmp_path / "src", sources, tmp_path / "out")
    assert len(errors) == 1, errors
    assert errors[0].startswith("core/uses_match.py:\n"), errors
    assert "SyntaxError" in errors[0], errors
