// Installs and finds the peers the benchmark compares Sentinel with. npm peers go into the tool folder
// (npm install --prefix .bench-tools, pinned versions, no install scripts), never into the project's own
// package.json; Bandit comes from Debian (python3-bandit) when it is missing and we are root. A peer that
// cannot be had is returned with `missing` and the reason, so that the table can say so.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TOOLS_DIR, capture, haveGnuTime, which } from './common.mjs';

export const NPM_PEERS = {
  '@astral-sh/ruff-wasm-nodejs': '0.17.4',
  eslint: '10.15.0',
  'eslint-plugin-security': '4.1.0',
};

function installedVersion(pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(TOOLS_DIR, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function log(msg) {
  process.stderr.write(`bench: ${msg}\n`);
}

/** Runs an install command with its output kept for the report; true when it exits 0. */
function run(cmd, args, env = process.env) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 300_000 });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-5).join('\n');
    log(`  failed (${r.error?.message ?? `exit ${r.status}`}): ${tail}`);
    return false;
  }
  return true;
}

/** Puts the pinned npm peers into the tool folder unless they are already there at the pinned version. */
export function ensureNpmPeers({ install = true } = {}) {
  fs.mkdirSync(TOOLS_DIR, { recursive: true });
  // The folder ignores itself, so git never shows it and the project's .gitignore stays as it is.
  const selfIgnore = path.join(TOOLS_DIR, '.gitignore');
  if (!fs.existsSync(selfIgnore)) fs.writeFileSync(selfIgnore, '# installed by bench/run.mjs\n*\n');
  // Its own package.json, so that npm records the peers there (and prunes nothing it installed before).
  const manifest = path.join(TOOLS_DIR, 'package.json');
  if (!fs.existsSync(manifest)) fs.writeFileSync(manifest, `${JSON.stringify({ name: 'sentinel-bench-tools', private: true }, null, 2)}\n`);
  const wanted = Object.entries(NPM_PEERS).filter(([pkg, v]) => installedVersion(pkg) !== v);
  const notes = {};
  if (wanted.length > 0 && install) {
    const npm = which('npm');
    const ok = npm && run(npm, ['install', '--prefix', TOOLS_DIR, '--no-audit', '--no-fund', '--ignore-scripts', '--save-exact', ...wanted.map(([p, v]) => `${p}@${v}`)]);
    if (!ok) for (const [pkg] of wanted) notes[pkg] = npm ? 'npm install into the tool folder failed (see above)' : 'npm not found';
  }
  const status = {};
  for (const pkg of Object.keys(NPM_PEERS)) {
    const have = installedVersion(pkg);
    status[pkg] = have ? { version: have } : { missing: notes[pkg] ?? (install ? 'not installed' : 'not installed (--no-install)') };
  }
  return status;
}

function aptInstall(pkg) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root, so apt-get cannot install it';
  const apt = which('apt-get');
  if (!apt) return 'apt-get not found';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (run(apt, ['install', '-y', '-qq', pkg], env)) return undefined;
  // Package lists may be missing or stale on a fresh machine: update once, then try again.
  if (run(apt, ['update', '-qq'], env) && run(apt, ['install', '-y', '-qq', pkg], env)) return undefined;
  return `apt-get install ${pkg} failed`;
}

/** Bandit from PATH, else Debian's python3-bandit installed now. */
export function ensureBandit({ install = true } = {}) {
  const find = () => which('bandit') ?? (fs.existsSync('/usr/bin/bandit') ? '/usr/bin/bandit' : undefined);
  let bin = find();
  let why;
  if (!bin && install) {
    why = aptInstall('python3-bandit');
    bin = find();
  }
  if (!bin) return { missing: why ?? (install ? 'bandit not found' : 'bandit not found (--no-install)') };
  const version = capture(bin, ['--version'])?.split('\n')[0];
  return { bin, version: version ?? 'unknown' };
}

/** GNU time for peak RSS; installed from Debian's `time` when missing and root, else RSS is polled. */
export function ensureGnuTime({ install = true } = {}) {
  if (haveGnuTime()) return { how: '/usr/bin/time -v (ru_maxrss of the process tree)' };
  if (install) aptInstall('time');
  if (haveGnuTime()) return { how: '/usr/bin/time -v (ru_maxrss of the process tree)' };
  return { how: "polling /proc/PID/status VmHWM every 5 ms (GNU time is missing): the top process only", polled: true };
}
