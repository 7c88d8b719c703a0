"""The device-memory measurement (tests/micropython/memory.mjs) runs and reports every agent.

Both agents, and the bracelet again with five zones in its config (a 12- and a
40-vertex polygon, three circles), applied before it is driven.

Only that it works: no figure is checked against a target (memory and speed
are measured by the command and recorded in docs/devices.md, never asserted).
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.micropython

ROOT = Path(__file__).resolve().parents[2]
MEMORY_MJS = ROOT / "tests" / "micropython" / "memory.mjs"
VM_PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
TIMEOUT_S = 120
KIB = r"\d+\.\d KiB"
# agent, bytecode, code in RAM, idle, buffer full (entries), batch in flight, send step, min heap
ROW = re.compile(
    rf"^(bracelet, 5 zones|bracelet|river station)\s+({KIB})\s+({KIB})\s+({KIB})\s+({KIB}) \((\d+)\)"
    rf"\s+({KIB})\s+({KIB})\s+(\d+[km])$"
)


def test_memory_script_reports_figures_for_both_agents_and_the_zones() -> None:
    node = shutil.which("node")
    if node is None or not VM_PACKAGE.is_dir():
        pytest.fail("node or the MicroPython VM npm package is missing: run `make deps`")
    done = subprocess.run(
        [node, str(MEMORY_MJS), "--fast"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    rows = {}
    for line in done.stdout.splitlines():
        match = ROW.match(line)
        if match:
            rows[match[1]] = match.groups()[1:]
    assert set(rows) == {"bracelet", "bracelet, 5 zones", "river station"}, output
    assert "bracelet, 5 zones: config of 5 zones: live once applied" in done.stdout, output
    for agent, figures in rows.items():
        assert int(figures[4]) > 0, f"{agent}: an empty buffer was measured as full\n{output}"
