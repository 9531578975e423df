// Shared helpers of the benchmark: where things live, how a child process is timed and its peak RSS read,
// and the small statistics the tables print. Nothing here talks to the network.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO = path.dirname(BENCH_DIR);
/** The peers' tool folder (npm --prefix), inside the repo but ignored by git through its own .gitignore. */
export const TOOLS_DIR = process.env.BENCH_TOOLS_DIR ? path.resolve(process.env.BENCH_TOOLS_DIR) : path.join(REPO, '.bench-tools');
/**
 * Staged corpora and scratch files live outside the repo: inside it, the repo's .gitignore, its eslint
 * run (`eslint .` would lint a staged JS tree) and its policy lookup would all see them.
 */
export const WORK_DIR = process.env.BENCH_WORK_DIR ? path.resolve(process.env.BENCH_WORK_DIR) : path.join(os.tmpdir(), 'sentinel-bench');
export const RESULTS_DIR = path.join(REPO, 'bench-results');

export function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, cmd);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a short command and returns its trimmed stdout, or undefined when it fails. */
export function capture(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...options });
  if (r.error || r.status !== 0) return undefined;
  return (r.stdout || r.stderr || '').trim();
}

/** Lines in a buffer as editors count them: newlines, plus one for a last line without a newline. */
export function countLines(buf) {
  let n = 0;
  let i = -1;
  while ((i = buf.indexOf(10, i + 1)) !== -1) n++;
  if (buf.length > 0 && buf[buf.length - 1] !== 10) n++;
  return n;
}

export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of `values`. */
export function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * v.length));
  return v[Math.min(v.length, rank) - 1];
}

const TIME_BIN = '/usr/bin/time';

export function haveGnuTime() {
  if (!fs.existsSync(TIME_BIN)) return false;
  const r = spawnSync(TIME_BIN, ['-v', 'true'], { encoding: 'utf8' });
  return r.status === 0 && /Maximum resident set size/.test(r.stderr);
}

/** Peak RSS of a live process from /proc (VmHWM), in KiB; undefined once it is gone. */
function readHwm(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `cmd args` once and measures it: wall time from spawn to exit (hrtime), and peak RSS from GNU
 * time's -v report (the child's ru_maxrss, which covers its waited-for descendants too) or, without GNU
 * time, by polling the child's VmHWM every 5 ms. stdout is kept (tools' reports go to files).
 */
export function measure({ cmd, args, cwd = REPO, env = process.env, timeoutMs = 300_000, useGnuTime = true }) {
  return new Promise((resolve) => {
    fs.mkdirSync(WORK_DIR, { recursive: true });
    const timeFile = path.join(WORK_DIR, `time-${process.pid}-${Date.now()}.txt`);
    const argv = useGnuTime ? ['-v', '-o', timeFile, cmd, ...args] : args;
    const exe = useGnuTime ? TIME_BIN : cmd;
    const started = process.hrtime.bigint();
    // Its own process group, so that a time-out ends the tool under GNU time too (by the group's id).
    const child = spawn(exe, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = [];
    const err = [];
    let errBytes = 0;
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => {
      // Keep the first 64 KiB of stderr: enough for an error message, bounded for chatty tools.
      if (errBytes < 65536) err.push(d);
      errBytes += d.length;
    });
    let polledKb = 0;
    const poll = useGnuTime
      ? undefined
      : setInterval(() => {
          const kb = readHwm(child.pid);
          if (kb !== undefined && kb > polledKb) polledKb = kb;
        }, 5);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      let peakKb = useGnuTime ? undefined : polledKb || undefined;
      let cpuSec;
      let exitCode = code;
      if (useGnuTime) {
        try {
          const report = fs.readFileSync(timeFile, 'utf8');
          const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
          if (m) peakKb = Number(m[1]);
          const u = /User time \(seconds\): ([\d.]+)/.exec(report);
          const sy = /System time \(seconds\): ([\d.]+)/.exec(report);
          if (u && sy) cpuSec = Number(u[1]) + Number(sy[1]);
          const e = /Exit status: (\d+)/.exec(report);
          if (e) exitCode = Number(e[1]);
          // GNU time prints "Command exited with non-zero status N" first; its own exit code mirrors it.
        } catch {
          // no report: the tool was killed before time could write it
        }
        fs.rmSync(timeFile, { force: true });
      }
      resolve({
        wallMs,
        peakRssMiB: peakKb !== undefined ? peakKb / 1024 : undefined,
        cpuSec,
        exitCode,
        signal,
        timedOut,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** CPU seconds the whole machine spent busy so far (all cores), from /proc/stat; undefined off Linux. */
export function machineBusySeconds() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
    const hz = Number(capture('getconf', ['CLK_TCK']) ?? 100) || 100;
    return busy / hz;
  } catch {
    return undefined;
  }
}

export function fmtInt(n) {
  return n === undefined || Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US');
}

export function fmtSec(ms) {
  return ms === undefined || Number.isNaN(ms) ? '—' : (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
}

export function fmtRatio(r) {
  if (r === undefined || Number.isNaN(r) || !Number.isFinite(r)) return '—';
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

export function fmtMiB(m) {
  return m === undefined || Number.isNaN(m) ? '—' : m.toFixed(0);
}

/** A plain-text table with right-aligned numeric columns. */
export function textTable(headers, rows, alignLeft = new Set([0])) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (alignLeft.has(i) ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(headers, rows, alignLeft = new Set([0])) {
  const esc = (c) => String(c).replace(/\|/g, '\\|');
  const sep = headers.map((_, i) => (alignLeft.has(i) ? ':---' : '---:'));
  return [headers, sep, ...rows].map((r) => `| ${r.map(esc).join(' | ')} |`).join('\n');
}
