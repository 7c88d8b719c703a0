// Measures the RAM the device agents use on the MicroPython WebAssembly VM.
//
//   node tests/micropython/memory.mjs [--root REPO_ROOT] [--agent bracelet|zones|river]...
//        [--minutes N] [--records B] [--heap SIZE] [--granularity SIZE] [--no-bisect]
//        [--mpy-cross PATH] [--fast]
//
// Each agent is built as its main.py builds it (board wiring, FileFlash, `--records`
// buffer slots; the hardware is the host twins) from .mpy files compiled by the pinned
// mpy-cross and mounted as a ROMFS image (bytecode run in place, as frozen bytecode is;
// the table's notes also give the cost of .mpy files loaded into RAM), and driven one
// step per top-level runPython call through four phases. Agent `zones` is the bracelet
// whose retained config, applied first (its own step), holds five zones: a 12-vertex home
// polygon with a curfew, a 40-vertex county polygon, three circles (memory_driver.py).
//
//   idle     connected, N simulated minutes, one step a second (the bracelet walks:
//            a fix every 10 s);
//   fill     link lost; fast-forward from wake-up to wake-up until the buffer is full
//            (telemetry up to capacity - reserve; the bracelet's strap then opens and
//            closes until events fill the reserved slots too);
//   full     still offline with the full buffer, N minutes (oldest telemetry dropped);
//   send     reconnected: one catch-up batch a second until the buffer is empty (each
//            batch held built and unsent for one measurement, then sent).
//
// Two methods, because this VM only collects garbage at the top level: gc.collect()
// inside a call just marks a collection as pending, and an allocation that does not fit
// grows the heap (MICROPY_GC_SPLIT_HEAP_AUTO) instead of raising MemoryError.
//
//   1. Live heap: gc.collect() in a call of its own before every step, then the step
//      reads gc.mem_alloc() before and after itself. "before" is what is live; "after"
//      is live plus all the step allocated (nothing is freed mid-call), an upper bound
//      of the step's peak. Figures are over the heap with the modules loaded and the
//      twins built, so they are the agent's own state.
//   2. Smallest heap: bisect the initial heap (the VM's `heapsize`, run.mjs's --heap)
//      at which the whole run never grows it, i.e. would never have raised MemoryError
//      on a heap that cannot grow. It includes the loaded .mpy code, the driver and the
//      twins, and each step's garbage (collected only between steps here): an upper
//      bound of what a board needs.
//
// Output: a table, one row per agent; exit status 0, 1 on an error, 2 on a usage error.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEVICE_DIRS = ["core", "firmware_py"];
const AGENTS = {
  bracelet: { dir: "bracelet", label: "bracelet" },
  zones: { dir: "bracelet", label: "bracelet, 5 zones", zones: true },
  river: { dir: "river_sensor", label: "river station" },
};
const BOARD_DEFAULT_RECORDS = 500; // main.py: device.get("buffer_records", 500)
const USAGE =
  "usage: node tests/micropython/memory.mjs [--root REPO_ROOT] [--agent bracelet|zones|river]... " +
  "[--minutes N] [--records B] [--heap SIZE] [--granularity SIZE] [--no-bisect] " +
  "[--mpy-cross PATH] [--fast]";

// Stand-ins for the board-only modules main.py's imports reach (hal.board, device.runtime),
// so the code those load is counted; nothing here is called.
const STUBS = {
  "machine.py": "class Pin:\n    pass\n",
  "network.py": "STA_IF = 0\n",
  "umqtt/__init__.py": "",
  "umqtt/simple.py": "class MQTTClient:\n    pass\n",
};

class UsageError extends Error {}

function parseSize(text, option) {
  const match = /^(\d+)([kKmM]?)$/.exec(text);
  if (!match) throw new UsageError(`${option}: not a size: ${text} (e.g. 512k, 2m)`);
  return Number(match[1]) * { "": 1, k: 1024, m: 1024 * 1024 }[match[2].toLowerCase()];
}

function parseCount(text, option) {
  if (!/^\d+$/.test(text ?? "") || Number(text) < 1) {
    throw new UsageError(`${option}: not a positive whole number: ${text}`);
  }
  return Number(text);
}

