// `npm run bench`: Sentinel and its peers on the same real corpora in one run, one table.
//
//   node bench/run.mjs [--runs N] [--js-files N|all] [--js-max-bytes N] [--python-stdlib DIR]
//                      [--only python|js] [--no-lsp] [--no-install] [--check] [--timeout SECONDS]
//
// Corpora (staged as plain copies under $TMPDIR/sentinel-bench/corpus, see lib/corpus.mjs):
//   python  the CPython standard library Debian's python3 installs (/usr/lib/python3.11)
//   js      a deterministic subset of the project's own node_modules (.js/.mjs/.cjs)
// Tools, each timed as a child process (wall time, peak RSS) on the same files, runs interleaved:
//   Sentinel CLI (sast --rule JIT --format json), the web-tree-sitter parse floor (1 thread and a
//   worker pool), Bandit -t B102,B307 and Ruff-wasm S102/S307 (python), ESLint + eslint-plugin-security
//   (js). Then the language-server latency bench (bench/lsp-latency.mjs).
// Writes bench-results/bench-<time>.{json,md} and bench-results/latest.{json,md}.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  REPO,
  RESULTS_DIR,
  TOOLS_DIR,
  WORK_DIR,
  capture,
  fmtInt,
  fmtMiB,
  fmtRatio,
  fmtSec,
  markdownTable,
  machineBusySeconds,
  measure,
  median,
  textTable,
} from './lib/common.mjs';
import { findPythonStdlib, stageJs, stagePython } from './lib/corpus.mjs';
import { NPM_PEERS, ensureBandit, ensureGnuTime, ensureNpmPeers } from './lib/peers.mjs';

// ---- options ------------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
function option(name, fallback) {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}
const flag = (name) => argv.includes(name);
if (flag('--help') || flag('-h')) {
  process.stdout.write(fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).slice(0, 16).map((l) => l.slice(3)).join('\n') + '\n');
  process.exit(0);
}
const RUNS = Number(option('--runs', '3'));
const JS_FILES = option('--js-files', '3000');
const JS_MAX_BYTES = Number(option('--js-max-bytes', String(512 * 1024)));
const ONLY = option('--only', undefined);
const INSTALL = !flag('--no-install');
const TIMEOUT_MS = Number(option('--timeout', '300')) * 1000;
const POOL = os.availableParallelism();
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a positive integer');
if (ONLY && ONLY !== 'python' && ONLY !== 'js') throw new Error('--only is python or js');

const say = (msg) => process.stderr.write(`bench: ${msg}\n`);

// ---- preflight ----------------------------------------------------------------------------------------

