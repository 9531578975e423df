// Language-server latency: starts `node dist/cli.js lsp --stdio`, opens a generated 10,000-line Python
// file with sinks spread through it, and types single-character edits through incremental didChange.
//
//   node bench/lsp-latency.mjs [--edits 200] [--lines 10000] [--scripts code,docstring] [--paced MS]
//                              [--stall-ms 5000] [--json FILE] [--quiet]
//
// Each edit script runs against a fresh server:
// - code: types `exec(payload)` and a newline into blank lines between top-level statements, spread
//   through the file (every finished snippet adds a sink; half-typed ones leave the file with a syntax
//   error, as real typing does);
// - docstring: types text into docstrings spread through the file (the file stays valid Python): the cost
//   of re-analysis when the tree barely changes.
// Reported per script:
// - time to first diagnostics: from sending didOpen to the publishDiagnostics for version 1;
// - sequential typing (the issue's number): each edit is sent once the previous one's diagnostics have
//   arrived; latency = from sending the didChange of version v to the publishDiagnostics for version v;
//   beside it the server's CPU time per edit (utime + stime from /proc over the whole run), which other
//   load on a shared machine does not inflate the way it does the latencies;
// - a stall: no diagnostics for an edit within --stall-ms. The server's CPU use is sampled, the script
//   stops there (the edits left are counted as not sent) and the server is ended;
// - with --paced MS also paced typing: one key every MS ms whatever the server does; latency = from an
//   edit to the first publishDiagnostics whose version is at or after it.
// Talks to the server over its stdin/stdout only: no socket, no network.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const EDITS = Number(opt('--edits', '200'));
const LINES = Number(opt('--lines', '10000'));
const SCRIPTS = opt('--scripts', 'code,docstring').split(',').filter(Boolean);
const PACED = opt('--paced', undefined) !== undefined ? Number(opt('--paced')) : undefined;
const STALL_MS = Number(opt('--stall-ms', '5000'));
const JSON_OUT = opt('--json', undefined);
const QUIET = argv.includes('--quiet');
const WORK = process.env.BENCH_WORK_DIR ? path.resolve(process.env.BENCH_WORK_DIR) : path.join(os.tmpdir(), 'sentinel-bench');
for (const s of SCRIPTS) if (s !== 'code' && s !== 'docstring') throw new Error(`unknown edit script ${s} (code, docstring)`);

// ---- the document -------------------------------------------------------------------------------------

/**
 * A deterministic Python module of exactly `total` lines: blocks of ordinary code (functions, a class,
 * comprehensions, docstrings), every other block with one dynamic-code sink fed by a parameter. Returns
 * the text, the sink count, the blank lines between top-level statements (where the code script types)
 * and the docstring lines (where the docstring script types, after the opening quotes).
 */
function generateModule(total) {
  const lines = ['"""A generated module for Sentinel\'s language-server latency bench."""', 'import json', 'import os', ''];
  const topLevel = [];
  const docstrings = [];
  const sinks = ['return eval(expression)', 'exec(expression, namespace)', 'return compile(expression, "<generated>", "exec")'];
  let sinkCount = 0;
  for (let b = 0; lines.length < total - 40; b++) {
    topLevel.push(lines.length);
    docstrings.push(lines.length + 2);
    const withSink = b % 2 === 0;
    lines.push(
      '',
      `def transform_${b}(records, factor=${(b % 7) + 1}):`,
      `    """Scale the numeric fields of block ${b}'s records."""`,
      '    out = []',
      '    for record in records:',
      '        item = {key: value * factor for key, value in record.items() if isinstance(value, (int, float))}',
      '        if not item:',
      '            continue',
      `        item["block"] = ${b}`,
      '        out.append(item)',
      '    return out',
      '',
      '',
      `class Handler${b}:`,
      `    name = "handler-${b}"`,
      '',
      '    def __init__(self, path):',
      '        self.path = os.path.join("/tmp", path)',
      '        self.count = 0',
      '',
      '    def load(self):',
      '        with open(self.path, encoding="utf-8") as fh:',
      '            data = json.load(fh)',
      '        self.count += len(data)',
      '        return data',
      '',
      '    def evaluate(self, expression, namespace=None):',
      '        namespace = dict(namespace or {})',
      withSink ? `        ${sinks[(b / 2) % sinks.length]}` : '        return len(expression) + len(namespace)',
      '',
      '',
      `def summarise_${b}(rows):`,
      '    totals = {}',
      '    for row in rows:',
      '        for key, value in row.items():',
      '            totals[key] = totals.get(key, 0) + value',
      '    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))',
      '',
    );
    if (withSink) sinkCount++;
  }
  while (lines.length < total) lines.push(`# padding line ${lines.length + 1}`);
  return { text: `${lines.join('\n')}\n`, sinks: sinkCount, topLevel, docstrings };
}