function parseArgs(argv) {
  const args = {
    root: path.resolve(HERE, "..", ".."),
    agents: [],
    minutes: null,
    records: null,
    heap: 1024 * 1024,
    granularity: null,
    bisect: true,
    mpyCross: null,
    fast: false,
  };
  const takesValue = ["--root", "--agent", "--minutes", "--records", "--heap", "--granularity", "--mpy-cross"];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") return null;
    if (arg === "--no-bisect") args.bisect = false;
    else if (arg === "--fast") args.fast = true;
    else if (takesValue.includes(arg)) {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      if (arg === "--root") args.root = path.resolve(value);
      else if (arg === "--agent") {
        if (!(value in AGENTS)) throw new UsageError(`--agent: bracelet, zones or river, not ${value}`);
        if (!args.agents.includes(value)) args.agents.push(value);
      } else if (arg === "--minutes") args.minutes = parseCount(value, arg);
      else if (arg === "--records") args.records = parseCount(value, arg);
      else if (arg === "--heap") args.heap = parseSize(value, arg);
      else if (arg === "--granularity") args.granularity = parseSize(value, arg);
      else args.mpyCross = path.resolve(value);
    } else throw new UsageError(`unknown option ${arg}`);
  }
  // --fast: a smoke run (for the test): a small buffer, one minute a phase, a coarse bisect.
  args.minutes ??= args.fast ? 1 : 10;
  args.records ??= args.fast ? 40 : BOARD_DEFAULT_RECORDS;
  args.granularity ??= args.fast ? 16 * 1024 : 1024;
  if (args.records < 2) throw new UsageError("--records: at least 2");
  if (args.agents.length === 0) args.agents = Object.keys(AGENTS);
  args.mpyCross ??= path.join(args.root, ".venv", "bin", "mpy-cross");
  if (!fs.existsSync(args.mpyCross)) throw new UsageError(`no mpy-cross at ${args.mpyCross} (run make deps)`);
  for (const dir of DEVICE_DIRS) {
    if (!fs.statSync(path.join(args.root, dir), { throwIfNoEntry: false })?.isDirectory()) {
      throw new UsageError(`--root: no ${dir}/ under ${args.root}`);
    }
  }
  return args;
}

// --- code: .mpy files and the import closure of each main.py -------------------------

function pySources(root) {
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      if (entry.name === "__pycache__" || entry.name.startsWith(".")) continue;
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith(".py")) found.push(rel);
    }
  };
  DEVICE_DIRS.forEach(walk);
  return found.sort();
}

// Compiles every device .py (and the driver) to .mpy under outDir; returns {relative .py: .mpy size}.
function compileAll(args, outDir) {
  const sizes = {};
  const jobs = pySources(args.root).map((rel) => [path.join(args.root, rel), rel]);
  jobs.push([path.join(HERE, "memory_driver.py"), "memory_driver.py"]);
  for (const [source, rel] of jobs) {
    const target = path.join(outDir, rel.replace(/\.py$/, ".mpy"));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    execFileSync(args.mpyCross, ["-o", target, source], { cwd: args.root, stdio: "pipe" });
    sizes[rel] = fs.statSync(target).size;
  }
  return sizes;
}

// The module's file (relative .py path) if it is one of ours, else null.
function moduleFile(root, name) {
  const base = name.split(".").join("/");
  for (const candidate of [`${base}.py`, `${base}/__init__.py`]) {
    if (fs.existsSync(path.join(root, candidate))) return candidate;
  }
  return null;
}

