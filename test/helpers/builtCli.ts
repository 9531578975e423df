// The built CLI (dist/cli.js through bin/sentinel.js) for tests that run Sentinel as CI does, out of process.
// Rebuilds dist/ with esbuild (offline, about a second) when a source file is newer than the bundle.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO_ROOT = path.join(__dirname, '..', '..');
export const SENTINEL_BIN = path.join(REPO_ROOT, 'bin', 'sentinel.js');
const BUNDLE = path.join(REPO_ROOT, 'dist', 'cli.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(abs) : fs.statSync(abs).mtimeMs);
  }
  return newest;
}

/** Makes sure dist/cli.js exists and is not older than the sources it is built from. */
export function ensureBuiltCli(): void {
  const sources = ['server/src', 'shared/src', 'rules'].map((d) => newestMtime(path.join(REPO_ROOT, d)));
  const built = fs.existsSync(BUNDLE) ? fs.statSync(BUNDLE).mtimeMs : 0;
  if (built >= Math.max(...sources)) return;
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'esbuild.mjs')], { cwd: REPO_ROOT, stdio: 'pipe', timeout: 120_000 });
}
