// Runs a wasm32-wasip1 program (a cargo test binary) under Node's WASI, with the repository
// mapped at its own absolute path (tests that name tests/data through CARGO_MANIFEST_DIR) and
// the current directory as "." (tests that open "tests/data/..." relative to the crate, where
// cargo starts them).
// Cargo uses it as the runner: CARGO_TARGET_WASM32_WASIP1_RUNNER="node --experimental-wasi-unstable-preview1
// --no-warnings scripts/wasi-run.mjs". usage: node ... wasi-run.mjs PROGRAM.wasm [ARGS...]
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WASI } from "node:wasi";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const [program, ...args] = process.argv.slice(2);
const wasi = new WASI({
    version: "preview1",
    args: [program, ...args],
    env: process.env,
    preopens: { [root]: root, ".": process.cwd() },
    returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(program));
// wasiImport (not getImportObject) also works on the Node 18 Debian 12 packages.
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance);