// Static import closure of a file over core/ and firmware_py/ (what the manifest freezes for it).
function importClosure(root, startFile) {
  const seen = new Set();
  const queue = [startFile];
  const addModule = (name) => {
    const parts = name.split(".");
    for (let i = 1; i <= parts.length; i++) {
      const file = moduleFile(root, parts.slice(0, i).join("."));
      if (file && !seen.has(file)) queue.push(file);
    }
  };
  while (queue.length > 0) {
    const file = queue.shift();
    if (seen.has(file)) continue;
    seen.add(file);
    // Join parenthesised import lists onto one line.
    const text = fs.readFileSync(path.join(root, file), "utf8").replace(/\(([^)]*)\)/g, (_, inner) => inner.replace(/\n/g, " "));
    for (const line of text.split("\n")) {
      let match = /^\s*from\s+([\w.]+)\s+import\s+(.+)$/.exec(line);
      if (match) {
        addModule(match[1]);
        for (const item of match[2].split("#")[0].split(",")) {
          const name = item.trim().split(/\s+/)[0];
          if (name && moduleFile(root, `${match[1]}.${name}`)) addModule(`${match[1]}.${name}`);
        }
        continue;
      }
      match = /^\s*import\s+([\w.,\s]+)$/.exec(line.split("#")[0]);
      if (match) for (const item of match[1].split(",")) addModule(item.trim().split(/\s+/)[0]);
    }
  }
  return [...seen].sort();
}

// --- the VM --------------------------------------------------------------------------

class GrewError extends Error {}

function copyTree(FS, hostDir, vmDir) {
  FS.mkdirTree(vmDir);
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    const host = path.join(hostDir, entry.name);
    if (entry.isDirectory()) copyTree(FS, host, `${vmDir}/${entry.name}`);
    else FS.writeFile(`${vmDir}/${entry.name}`, fs.readFileSync(host));
  }
}

// A ROMFS image (MicroPython's read-only filesystem, mounted at /rom) of a directory tree:
// .mpy files there run in place, as frozen bytecode does, instead of being copied into RAM.
// The format is extmod/vfs_rom.c's, as mpremote's `romfs build` writes it.
function romfsImage(hostDir) {
  const uint = (value) => {
    const bytes = [value & 0x7f];
    for (value = Math.floor(value / 128); value > 0; value = Math.floor(value / 128)) {
      bytes.unshift(0x80 | (value & 0x7f));
    }
    return Buffer.from(bytes);
  };
  const record = (kind, payload) => Buffer.concat([uint(kind), uint(payload.length), payload]);
  const named = (name, rest) => Buffer.concat([uint(Buffer.byteLength(name)), Buffer.from(name), rest]);
  const directory = (dir) =>
    Buffer.concat(
      fs
        .readdirSync(dir, { withFileTypes: true })
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((entry) => {
          const host = path.join(dir, entry.name);
          if (entry.isDirectory()) return record(4, named(entry.name, directory(host)));
          return record(5, named(entry.name, record(2, fs.readFileSync(host))));
        }),
    );
  const body = directory(hostDir);
  const header = Buffer.from([0xd2, 0xcd, 0x31]);
  let length = uint(body.length);
  if ((header.length + length.length + body.length) % 2 === 1) length = Buffer.concat([Buffer.from([0x80]), length]);
  return new Uint8Array(Buffer.concat([header, length, body]));
}

// A fresh VM whose code comes from `code`: {romfs: image} (in place, like frozen code)
// or {files: dir} (.mpy files copied into RAM at import, like .mpy files on a board's
// filesystem).
async function newVm(heap, code) {
  let output = "";
  const mp = await loadMicroPython({
    heapsize: heap,
    linebuffer: false,
    romfs: code.romfs,
    stdout: (chunk) => (output += Buffer.from(chunk).toString()),
    stderr: (chunk) => (output += Buffer.from(chunk).toString()),
  });
  if (code.files) copyTree(mp.FS, code.files, "/mpy");
  for (const [name, source] of Object.entries(STUBS)) {
    mp.FS.mkdirTree(path.posix.dirname(`/stubs/${name}`));
    mp.FS.writeFile(`/stubs/${name}`, source);
  }
  const run = (source) => {
    try {
      mp.runPython(source);
    } catch (error) {
      throw new Error(`${error?.message ?? error}\n${output}`);
    }
  };
  const codeDir = code.romfs ? "/rom" : "/mpy";
  run(`import gc\nimport sys\nsys.path[0:0] = ['${codeDir}', '/stubs']`);
  return { mp, run, get: (name) => mp.globals.get(name) };
}

