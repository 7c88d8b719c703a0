// Runs MicroPython-side tests on the MicroPython WebAssembly VM under node.
//
//   node tests/micropython/run.mjs --root REPO_ROOT [--mount DIR]... [--import-all PKG]...
//        [--skip-file FILE] [--heap SIZE] [TEST_FILE]...
//
// Each TEST_FILE (an mp_test_*.py module) and each --import-all package gets a
// fresh VM, so one module's state cannot leak into the next. The VM sees the
// mounted repository directories under /repo (so `import core.codec` works) and
// mptest.py, loaded from next to this script, under /_runner.
//
// Output: one line per test (PASS/FAIL/SKIP), tracebacks after failures, and a
// last line exactly "N passed, M failed" (read by CI tooling).
// Exit status: 0 only if at least one test ran and none failed; 1 on any test
// failure or error (Python or JS); 2 on a command-line mistake.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_MOUNTS = ["core", "firmware_py", "tests/vectors", "tests/micropython"];
const DEFAULT_SKIP_FILE = "tests/micropython/cpython_only.txt";
const VM_REPO = "/repo";
const VM_RUNNER = "/_runner";
const VM_EXTERNAL = "/_external";
const USAGE =
  "usage: node tests/micropython/run.mjs --root REPO_ROOT [--mount DIR]... " +
  "[--import-all PKG]... [--skip-file FILE] [--heap SIZE] [TEST_FILE]...";

class UsageError extends Error {}

function parseSize(text) {
  const match = /^(\d+)([kKmM]?)$/.exec(text);
  if (!match) throw new UsageError(`--heap: not a size: ${text} (e.g. 512k, 2m)`);
  const unit = { "": 1, k: 1024, m: 1024 * 1024 }[match[2].toLowerCase()];
  return Number(match[1]) * unit;
}

function parseArgs(argv) {
  const args = { root: null, mounts: [], packages: [], skipFile: null, heap: 1024 * 1024, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const takesValue = ["--root", "--mount", "--import-all", "--skip-file", "--heap"];
    if (arg === "-h" || arg === "--help") return null;
    if (takesValue.includes(arg)) {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      if (arg === "--root") args.root = path.resolve(value);
      else if (arg === "--mount") args.mounts.push(value);
      else if (arg === "--import-all") args.packages.push(value);
      else if (arg === "--skip-file") args.skipFile = path.resolve(value);
      else args.heap = parseSize(value);
    } else if (arg.startsWith("-")) {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      args.files.push(path.resolve(arg));
    }
  }
  if (args.root === null) throw new UsageError("--root is required");
  if (!isDir(args.root)) throw new UsageError(`--root: not a directory: ${args.root}`);
  if (args.files.length === 0 && args.packages.length === 0) {
    throw new UsageError("nothing to run: give TEST_FILEs and/or --import-all PKG");
  }
  for (const mount of args.mounts) {
    if (path.isAbsolute(mount) || mount.split(/[\\/]/).includes("..")) {
      throw new UsageError(`--mount takes a directory relative to --root: ${mount}`);
    }
    if (!isDir(path.join(args.root, mount))) {
      throw new UsageError(`--mount: no directory ${mount} under ${args.root}`);
    }
  }
  for (const file of args.files) {
    if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      throw new UsageError(`no such test file: ${file}`);
    }
  }
  if (args.skipFile !== null && !fs.statSync(args.skipFile, { throwIfNoEntry: false })?.isFile()) {
    throw new UsageError(`--skip-file: no such file: ${args.skipFile}`);
  }
  // Explicit mounts replace the defaults; default directories that do not exist yet are skipped.
  if (args.mounts.length === 0) {
    args.mounts = DEFAULT_MOUNTS.filter((dir) => isDir(path.join(args.root, dir)));
  }
  // A package to import-check must be on the VM.
  for (const pkg of args.packages) {
    const dir = pkg.split(".")[0];
    if (!args.mounts.includes(dir) && isDir(path.join(args.root, dir))) args.mounts.push(dir);
  }
  if (args.skipFile === null && args.packages.length > 0) {
    const fallback = path.join(args.root, DEFAULT_SKIP_FILE);
    if (fs.existsSync(fallback)) args.skipFile = fallback;
  }
  return args;
}