/** What each edit script types, and where. */
const EDIT_SCRIPTS = {
  code: { snippet: 'exec(payload)\n', sites: (doc) => doc.topLevel, column: 0, addsSinks: true },
  docstring: { snippet: 'See ticket 42. ', sites: (doc) => doc.docstrings, column: 7, addsSinks: false },
};

/**
 * The keystrokes of a script: its snippet typed character by character at sites spread evenly through
 * the file. A snippet that ends in a newline adds a line above the later sites, which the positions follow.
 */
function keystrokes(count, doc, script) {
  const { snippet, column } = script;
  const sites = script.sites(doc);
  const keys = [];
  const siteCount = Math.ceil(count / snippet.length);
  const linesPerSnippet = snippet.endsWith('\n') ? 1 : 0;
  const chosen = Array.from({ length: siteCount }, (_, k) => sites[Math.min(sites.length - 1, Math.floor(((k + 0.5) * sites.length) / siteCount))]);
  for (let k = 0; k < siteCount; k++) {
    const line = chosen[k] + k * linesPerSnippet;
    for (let c = 0; c < snippet.length && keys.length < count; c++) keys.push({ line, character: column + c, text: snippet[c] });
  }
  return { keys, completeSnippets: Math.floor(count / snippet.length), sites: siteCount };
}

// ---- a minimal LSP client over stdio ------------------------------------------------------------------

class Client {
  constructor(child) {
    this.child = child;
    this.buffer = Buffer.alloc(0);
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    child.stdout.on('data', (chunk) => this.onData(chunk));
  }

  onData(chunk) {
    const now = performance.now();
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const m = /Content-Length: (\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString('ascii'));
      if (!m) throw new Error('a message without Content-Length');
      const length = Number(m[1]);
      if (this.buffer.length < headerEnd + 4 + length) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      this.onMessage(JSON.parse(body), now);
    }
  }

  onMessage(msg, at) {
    if (msg.id !== undefined && msg.method === undefined) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(`${msg.error.code}: ${msg.error.message}`));
      else p?.resolve(msg.result);
      return;
    }
    if (msg.id !== undefined) {
      // A request from the server (registration, configuration, progress): accept it, with nothing.
      this.send({ jsonrpc: '2.0', id: msg.id, result: null });
      return;
    }
    for (const l of this.listeners) l(msg, at);
  }

  send(msg) {
    const body = JSON.stringify(msg);
    this.child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  request(method, params) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method, params) {
    this.send({ jsonrpc: '2.0', method, params });
  }
}

function stats(values) {
  const v = [...values].sort((a, b) => a - b);
  const pct = (p) => (v.length ? v[Math.min(v.length, Math.max(1, Math.ceil((p / 100) * v.length))) - 1] : NaN);
  return { p50Ms: pct(50), p95Ms: pct(95), maxMs: v.length ? v[v.length - 1] : NaN, meanMs: v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN };
}

function peakRssMiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}


/** CPU seconds a process has used so far (utime + stime from /proc), undefined once it is gone. */
function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

// ---- one edit script against a fresh server -----------------------------------------------------------