function agentImports(kind) {
  const dir = AGENTS[kind].dir;
  return [
    `import firmware_py.${dir}.agent`,
    `import firmware_py.${dir}.board`,
    "import firmware_py.hal.flash",
    "import firmware_py.hal.board",
    "import firmware_py.device.runtime",
  ].join("\n");
}

// Live heap taken by loading the agent's modules.
async function codeCost(kind, code) {
  const { run, get } = await newVm(1024 * 1024, code);
  const live = () => {
    run("gc.collect()");
    run("_m = gc.mem_alloc()");
    return get("_m");
  };
  const empty = live();
  run(agentImports(kind));
  return live() - empty;
}

// One agent through the four phases on a VM with `heap` bytes of initial heap.
// With stopOnGrowth, throws GrewError at the first step that made the heap grow.
async function measure(kind, heap, args, code, stopOnGrowth) {
  const vm = await newVm(heap, code);
  const { run, get } = vm;
  // The heap's size plus the room it may still grow by: it changes only when the heap grows.
  const span = () => {
    run("_s = gc.mem_alloc() + gc.mem_free()");
    return get("_s");
  };
  const live = () => {
    run("gc.collect()");
    run("_m = gc.mem_alloc()");
    return get("_m");
  };
  const value = (expression) => {
    run(`_v = ${expression}`);
    return get("_v");
  };
  const span0 = span();
  let grew = null;
  const check = (phase) => {
    if (grew === null && span() > span0) {
      grew = phase;
      if (stopOnGrowth) throw new GrewError(phase);
    }
  };
  const phases = {};
  const step = (phase, code) => {
    run("gc.collect()");
    run(`_a = gc.mem_alloc()\n${code}\n_p = gc.mem_alloc()\n_s = gc.mem_alloc() + gc.mem_free()`);
    const stats = (phases[phase] ??= { live: 0, peak: 0, steps: 0 });
    stats.live = Math.max(stats.live, get("_a"));
    stats.peak = Math.max(stats.peak, get("_p"));
    stats.steps += 1;
    if (grew === null && get("_s") > span0) {
      grew = phase;
      if (stopOnGrowth) throw new GrewError(phase);
    }
  };
  const version = value("'%d.%d.%d' % sys.implementation.version[:3]");
  const empty = live();
  run(agentImports(kind));
  check("import");
  const loaded = live();
  run(`import memory_driver\nd = memory_driver.Drive(${JSON.stringify(kind)}, ${args.records})`);
  check("import");
  const base = live();
  step("build", "d.build()");
  let zones = null;
  let configured = null;
  if (AGENTS[kind].zones) {
    step("config", "d.configure()");
    configured = live();
    zones = value("d.zones()");
    if (zones !== 5) throw new Error(`${kind}: the config's zones were not applied (${zones} zones)`);
  }

  const seconds = args.minutes * 60;
  step("idle", "d.connect()");
  for (let i = 0; i < seconds; i++) step("idle", "d.second()");

  step("fill", "d.disconnect()");
  const limit = 100 * args.records + 1000;
  for (let i = 0; value("d.telemetry() < d.telemetry_cap()"); i++) {
    if (i > limit) throw new Error(`${kind}: the buffer never filled with telemetry`);
    step("fill", "d.wake()");
  }
  if (AGENTS[kind].dir === "bracelet") {
    for (let i = 0; value("d.buffered() < d.capacity"); i++) {
      if (i > limit) throw new Error(`${kind}: the events' reserve never filled`);
      step("fill", "d.strap_edge()");
    }
  }
  for (let i = 0; i < seconds; i++) step("full", "d.second()");
  const entries = value("d.buffered()");
  const dropped = value("d.dropped()");

  // A step builds the batch and holds it (as the socket write does); the live heap read
  // before the next step, which sends it, is the heap with a batch in flight.
  step("send", "d.connect()");
  for (let i = 0; value("d.buffered() > 0"); i++) {
    if (i > limit) throw new Error(`${kind}: the buffer never drained`);
    step("send", "d.second_held()");
    step("inflight", "d.release()");
  }
  step("send", "d.second()");
  const largest = value("d.largest_publish");
  const after = live();
  return { version, empty, loaded, base, phases, entries, dropped, largest, after, grew, zones, configured };
}