const CLI = path.join(REPO, 'bin', 'sentinel.js');
if (!fs.existsSync(path.join(REPO, 'dist', 'cli.js')) || !fs.existsSync(path.join(REPO, 'dist', 'grammars', 'web-tree-sitter.wasm'))) {
  say('dist/ is not built: run `npm run build` first (npm run bench does)');
  process.exit(2);
}
const startedAt = new Date();
const loadBefore = os.loadavg();
const gitHead = capture('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']);
const gitDirty = (capture('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
const sentinelVersion = capture(process.execPath, [CLI, '--version']);

say(`tool folder ${path.relative(REPO, TOOLS_DIR) || TOOLS_DIR}, work folder ${WORK_DIR}`);
const timing = ensureGnuTime({ install: INSTALL });
const npmPeers = ensureNpmPeers({ install: INSTALL });
const bandit = ensureBandit({ install: INSTALL });

// ---- corpora ------------------------------------------------------------------------------------------

fs.mkdirSync(WORK_DIR, { recursive: true });
const OUT = path.join(WORK_DIR, 'out');
fs.mkdirSync(OUT, { recursive: true });

const corpora = {};
if (ONLY !== 'js') {
  const stdlib = findPythonStdlib(option('--python-stdlib', undefined));
  if (!stdlib) throw new Error('no CPython standard library found (give one with --python-stdlib DIR)');
  say(`staging the Python corpus from ${stdlib.dir}`);
  const staged = stagePython(stdlib.dir);
  corpora.python = {
    ...staged,
    source: stdlib.dir,
    description: `CPython standard library, ${stdlib.dir} (${stdlib.how}): every .py file, site-/dist-packages and symlinks left out`,
  };
}
if (ONLY !== 'python') {
  const maxFiles = JS_FILES === 'all' ? Infinity : Number(JS_FILES);
  say(`staging the JS corpus from node_modules (${JS_FILES} files at most)`);
  const staged = stageJs({ maxFiles, maxBytes: JS_MAX_BYTES });
  corpora.js = {
    ...staged,
    source: path.join(REPO, 'node_modules'),
    description:
      `the project's node_modules: ${staged.files.length} of ${staged.candidates} .js/.mjs/.cjs files` +
      (staged.files.length < staged.candidates ? ' (the first by SHA-1 of their path: a fixed, deterministic subset)' : '') +
      `; ${staged.excludedMin} *.min.js and ${staged.excludedBig} files over ${Math.round(JS_MAX_BYTES / 1024)} KiB (bundles) left out; ` +
      `${staged.esm} ES modules, ${staged.files.length - staged.esm} CommonJS`,
  };
}
for (const [name, c] of Object.entries(corpora)) {
  c.list = path.join(WORK_DIR, `${name}.list`);
  fs.writeFileSync(c.list, `${c.files.join('\n')}\n`);
  say(`${name}: ${c.files.length} files, ${c.lines} lines, ${(c.bytes / 1048576).toFixed(1)} MiB in ${c.root}`);
}

// ---- tools --------------------------------------------------------------------------------------------

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const lastJsonLine = (stdout) => JSON.parse(stdout.trim().split('\n').pop());
const countBy = (items, key) => items.reduce((acc, x) => ((acc[key(x)] = (acc[key(x)] ?? 0) + 1), acc), {});
const ESLINT_RULES = ['security/detect-eval-with-expression', 'no-eval', 'no-new-func', 'no-implied-eval'];

/**
 * Sentinel cold (`--no-cache`: every file read, parsed and analysed) or warm (a rescan of the unchanged corpus
 * with the result cache that one untimed run filled first: what CI and editors see on the second scan).
 */
function sentinelTool(corpus, { warm = false } = {}) {
  const c = corpora[corpus];
  const out = path.join(OUT, `sentinel-${warm ? 'warm' : 'cold'}-${corpus}.json`);
  const cacheDir = path.join(WORK_DIR, `result-cache-${corpus}`);
  // Explicit files: the walker would skip folders named dist/build/venv/... (as it should in a project).
  const args = () => [
    CLI, 'sast', '--rule', 'JIT', '--format', 'json', '--no-color', '--output', out,
    ...(warm ? ['--cache-dir', cacheDir] : ['--no-cache']),
    ...c.files.map((f) => path.relative(c.root, f)),
  ];
  return {
    id: warm ? 'sentinel-warm' : 'sentinel',
    label: warm ? 'Sentinel CLI, warm cache' : 'Sentinel CLI',
    how: `node bin/sentinel.js sast --rule JIT --format json --output FILE ${warm ? '--cache-dir DIR (filled by one untimed run)' : '--no-cache'} <${c.files.length} files as arguments>`,
    setup: warm
      ? () => {
          fs.rmSync(cacheDir, { recursive: true, force: true });
          fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
          fs.chmodSync(cacheDir, 0o700);
          spawnSync(process.execPath, args(), { cwd: c.root, stdio: 'ignore', timeout: TIMEOUT_MS });
        }
      : undefined,
    command: () => ({ cmd: process.execPath, args: args(), cwd: c.root }),
    okExit: [0, 1],
    parse: () => {
      const r = readJson(out);
      return {
        files: r.filesScanned,
        findings: r.findings.length,
        detail: { byRule: countBy(r.findings, (f) => f.ruleId), warnings: countBy(r.warnings ?? [], (w) => w.code) },
      };
    },
  };
}

function floorTool(corpus, jobs) {
  const c = corpora[corpus];
  return {
    id: jobs === 1 ? 'floor-1' : 'floor-pool',
    label: jobs === 1 ? 'parse floor, 1 thread' : `parse floor, ${jobs} workers`,
    how: `node bench/floor.mjs --list LIST --jobs ${jobs} (web-tree-sitter 0.27 + dist/grammars, no rules)`,
    command: () => ({ cmd: process.execPath, args: [path.join(REPO, 'bench', 'floor.mjs'), '--list', c.list, '--jobs', String(jobs)], cwd: REPO }),
    okExit: [0],
    parse: (res) => {
      const r = lastJsonLine(res.stdout);
      return { files: r.files, findings: undefined, detail: { treesWithErrors: r.withErrors, inProcessMs: Math.round(r.inProcessMs) } };
    },
  };
}

function banditTool() {
  const c = corpora.python;
  const out = path.join(OUT, 'bandit.json');
  if (bandit.missing) return { id: 'bandit', label: 'Bandit -t B102,B307', missing: bandit.missing };
  return {
    id: 'bandit',
    label: 'Bandit -t B102,B307',
    version: bandit.version,
    how: `bandit -t B102,B307 -r <corpus> -f json -o FILE -q (${bandit.version})`,
    command: () => ({ cmd: bandit.bin, args: ['-t', 'B102,B307', '-r', c.root, '-f', 'json', '-o', out, '-q'], cwd: c.root }),
    okExit: [0, 1],
    parse: () => {
      const r = readJson(out);
      return {
        files: Object.keys(r.metrics ?? {}).filter((k) => k !== '_totals').length,
        findings: r.results.length,
        detail: { byTest: countBy(r.results, (x) => x.test_id), errors: (r.errors ?? []).length },
      };
    },
  };
}

function ruffTool() {
  const c = corpora.python;
  const pkg = '@astral-sh/ruff-wasm-nodejs';
  if (npmPeers[pkg].missing) return { id: 'ruff-wasm', label: 'Ruff-wasm S102,S307', missing: `${pkg}: ${npmPeers[pkg].missing}` };
  return {
    id: 'ruff-wasm',
    label: 'Ruff-wasm S102,S307',
    version: `${pkg}@${npmPeers[pkg].version}`,
    how: `node bench/ruff-runner.mjs --list LIST (${pkg}@${npmPeers[pkg].version}, Workspace.check per file, one thread)`,
    command: () => ({ cmd: process.execPath, args: [path.join(REPO, 'bench', 'ruff-runner.mjs'), '--list', c.list, '--tools', TOOLS_DIR], cwd: REPO }),
    okExit: [0],
    parse: (res) => {
      const r = lastJsonLine(res.stdout);
      return { files: r.files, findings: r.findings, detail: { byCode: r.byCode, filesWithSyntaxErrors: r.filesWithSyntaxErrors, failed: r.failed } };
    },
  };
}

function eslintTool() {
  const c = corpora.js;
  const out = path.join(OUT, 'eslint.json');
  const missing = ['eslint', 'eslint-plugin-security'].filter((p) => npmPeers[p].missing);
  if (missing.length > 0) {
    return { id: 'eslint', label: 'ESLint + plugin-security', missing: missing.map((p) => `${p}: ${npmPeers[p].missing}`).join('; ') };
  }
  const version = `eslint@${npmPeers.eslint.version}, eslint-plugin-security@${npmPeers['eslint-plugin-security'].version}`;
  return {
    id: 'eslint',
    label: 'ESLint + plugin-security',
    version,
    how: `eslint --config bench/peers/eslint-security.config.mjs --format json . (${version}; ${ESLINT_RULES.join(', ')}; one thread)`,
    command: () => ({
      cmd: process.execPath,
      args: [
        path.join(TOOLS_DIR, 'node_modules', 'eslint', 'bin', 'eslint.js'),
        '--config',
        path.join(REPO, 'bench', 'peers', 'eslint-security.config.mjs'),
        '--format',
        'json',
        '--output-file',
        out,
        '--no-warn-ignored',
        '.',
      ],
      cwd: c.root,
      env: { ...process.env, BENCH_TOOLS_DIR: TOOLS_DIR },
    }),
    // 1: some files did not parse (fatal messages): counted, not a failure of the run.
    okExit: [0, 1],
    parse: () => {
      const r = readJson(out);
      const messages = r.flatMap((f) => f.messages);
      const hits = messages.filter((m) => ESLINT_RULES.includes(m.ruleId));
      return {
        files: r.length,
        findings: hits.length,
        detail: { byRule: countBy(hits, (m) => m.ruleId), filesNotParsed: r.filter((f) => f.messages.some((m) => m.fatal)).length },
      };
    },
  };
}

const plan = [];
if (corpora.python) {
  plan.push({ corpus: 'python', tools: [sentinelTool('python'), sentinelTool('python', { warm: true }), floorTool('python', 1), floorTool('python', POOL), banditTool(), ruffTool()] });
}
if (corpora.js) {
  plan.push({ corpus: 'js', tools: [sentinelTool('js'), sentinelTool('js', { warm: true }), floorTool('js', 1), floorTool('js', POOL), eslintTool()] });
}

// ---- runs: interleaved, so that every tool meets the same machine ------------------------------------

const results = new Map();
const busyAtStart = machineBusySeconds();
const selfCpuAtStart = process.cpuUsage();
let childCpuSec = 0;
let childCpuKnown = true;
for (const { corpus, tools } of plan) for (const t of tools) results.set(`${corpus}/${t.id}`, { corpus, tool: t, runs: [], parsed: undefined, errors: [] });
for (const { corpus, tools } of plan) {
  for (const t of tools) {
    if (t.missing || !t.setup) continue;
    say(`setup ${corpus.padEnd(6)} ${t.label}`);
    t.setup();
  }
}

for (let run = 1; run <= RUNS; run++) {
  for (const { corpus, tools } of plan) {
    for (const t of tools) {
      if (t.missing) continue;
      const entry = results.get(`${corpus}/${t.id}`);
      const { cmd, args, cwd, env } = t.command();
      const res = await measure({ cmd, args, cwd, env, timeoutMs: TIMEOUT_MS, useGnuTime: !timing.polled });
      if (res.cpuSec === undefined) childCpuKnown = false;
      else childCpuSec += res.cpuSec;
      let note = '';
      if (res.timedOut) {
        entry.errors.push(`run ${run}: timed out after ${TIMEOUT_MS / 1000} s`);
        note = 'TIMED OUT';
      } else if (!t.okExit.includes(res.exitCode)) {
        entry.errors.push(`run ${run}: exit ${res.exitCode ?? res.signal}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        note = `FAILED (exit ${res.exitCode ?? res.signal})`;
      } else {
        try {
          const parsed = t.parse(res);
          if (entry.parsed && entry.parsed.findings !== parsed.findings) entry.errors.push(`run ${run}: findings changed from ${entry.parsed.findings} to ${parsed.findings}`);
          entry.parsed = parsed;
          entry.runs.push({ wallMs: res.wallMs, peakRssMiB: res.peakRssMiB });
        } catch (err) {
          entry.errors.push(`run ${run}: could not read its report: ${err.message}`);
          note = 'NO REPORT';
        }
      }
      say(`run ${run}/${RUNS} ${corpus.padEnd(6)} ${t.label.padEnd(26)} ${fmtSec(res.wallMs).padStart(7)} s  ${fmtMiB(res.peakRssMiB).padStart(5)} MiB ${note}`);
    }
  }
}

// CPU that other processes took while the tools ran: the machine's busy time less what the tools and this
// script used. Near zero on an idle machine; large when something else competed for the cores.
const busyAtEnd = machineBusySeconds();
const selfCpu = process.cpuUsage(selfCpuAtStart);
const othersCpuSec =
  busyAtStart !== undefined && busyAtEnd !== undefined && childCpuKnown
    ? Math.max(0, busyAtEnd - busyAtStart - childCpuSec - (selfCpu.user + selfCpu.system) / 1e6)
    : undefined;
const scanWallSec = rowsWallSum();
function rowsWallSum() {
  let sum = 0;
  for (const e of results.values()) for (const r of e.runs) sum += r.wallMs / 1000;
  return sum;
}

// ---- the language server latency bench ----------------------------------------------------------------

let lsp;
if (!flag('--no-lsp')) {
  say('language server latency: node bench/lsp-latency.mjs');
  const lspJson = path.join(OUT, 'lsp-latency.json');
  fs.rmSync(lspJson, { force: true });
  const r = spawnSync(process.execPath, [path.join(REPO, 'bench', 'lsp-latency.mjs'), '--json', lspJson, '--quiet'], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 300_000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  lsp = fs.existsSync(lspJson) ? readJson(lspJson) : { error: `lsp-latency.mjs failed (${r.error?.message ?? `exit ${r.status}`})` };
}

// ---- summary ------------------------------------------------------------------------------------------

const loadAfter = os.loadavg();
const rows = [];
for (const entry of results.values()) {
  const c = corpora[entry.corpus];
  const walls = entry.runs.map((r) => r.wallMs);
  const rss = entry.runs.map((r) => r.peakRssMiB).filter((x) => x !== undefined);
  rows.push({
    corpus: entry.corpus,
    id: entry.tool.id,
    tool: entry.tool.label,
    version: entry.tool.version,
    how: entry.tool.how,
    missing: entry.tool.missing,
    corpusFiles: c.files.length,
    files: entry.parsed?.files,
    lines: c.lines,
    runs: walls.length,
    wallMs: walls.length ? median(walls) : undefined,
    wallMinMs: walls.length ? Math.min(...walls) : undefined,
    wallMaxMs: walls.length ? Math.max(...walls) : undefined,
    linesPerSec: walls.length ? c.lines / (median(walls) / 1000) : undefined,
    peakRssMiB: rss.length ? Math.max(...rss) : undefined,
    findings: entry.parsed?.findings,
    detail: entry.parsed?.detail,
    errors: entry.errors,
    allWallMs: walls.map((w) => Math.round(w)),
  });
}
const row = (corpus, id) => rows.find((r) => r.corpus === corpus && r.id === id);
for (const r of rows) {
  const s = row(r.corpus, 'sentinel');
  r.timeOverSentinel = s?.wallMs && r.wallMs ? r.wallMs / s.wallMs : undefined;
}

/** "Sentinel 3.1x faster" / "Sentinel 1.8x slower", from this row's time over Sentinel's. */
function versus(r) {
  if (r.id === 'sentinel') return '(this is Sentinel)';
  if (r.missing) return 'MISSING';
  const x = r.timeOverSentinel;
  if (x === undefined) return '—';
  return x >= 1 ? `Sentinel ${fmtRatio(x)} faster` : `Sentinel ${fmtRatio(1 / x)} slower`;
}

function findingsCell(r) {
  if (r.missing) return '—';
  if (r.id.startsWith('floor')) return 'no rules';
  return r.findings === undefined ? '—' : String(r.findings);
}

const HEADERS = ['corpus', 'tool', 'files', 'lines', 'wall s (median)', 'min–max s', 'lines/s', 'peak RSS MiB', 'findings', 'ratio'];
const tableRows = rows.map((r) => [
  r.corpus,
  r.missing ? `${r.tool} — MISSING` : r.tool,
  r.missing ? '—' : `${fmtInt(r.files)}${r.files !== undefined && r.files !== r.corpusFiles ? ` of ${fmtInt(r.corpusFiles)}` : ''}`,
  fmtInt(r.lines),
  r.missing ? '—' : fmtSec(r.wallMs),
  r.missing || r.wallMinMs === undefined ? '—' : `${fmtSec(r.wallMinMs)}–${fmtSec(r.wallMaxMs)}`,
  r.missing ? '—' : fmtInt(r.linesPerSec),
  r.missing ? '—' : fmtMiB(r.peakRssMiB),
  findingsCell(r),
  versus(r),
]);

// Targets of issue 7, checked against this run's numbers: MET, MISSED or NOT MEASURED.
const targets = [];
function target(name, goal, value, shown, met) {
  targets.push({ target: name, goal, value, shown, status: value === undefined || Number.isNaN(value) ? 'NOT MEASURED' : met ? 'MET' : 'MISSED' });
}
for (const corpus of Object.keys(corpora)) {
  const s = row(corpus, 'sentinel');
  const f1 = row(corpus, 'floor-1');
  const fp = row(corpus, 'floor-pool');
  const ratio = (a, b) => (a?.wallMs && b?.wallMs ? a.wallMs / b.wallMs : undefined);
  const pool = ratio(s, fp);
  target(`${corpus}: Sentinel ÷ parse floor (${POOL} workers)`, '≤ 1.3x', pool, fmtRatio(pool), pool <= 1.3);
  const one = ratio(s, f1);
  const warm = row(corpus, 'sentinel-warm');
  if (warm) target(`${corpus}: rescan of the unchanged corpus (warm result cache)`, '< 1 s', warm.wallMs, `${fmtSec(warm.wallMs)} s`, warm.wallMs < 1000);
  targets.push({
    target: `${corpus}: Sentinel ÷ parse floor (1 thread)`,
    goal: '(reference: the pool against one thread)',
    value: one,
    shown: fmtRatio(one),
    status: one === undefined ? 'NOT MEASURED' : one <= 1.3 ? 'within 1.3x' : 'over 1.3x',
  });
  if (corpus === 'python') {
    const b = ratio(row('python', 'bandit'), s);
    target('python: Bandit ÷ Sentinel', '≥ 8x', b, fmtRatio(b), b >= 8);
    const rf = ratio(row('python', 'ruff-wasm'), s);
    target('python: Ruff-wasm ÷ Sentinel', '> 1x (Sentinel faster)', rf, fmtRatio(rf), rf > 1);
  } else {
    const e = ratio(row('js', 'eslint'), s);
    target('js: ESLint ÷ Sentinel', '≥ 4x', e, fmtRatio(e), e >= 4);
  }
  target(`${corpus}: Sentinel peak RSS`, '< 250 MiB', s?.peakRssMiB, s?.peakRssMiB === undefined ? '—' : `${fmtMiB(s.peakRssMiB)} MiB`, s?.peakRssMiB < 250);
}
if (lsp && !lsp.error) {
  for (const sc of lsp.scripts) {
    const name = `LSP (${sc.script} typing): change → publishDiagnostics p95`;
    if (sc.stall) {
      targets.push({
        target: name,
        goal: '< 20 ms',
        value: sc.sequential.p95Ms,
        shown: `server stalled at edit ${sc.stall.atEdit} ("${sc.stall.typedSoFar}")`,
        status: 'MISSED',
      });
    } else target(name, '< 20 ms', sc.sequential.p95Ms, `${sc.sequential.p95Ms?.toFixed(1)} ms`, sc.sequential.p95Ms < 20);
    if (sc.reparseFloor) {
      const floor = sc.reparseFloor.p95Ms;
      targets.push({
        target: `LSP (${sc.script} typing): web-tree-sitter's reparse alone, p95`,
        goal: '(reference: the floor under the server)',
        value: floor,
        shown: `${floor?.toFixed(1)} ms`,
        status: floor === undefined ? 'NOT MEASURED' : floor < 20 ? 'under 20 ms' : 'over 20 ms',
      });
    }
  }
} else if (lsp) {
  targets.push({ target: 'LSP: change → publishDiagnostics p95', goal: '< 20 ms', shown: '—', status: 'NOT MEASURED' });
}

const missingPeers = rows.filter((r) => r.missing).map((r) => `${r.tool}: ${r.missing}`);
const failures = rows.filter((r) => r.errors.length > 0).map((r) => `${r.corpus}/${r.tool}: ${r.errors.join('; ')}`);
const machine = {
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  os: `${os.type()} ${os.release()}`,
  loadBefore: loadBefore.map((x) => +x.toFixed(2)),
  loadAfter: loadAfter.map((x) => +x.toFixed(2)),
  othersCpuSec: othersCpuSec === undefined ? null : +othersCpuSec.toFixed(1),
  scanWallSec: +scanWallSec.toFixed(1),
};
// More than 5% of one core taken by other processes while the tools ran: say so next to the numbers.
const busy = othersCpuSec !== undefined ? othersCpuSec > 0.05 * scanWallSec : loadBefore[0] > 0.5;
const othersText =
  othersCpuSec === undefined
    ? `load average ${machine.loadBefore.join(' ')} before`
    : `other processes used ${othersCpuSec.toFixed(1)} CPU-s during ${scanWallSec.toFixed(0)} s of timed runs (${((100 * othersCpuSec) / Math.max(1, scanWallSec)).toFixed(0)}% of one core)`;

const lspLines = [];
if (lsp?.error) lspLines.push(`language server latency: ${lsp.error}`);
else if (lsp) lspLines.push(...lsp.summary);

const header = [
  `Sentinel ${sentinelVersion ?? ''} @ ${gitHead ?? '?'}${gitDirty ? ' (uncommitted changes)' : ''} — ${startedAt.toISOString()}`,
  `machine: ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}; ${othersText}${busy ? '  ← NOT IDLE: other processes shared the cores, times are noisy and pessimistic' : ''}`,
  `wall = median of ${RUNS} run(s), runs interleaved across tools; each tool timed as a child process including its start-up; peak RSS by ${timing.how}, max over runs`,
  ...Object.entries(corpora).map(([name, c]) => `${name}: ${c.description}`),
];
const ratioLegend = 'ratio: the row\'s median wall time against Sentinel\'s on the same files ("Sentinel 3x faster" = the row took 3x as long).';
const targetRows = targets.map((t) => [t.target, t.goal, t.shown, t.status]);

const text = [
  '',
  ...header,
  '',
  textTable(HEADERS, tableRows, new Set([0, 1, 9])),
  ratioLegend,
  '',
  'targets (issue 7):',
  textTable(['target', 'goal', 'measured', 'status'], targetRows, new Set([0, 1, 3])),
  '',
  ...lspLines,
  ...(missingPeers.length ? ['', 'MISSING peers (not measured):', ...missingPeers.map((m) => `  ${m}`)] : []),
  ...(failures.length ? ['', 'problems during the runs:', ...failures.map((m) => `  ${m}`)] : []),
  '',
].join('\n');
process.stdout.write(text);

// ---- files --------------------------------------------------------------------------------------------

const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
const report = {
  format: 'sentinel-bench/1',
  startedAt: startedAt.toISOString(),
  sentinel: { version: sentinelVersion, commit: gitHead, uncommittedChanges: gitDirty },
  machine,
  options: { runs: RUNS, jsFiles: JS_FILES, jsMaxBytes: JS_MAX_BYTES, pool: POOL, only: ONLY ?? null },
  peakRss: timing.how,
  peers: { npm: npmPeers, pinned: NPM_PEERS, bandit },
  corpora: Object.fromEntries(Object.entries(corpora).map(([n, c]) => [n, { description: c.description, source: c.source, staged: c.root, files: c.files.length, lines: c.lines, bytes: c.bytes }])),
  results: rows,
  targets,
  lsp: lsp ?? null,
  missingPeers,
  problems: failures,
};
const md = [
  `# Sentinel benchmark, ${startedAt.toISOString()}`,
  '',
  ...header.map((h) => `- ${h}`),
  '',
  markdownTable(HEADERS, tableRows, new Set([0, 1, 9])),
  '',
  ratioLegend,
  '',
  '## Targets (issue 7)',
  '',
  markdownTable(['target', 'goal', 'measured', 'status'], targetRows, new Set([0, 1, 3])),
  '',
  ...(lspLines.length ? ['## Language server latency', '', ...lspLines.map((l) => `- ${l.trim()}`), ''] : []),
  '## How each tool was run',
  '',
  ...rows.filter((r) => r.how || r.missing).map((r) => `- ${r.corpus} / ${r.tool}: ${r.missing ? `MISSING (${r.missing})` : `\`${r.how}\`; findings detail ${JSON.stringify(r.detail ?? {})}`}`),
  ...(missingPeers.length ? ['', '## Missing peers', '', ...missingPeers.map((m) => `- ${m}`)] : []),
  ...(failures.length ? ['', '## Problems during the runs', '', ...failures.map((m) => `- ${m}`)] : []),
  '',
].join('\n');
fs.mkdirSync(RESULTS_DIR, { recursive: true });
for (const base of [`bench-${stamp}`, 'latest']) {
  fs.writeFileSync(path.join(RESULTS_DIR, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(RESULTS_DIR, `${base}.md`), md);
}
say(`wrote ${path.relative(REPO, path.join(RESULTS_DIR, `bench-${stamp}.json`))} and .md (also latest.json / latest.md)`);

const sentinelFailed = rows.some((r) => r.id === 'sentinel' && r.runs === 0);
if (sentinelFailed) process.exitCode = 1;
else if (flag('--check') && (missingPeers.length > 0 || targets.some((t) => t.status === 'MISSED' || t.status === 'NOT MEASURED'))) process.exitCode = 1;
