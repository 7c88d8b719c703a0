// Copies the console's browser assets from node_modules (installed from package-lock.json)
// into cloud/console/static/vendor/, which the wheel and the image ship and the cloud
// serves under /console/static/vendor/. Which files: package.json's "consoleAssets".
// Also writes vendor/assets.json (package, version, files) for the console and the tests.
// Run by scripts/install-deps.sh and by the Dockerfile's asset stage; no network.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "cloud", "console", "static", "vendor");
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const wanted = manifest.consoleAssets;

rmSync(target, { recursive: true, force: true });
const shipped = {};
for (const [name, files] of Object.entries(wanted)) {
  const folder = join(root, "node_modules", name);
  const installed = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  const pinned = manifest.dependencies[name];
  if (installed.version !== pinned) {
    console.error(`vendor: ${name} ${installed.version} is installed, package.json pins ${pinned}; run npm ci`);
    process.exit(1);
  }
  for (const file of files) {
    const from = join(folder, file);
    if (!existsSync(from)) {
      console.error(`vendor: ${name} has no ${file}`);
      process.exit(1);
    }
    const to = join(target, name, file.replace(/^dist\//, ""));
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to, { recursive: true });
  }
  shipped[name] = { version: installed.version, license: installed.license, files };
}
writeFileSync(join(target, "assets.json"), JSON.stringify(shipped, null, 2) + "\n");
console.log(`vendor: ${Object.keys(shipped).length} packages into ${target}`);