async function runScript(name, doc, file, paceMs) {
  const script = EDIT_SCRIPTS[name];
  const cli = path.join(REPO, 'dist', 'cli.js');
  const uri = pathToFileURL(file).href;
  const dir = path.dirname(file);
  const spawnedAt = performance.now();
  // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") passes flags to the server's Node.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, cli, 'lsp', '--stdio'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 65536) stderr += d;
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.stdin.on('error', () => undefined);
  const client = new Client(child);

  // The server's log messages (a failed analysis says so there).
  const serverLog = [];
  client.listeners.push((msg) => {
    if ((msg.method === 'window/logMessage' || msg.method === 'window/showMessage') && serverLog.length < 50) serverLog.push(msg.params.message);
  });
  // Every publishDiagnostics for our document, with its arrival time.
  const published = [];
  let waiter;
  client.listeners.push((msg, at) => {
    if (msg.method !== 'textDocument/publishDiagnostics' || msg.params.uri !== uri) return;
    published.push({ version: msg.params.version, at, count: msg.params.diagnostics.length });
    if (waiter && waiter.test(msg.params)) {
      const w = waiter;
      waiter = undefined;
      w.resolve(at);
    }
  });
  const waitFor = (test, timeoutMs) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      waiter = {
        test,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
    });
  const stop = async () => {
    const graceful = (async () => {
      await client.request('shutdown', null);
      client.notify('exit', null);
      return exited;
    })().catch(() => undefined);
    const done = await Promise.race([graceful, new Promise((r) => setTimeout(() => r(undefined), 3000))]);
    // Our own server, by its pid, when it does not stop by itself (a stalled one cannot answer shutdown).
    if (done === undefined && child.exitCode === null) child.kill('SIGKILL');
    await exited;
  };

  try {
    const init = await client.request('initialize', {
      processId: process.pid,
      clientInfo: { name: 'sentinel-lsp-latency-bench' },
      rootUri: pathToFileURL(dir).href,
      workspaceFolders: [{ uri: pathToFileURL(dir).href, name: 'bench' }],
      capabilities: {
        general: { positionEncodings: ['utf-16'] },
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: false },
          publishDiagnostics: { versionSupport: true, relatedInformation: true },
        },
      },
    });
    const initializeMs = performance.now() - spawnedAt;
    if (init?.capabilities?.textDocumentSync?.change !== 2) throw new Error('the server does not offer incremental sync');
    client.notify('initialized', {});

    // Open: time to the first diagnostics for version 1.
    let version = 1;
    const openSent = performance.now();
    const firstWait = waitFor((p) => p.version === 1, 30_000);
    client.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version, text: doc.text } });
    const firstAt = await firstWait;
    if (firstAt === undefined) throw new Error(`no diagnostics within 30 s of opening the file; server stderr: ${stderr.slice(-2000)}`);
    const openDiagnostics = published[published.length - 1].count;

    const change = (key) => ({
      textDocument: { uri, version },
      contentChanges: [{ range: { start: { line: key.line, character: key.character }, end: { line: key.line, character: key.character } }, text: key.text }],
    });

    const plan = keystrokes(EDITS, doc, script);

    // Paced (with --paced): a key every paceMs ms whatever the server does; each edit's latency is to the
    // first publishDiagnostics at or after its version.
    if (paceMs !== undefined) {
      const sentAt = new Map();
      const firstVersion = version + 1;
      const start = performance.now();
      for (let i = 0; i < plan.keys.length; i++) {
        const delay = start + i * paceMs - performance.now();
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        version++;
        sentAt.set(version, performance.now());
        client.notify('textDocument/didChange', change(plan.keys[i]));
      }
      const lastVersion = version;
      const done = published.some((p) => p.version === lastVersion) || (await waitFor((p) => p.version === lastVersion, Math.max(STALL_MS, 60_000))) !== undefined;
      const pacedLatencies = [];
      let ownVersion = 0;
      for (let v = firstVersion; v <= lastVersion; v++) {
        const answer = published.find((p) => p.version >= v && p.at >= sentAt.get(v));
        if (answer) pacedLatencies.push(answer.at - sentAt.get(v));
        if (published.some((p) => p.version === v)) ownVersion++;
      }
      return { script: name, intervalMs: paceMs, ...stats(pacedLatencies), answered: pacedLatencies.length, edits: plan.keys.length, ownVersion, lastVersionAnswered: done };
    }

    // Sequential: one edit, its diagnostics, the next edit. The server's CPU time over the run, divided by
    // the edits answered, does not depend on what else the machine runs (unlike the latencies).
    const latencies = [];
    let stall;
    const cpuBefore = cpuSeconds(child.pid);
    for (let i = 0; i < plan.keys.length; i++) {
      const key = plan.keys[i];
      version++;
      const v = version;
      const wait = waitFor((p) => p.version === v, STALL_MS);
      const sent = performance.now();
      client.notify('textDocument/didChange', change(key));
      const at = await wait;
      if (at !== undefined) {
        latencies.push(at - sent);
        if (!QUIET && (i + 1) % 50 === 0) process.stderr.write(`lsp-latency: ${name}: ${i + 1}/${EDITS} edits, last ${(at - sent).toFixed(1)} ms\n`);
        continue;
      }
      // No answer in STALL_MS: is the server working (a busy loop) or idle (it dropped the version)?
      const before = cpuSeconds(child.pid);
      await new Promise((r) => setTimeout(r, 1000));
      const after = cpuSeconds(child.pid);
      const busy = before !== undefined && after !== undefined ? Math.round((after - before) * 100) : undefined;
      const typedLine = script.snippet.slice(0, key.character - script.column + 1).replace('\n', '\\n');
      stall = {
        atEdit: i + 1,
        version: v,
        line: key.line + 1,
        typedSoFar: typedLine,
        serverCpuPercent: busy,
        serverAlive: child.exitCode === null,
        lastLog: serverLog.slice(-3),
        notSent: plan.keys.length - i - 1,
      };
      if (!QUIET) {
        process.stderr.write(
          `lsp-latency: ${name}: STALL at edit ${i + 1} (version ${v}, line ${key.line + 1}, typed so far "${typedLine}"): no diagnostics in ${STALL_MS} ms, server CPU ${busy ?? '?'}% — stopping this script\n`,
        );
      }
      break;
    }
    const afterSequential = published[published.length - 1].count;
    const cpuAfter = cpuSeconds(child.pid);
    const serverCpuMsPerEdit = cpuBefore !== undefined && cpuAfter !== undefined && latencies.length > 0 ? ((cpuAfter - cpuBefore) * 1000) / latencies.length : null;

    const serverPeakRssMiB = peakRssMiB(child.pid);
    return {
      script: name,
      snippet: script.snippet,
      sites: plan.sites,
      server: `${init?.serverInfo?.name} ${init?.serverInfo?.version}`,
      initializeMs,
      open: { firstDiagnosticsMs: firstAt - openSent, diagnostics: openDiagnostics },
      sequential: { ...stats(latencies), answered: latencies.length, edits: plan.keys.length, diagnosticsAfter: afterSequential, serverCpuMsPerEdit },
      expectedDiagnosticsAfter: stall ? undefined : openDiagnostics + (script.addsSinks ? plan.completeSnippets : 0),
      stall: stall ?? null,
      serverPeakRssMiB,
      target: { p95Ms: 20, met: !stall && latencies.length === plan.keys.length && stats(latencies).p95Ms < 20 },
    };
  } finally {
    await stop();
  }
}

