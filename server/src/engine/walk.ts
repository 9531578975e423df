// Lists the files a scan reads under its roots: skips VCS, dependency, virtualenv and build folders and
// .gitignored paths, follows no symlink out of a root, survives symlink loops, and never opens FIFOs or
// devices. Every path it passes over for a reason other than "ignored" becomes a warning.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import type { ScanWarning } from './finding';

/** Folders that hold no first-party source: VCS data, dependencies, virtualenvs, caches and build output. */
export const SKIPPED_DIRS = new Set([
  '.git', '.hg', '.svn', 'node_modules', 'bower_components', '.venv', 'venv', '.tox', '.nox', '__pycache__',
  '.mypy_cache', '.pytest_cache', '.ruff_cache', 'site-packages', '.eggs', 'dist', 'build', 'out', '.next',
  '.nuxt', '.turbo', '.cache', 'target', '.e2e', '.vscode-test', 'coverage', '.ipynb_checkpoints',
]);

export interface WalkedFile {
  /** Absolute path as reached through the root (not the symlink target), used for reporting. */
  path: string;
  /** The real path on disk (symlinks resolved), used for reading. */
  realPath: string;
  size: number;
  /** True when the user named this file directly: ignore rules do not apply to it. */
  explicit: boolean;
}

export interface WalkResult {
  files: WalkedFile[];
  warnings: ScanWarning[];
}

interface IgnoreLayer {
  base: string;
  rules: Ignore;
}

function isVirtualenv(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'pyvenv.cfg'));
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function loadGitignore(dir: string, warnings: ScanWarning[], display: (p: string) => string): IgnoreLayer | undefined {
  const file = path.join(dir, '.gitignore');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      warnings.push({ code: 'unreadable', path: display(file), message: `cannot read .gitignore (${code}); its patterns were not applied` });
    }
    return undefined;
  }
  return { base: dir, rules: ignore().add(text) };
}

function ignoredBy(layers: IgnoreLayer[], abs: string, isDir: boolean): boolean {
  for (const layer of layers) {
    const rel = path.relative(layer.base, abs).split(path.sep).join('/');
    if (!rel || rel.startsWith('..')) continue;
    if (layer.rules.ignores(isDir ? `${rel}/` : rel)) return true;
  }
  return false;
}

function describeErrno(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOENT: 'no such file or directory',
    ELOOP: 'too many levels of symbolic links',
    ENOTDIR: 'not a directory',
    EIO: 'I/O error',
  };
  return e.code ? `${reasons[e.code] ?? 'cannot be read'} (${e.code})` : String(err);
}

/**
 * Walks `roots` (files or folders). `display` turns an absolute path into the form warnings show. The
 * optional `accept` filter lets the scanner drop files of languages it does not read without a warning.
 */
export function walkRoots(roots: string[], display: (abs: string) => string, accept: (abs: string) => boolean): WalkResult {
  const files: WalkedFile[] = [];
  const warnings: ScanWarning[] = [];
  const seenFiles = new Set<string>();

  for (const root of roots) {
    const abs = path.resolve(root);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(abs);
    } catch (err) {
      warnings.push({ code: 'unreadable', path: display(abs), message: describeErrno(err) });
      continue;
    }
    let realRoot: string;
    try {
      realRoot = fs.realpathSync(abs);
    } catch (err) {
      warnings.push({ code: 'unreadable', path: display(abs), message: describeErrno(err) });
      continue;
    }
    if (stat.isFile()) {
      if (!seenFiles.has(realRoot)) {
        seenFiles.add(realRoot);
        files.push({ path: abs, realPath: realRoot, size: stat.size, explicit: true });
      }
      continue;
    }
    if (!stat.isDirectory()) {
      warnings.push({ code: 'not-regular-file', path: display(abs), message: 'is not a regular file or folder; not opened' });
      continue;
    }
    // Gitignore files above the root still apply (scanning ./src of a repo whose .gitignore lists src/gen).
    const layers: IgnoreLayer[] = [];
    for (let dir = path.dirname(abs); ; dir = path.dirname(dir)) {
      const layer = loadGitignore(dir, warnings, display);
      if (layer) layers.unshift(layer);
      if (fs.existsSync(path.join(dir, '.git')) || path.dirname(dir) === dir) break;
    }
    const visitedDirs = new Set<string>();
    const stack: { dir: string; real: string; layers: IgnoreLayer[] }[] = [{ dir: abs, real: realRoot, layers }];
    while (stack.length > 0) {
      const { dir, real, layers: parentLayers } = stack.pop()!;
      if (visitedDirs.has(real)) {
        warnings.push({ code: 'symlink-loop', path: display(dir), message: `is a symlink to ${display(real)}, which this scan already walks (a loop or an alias); not walked again` });
        continue;
      }
      visitedDirs.add(real);
      const own = loadGitignore(dir, warnings, display);
      const dirLayers = own ? [...parentLayers, own] : parentLayers;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch (err) {
        warnings.push({ code: 'unreadable', path: display(dir), message: `folder ${describeErrno(err)}` });
        continue;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const subdirs: { dir: string; real: string; layers: IgnoreLayer[] }[] = [];
      for (const entry of entries) {
        const child = path.join(dir, entry.name);
        let isDir = entry.isDirectory();
        let isFile = entry.isFile();
        let childReal = path.join(real, entry.name);
        let size = -1;
        if (entry.isSymbolicLink()) {
          try {
            childReal = fs.realpathSync(child);
          } catch (err) {
            warnings.push({ code: 'symlink-loop', path: display(child), message: `symlink cannot be resolved: ${describeErrno(err)}` });
            continue;
          }
          if (!isInside(childReal, realRoot)) {
            warnings.push({ code: 'symlink-outside-root', path: display(child), message: `symlink points outside the scanned root (to ${childReal}); not followed` });
            continue;
          }
          let target: fs.Stats;
          try {
            target = fs.statSync(childReal);
          } catch (err) {
            warnings.push({ code: 'unreadable', path: display(child), message: describeErrno(err) });
            continue;
          }
          isDir = target.isDirectory();
          isFile = target.isFile();
          size = target.size;
        }
        if (isDir) {
          if (SKIPPED_DIRS.has(entry.name) || isVirtualenv(child)) continue;
          if (ignoredBy(dirLayers, child, true)) continue;
          subdirs.push({ dir: child, real: childReal, layers: dirLayers });
          continue;
        }
        if (!isFile) {
          if (accept(child)) {
            warnings.push({ code: 'not-regular-file', path: display(child), message: 'is a FIFO, socket or device; not opened' });
          }
          continue;
        }
        if (ignoredBy(dirLayers, child, false) || !accept(child)) continue;
        if (seenFiles.has(childReal)) continue;
        seenFiles.add(childReal);
        if (size < 0) {
          try {
            size = fs.statSync(childReal).size;
          } catch (err) {
            warnings.push({ code: 'unreadable', path: display(child), message: describeErrno(err) });
            continue;
          }
        }
        files.push({ path: child, realPath: childReal, size, explicit: false });
      }
      // Depth-first in name order: push in reverse so the first name is walked first.
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]);
    }
  }
  return { files, warnings };
}

export { describeErrno };