// The smallest initial heap, to `granularity`, at which the run never grows the heap.
async function smallestHeap(kind, args, code) {
  const fits = async (heap) => {
    try {
      const result = await measure(kind, heap, args, code, true);
      return result.grew === null;
    } catch (error) {
      if (error instanceof GrewError) return false;
      throw error;
    }
  };
  const g = args.granularity;
  let hi = 128 * 1024;
  while (!(await fits(hi))) {
    hi *= 2;
    if (hi > 64 * 1024 * 1024) throw new Error(`${kind}: no heap up to 64 MiB fits`);
  }
  let lo = 0; // does not fit (or nothing)
  hi = Math.ceil(hi / g) * g;
  while (hi - lo > g) {
    const mid = Math.round((lo + hi) / 2 / g) * g;
    if (mid <= lo || mid >= hi) break;
    if (await fits(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

// --- report ----------------------------------------------------------------------------

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const heapText = (bytes) => (bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024}m` : `${Math.round(bytes / 1024)}k`);

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ").trimEnd())
    .join("\n");
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
    process.stderr.write(`memory.mjs: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  const mpyDir = fs.mkdtempSync(path.join(os.tmpdir(), "fieldwatch-mpy-"));
  try {
    const sizes = compileAll(args, mpyDir);
    const code = { romfs: romfsImage(mpyDir) };
    const rows = [
      ["agent", "bytecode", "code in RAM", "idle", "buffer full", "batch in flight", "send step <=", "min --heap"],
    ];
    const notes = [];
    let version = "?";
    for (const kind of args.agents) {
      const closure = importClosure(args.root, `firmware_py/${AGENTS[kind].dir}/main.py`);
      const frozen = closure.filter((file) => !file.endsWith("/main.py"));
      const bytecode = frozen.reduce((sum, file) => sum + sizes[file], 0);
      const m = await measure(kind, args.heap, args, code, false);
      const asFiles = await codeCost(kind, { files: mpyDir });
      version = m.version;
      if (m.grew !== null) {
        throw new Error(`${kind}: the heap grew during '${m.grew}' with --heap ${heapText(args.heap)}; give a larger --heap`);
      }
      const minHeap = args.bisect ? heapText(await smallestHeap(kind, args, code)) : "-";
      rows.push([
        AGENTS[kind].label,
        kib(bytecode),
        kib(m.loaded - m.empty),
        kib(m.phases.idle.live - m.base),
        `${kib(m.phases.full.live - m.base)} (${m.entries})`,
        kib(m.phases.inflight.live - m.base),
        kib(m.phases.send.peak - m.base),
        minHeap,
      ]);
      const configNote = m.zones === null
        ? ""
        : `config of ${m.zones} zones: live once applied ${kib(m.configured - m.base)}, ` +
          `peak applying it ${kib(m.phases.config.peak - m.base)}; `;
      notes.push(
        `${AGENTS[kind].label}: ${configNote}${frozen.length} modules; code in RAM as .mpy files ` +
          `(not in place) ${kib(asFiles)}; live after loading ${kib(m.loaded)}, ` +
          `with driver and twins ${kib(m.base)}; peaks (live + a step's allocations): ` +
          `idle ${kib(m.phases.idle.peak - m.base)}, full ${kib(m.phases.full.peak - m.base)}; ` +
          `${m.dropped} dropped while full; largest publish ${m.largest} B; ` +
          `${Object.values(m.phases).reduce((n, p) => n + p.steps, 0)} steps`,
      );
    }
    process.stdout.write(
      `MicroPython ${version} (WebAssembly VM); code frozen-like (ROMFS, in place); buffer ${args.records} records, ${args.minutes} min idle ` +
        `and ${args.minutes} min full; agent figures are over the heap with the code, driver and twins loaded\n\n`,
    );
    process.stdout.write(`${table(rows)}\n\n`);
    for (const note of notes) process.stdout.write(`${note}\n`);
    return 0;
  } finally {
    fs.rmSync(mpyDir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`memory.mjs: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
}