// ---- the reparse floor ---------------------------------------------------------------------------------

/**
 * The same keystrokes replayed in this process on web-tree-sitter alone, with the grammar Sentinel ships:
 * `tree.edit` and an incremental parse from the old tree per edit, no analysis, no protocol. This is the
 * floor of the server's latency: tree-sitter's own reparse of a large file, which rises while the file does
 * not parse (`exec(` unclosed makes it re-read everything after it).
 */
async function reparseFloor(doc, script) {
  const { Language, Parser, Edit } = await import('web-tree-sitter');
  const grammars = path.join(REPO, 'dist', 'grammars');
  await Parser.init({ locateFile: () => path.join(grammars, 'web-tree-sitter.wasm') });
  const parser = new Parser();
  parser.setLanguage(await Language.load(path.join(grammars, 'tree-sitter-python.wasm')));
  let text = doc.text;
  let tree = parser.parse(text);
  const times = [];
  for (const key of keystrokes(EDITS, doc, script).keys) {
    let offset = 0;
    for (let line = 0; line < key.line; line++) offset = text.indexOf('\n', offset) + 1;
    offset += key.character;
    const lines = key.text.split('\n');
    const end = lines.length === 1 ? { row: key.line, column: key.character + key.text.length } : { row: key.line + lines.length - 1, column: lines[lines.length - 1].length };
    const started = performance.now();
    tree.edit(new Edit({ startIndex: offset, oldEndIndex: offset, newEndIndex: offset + key.text.length, startPosition: { row: key.line, column: key.character }, oldEndPosition: { row: key.line, column: key.character }, newEndPosition: end }));
    text = text.slice(0, offset) + key.text + text.slice(offset);
    const next = parser.parse(text, tree);
    times.push(performance.now() - started);
    tree.delete();
    tree = next;
  }
  tree.delete();
  parser.delete();
  return stats(times);
}