function isDir(p) {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

// Collects the VM's bytes and writes whole lines, so a last line without "\n" is not lost.
class LineSink {
  constructor(stream) {
    this.stream = stream;
    this.bytes = [];
  }
  push(chunk) {
    for (const byte of chunk) {
      this.bytes.push(byte);
      if (byte === 10) this.flush();
    }
  }
  flush() {
    if (this.bytes.length === 0) return;
    this.stream.write(Buffer.from(this.bytes));
    this.bytes = [];
  }
}

function copyTree(FS, hostDir, vmDir) {
  FS.mkdirTree(vmDir);
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    if (entry.name === "__pycache__" || entry.name.startsWith(".")) continue;
    const host = path.join(hostDir, entry.name);
    const vm = `${vmDir}/${entry.name}`;
    if (entry.isDirectory()) copyTree(FS, host, vm);
    else if (entry.isFile()) FS.writeFile(vm, fs.readFileSync(host));
  }
}

function writeFile(FS, vmPath, hostPath) {
  FS.mkdirTree(vmPath.slice(0, vmPath.lastIndexOf("/")) || "/");
  FS.writeFile(vmPath, fs.readFileSync(hostPath));
}

// Where a test file lives on the VM: its place under /repo if it is in the repo, else /_external.
function vmPathOf(root, file) {
  const relative = path.relative(root, file);
  if (!relative.startsWith("..") && !path.isAbsolute(relative)) {
    return `${VM_REPO}/${relative.split(path.sep).join("/")}`;
  }
  return `${VM_EXTERNAL}/${path.basename(file)}`;
}

const py = (value) => JSON.stringify(value); // a JSON string is also a valid Python literal

async function newVm(args, out, err, testFile) {
  const mp = await loadMicroPython({
    heapsize: args.heap,
    linebuffer: false,
    stdout: (chunk) => out.push(chunk),
    stderr: (chunk) => err.push(chunk),
  });
  for (const mount of args.mounts) {
    copyTree(mp.FS, path.join(args.root, mount), `${VM_REPO}/${mount.split(path.sep).join("/")}`);
  }
  if (testFile) writeFile(mp.FS, testFile.vmPath, testFile.hostPath);
  writeFile(mp.FS, `${VM_RUNNER}/mptest.py`, path.join(HERE, "mptest.py"));
  if (args.skipFile !== null) writeFile(mp.FS, `${VM_RUNNER}/cpython_only.txt`, args.skipFile);
  mp.runPython(
    [
      "import sys",
      `sys.path[0:0] = [${py(VM_RUNNER)}, ${py(VM_REPO)}]`,
      "import mptest",
      `mptest.REPO_ROOT = ${py(VM_REPO)}`,
    ].join("\n"),
  );
  return mp;
}

// Runs one unit (a test file or an import check) in a fresh VM; returns [passed, failed].
async function runUnit(args, label, call, testFile = null) {
  const out = new LineSink(process.stdout);
  const err = new LineSink(process.stderr);
  try {
    const mp = await newVm(args, out, err, testFile);
    mp.runPython(`_mp_passed, _mp_failed = ${call}`);
    return [mp.globals.get("_mp_passed"), mp.globals.get("_mp_failed")];
  } catch (error) {
    out.flush();
    err.flush();
    // A PythonError's message is the Python traceback; print no JS stack for it.
    const detail = error?.name === "PythonError" ? error.message : (error?.stack ?? error);
    process.stdout.write(`FAIL ${label}: error outside the tests\n${String(detail).trimEnd()}\n`);
    return [0, 1];
  } finally {
    out.flush();
    err.flush();
  }
}

async function main(argv) {
  let args;
  try {
    args = parseArgs(argv);
    if (args === null) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`run.mjs: ${error.message}\n`);
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let passed = 0;
  let failed = 0;
  const skip = args.skipFile === null ? "[]" : `mptest.read_skip_file(${py(`${VM_RUNNER}/cpython_only.txt`)})`;
  for (const pkg of args.packages) {
    const [p, f] = await runUnit(args, pkg, `mptest.import_all(${py(pkg)}, ${skip})`);
    passed += p;
    failed += f;
  }
  for (const file of args.files) {
    const vmPath = vmPathOf(args.root, file);
    const call = `mptest.run_file(${py(vmPath)})`;
    const [p, f] = await runUnit(args, path.basename(file), call, { vmPath, hostPath: file });
    passed += p;
    failed += f;
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stdout.write(`run.mjs: internal error: ${error?.stack ?? error}\n0 passed, 1 failed\n`);
  process.exitCode = 1;
}
