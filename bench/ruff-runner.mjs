// Drives Ruff's WebAssembly build (npm @astral-sh/ruff-wasm-nodejs, installed in the tool folder) over a
// list of Python files from Node, one file after the other, with only the rules S102 (exec) and S307
// (eval) selected. Prints one JSON object: files, findings by code, files Ruff could not parse, time.
//
//   node bench/ruff-runner.mjs --list FILE [--tools DIR]
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const list = opt('--list');
const tools = path.resolve(opt('--tools') ?? process.env.BENCH_TOOLS_DIR ?? path.join(REPO, '.bench-tools'));
if (!list) {
  process.stderr.write('usage: node bench/ruff-runner.mjs --list FILE [--tools DIR]\n');
  process.exit(2);
}

const started = process.hrtime.bigint();
const requireFromTools = createRequire(path.join(tools, 'package.json'));
const { Workspace, PositionEncoding } = requireFromTools('@astral-sh/ruff-wasm-nodejs');
const workspace = new Workspace({ lint: { select: ['S102', 'S307'] } }, PositionEncoding.Utf16 ?? PositionEncoding.UTF16);

const files = fs.readFileSync(list, 'utf8').split('\n').filter(Boolean);
const byCode = {};
let findings = 0;
let syntaxErrors = 0;
let filesWithSyntaxErrors = 0;
let failed = 0;
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  let diagnostics;
  try {
    diagnostics = workspace.check(text);
  } catch {
    failed++;
    continue;
  }
  let broken = false;
  for (const d of diagnostics) {
    if (d.code === 'S102' || d.code === 'S307') {
      findings++;
      byCode[d.code] = (byCode[d.code] ?? 0) + 1;
    } else if (!d.code || /syntax/i.test(String(d.code))) {
      syntaxErrors++;
      broken = true;
    }
  }
  if (broken) filesWithSyntaxErrors++;
}
const ms = Number(process.hrtime.bigint() - started) / 1e6;
process.stdout.write(`${JSON.stringify({ files: files.length - failed, failed, findings, byCode, syntaxErrors, filesWithSyntaxErrors, inProcessMs: ms })}\n`);