// ---- the bench ----------------------------------------------------------------------------------------

const dir = path.join(WORK, 'lsp');
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const file = path.join(dir, 'big_module.py');
const doc = generateModule(LINES);
fs.writeFileSync(file, doc.text);
if (!fs.existsSync(path.join(REPO, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');

const scripts = [];
for (const name of SCRIPTS) {
  const run = await runScript(name, doc, file);
  run.reparseFloor = await reparseFloor(doc, EDIT_SCRIPTS[name]);
  // Paced typing on a fresh server, unless the sequential run already stalled the server.
  run.paced = PACED !== undefined && !run.stall ? await runScript(name, doc, file, PACED) : null;
  scripts.push(run);
}

const result = {
  format: 'sentinel-lsp-latency/2',
  startedAt: new Date().toISOString(),
  node: process.version,
  command: 'node dist/cli.js lsp --stdio',
  file: { lines: doc.text.split('\n').length - 1, bytes: Buffer.byteLength(doc.text), sinks: doc.sinks },
  edits: EDITS,
  stallMs: STALL_MS,
  scripts,
};

const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const report = [`Sentinel language server: ${result.file.lines}-line Python file with ${result.file.sinks} sinks, ${EDITS} single-character incremental edits per script`];
for (const s of scripts) {
  report.push(
    `  [${s.script}] typing ${JSON.stringify(s.snippet)} at ${s.sites} sites: first diagnostics ${f(s.open.firstDiagnosticsMs)} ms after didOpen (${s.open.diagnostics} diagnostics; initialize ${f(s.initializeMs)} ms after spawn)`,
    `  [${s.script}] edit → publishDiagnostics for its version: p50 ${f(s.sequential.p50Ms)} ms, p95 ${f(s.sequential.p95Ms)} ms, max ${f(s.sequential.maxMs)} ms over ${s.sequential.answered}/${s.sequential.edits} edits answered; server CPU ${f(s.sequential.serverCpuMsPerEdit ?? NaN)} ms per edit`,
  );
  report.push(
    `  [${s.script}] floor: web-tree-sitter's incremental reparse alone for the same edits, in-process: p50 ${f(s.reparseFloor.p50Ms)} ms, p95 ${f(s.reparseFloor.p95Ms)} ms, max ${f(s.reparseFloor.maxMs)} ms`,
  );
  if (s.stall) {
    report.push(
      `  [${s.script}] STALLED at edit ${s.stall.atEdit} (line ${s.stall.line}, "${s.stall.typedSoFar}" typed there): no diagnostics within ${STALL_MS} ms, server CPU ${s.stall.serverCpuPercent ?? '?'}%; ${s.stall.notSent} edits not sent`,
    );
  } else {
    report.push(`  [${s.script}] diagnostics after the edits: ${s.sequential.diagnosticsAfter} (expected ${s.expectedDiagnosticsAfter}); server peak RSS ${f(s.serverPeakRssMiB)} MiB`);
  }
  if (s.paced) {
    report.push(
      `  [${s.script}] paced, a key every ${s.paced.intervalMs} ms: p50 ${f(s.paced.p50Ms)} ms, p95 ${f(s.paced.p95Ms)} ms, max ${f(s.paced.maxMs)} ms over ${s.paced.answered}/${s.paced.edits} edits; ${s.paced.ownVersion} versions got their own publish`,
    );
  }
  report.push(`  [${s.script}] target p95 < 20 ms: ${s.target.met ? 'MET' : 'MISSED'}`);
}
if (!QUIET) process.stdout.write(`${report.join('\n')}\n`);
result.summary = report;
if (JSON_OUT) fs.writeFileSync(JSON_OUT, `${JSON.stringify(result, null, 2)}\n`);
else {
  const results = path.join(REPO, 'bench-results');
  fs.mkdirSync(results, { recursive: true });
  fs.writeFileSync(path.join(results, 'lsp-latency.json'), `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(path.join(results, 'lsp-latency.md'), `# Language server latency, ${result.startedAt}\n\n${report.map((l) => `- ${l.trim()}`).join('\n')}\n`);
}
