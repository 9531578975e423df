// Lists the files a scan reads under its roots: skips VCS, dependency, virtualenv and build folders and
// .gitignored paths (never a file git tracks: git ships it), follows no symlink out of a root, survives
// symlink loops, and never opens FIFOs or devices, not even as a .gitignore. Every path it passes over for a
// reason other than "ignored" becomes a warning.
import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { kindOf, OPEN_NOFOLLOW_NONBLOCK, readAtMost } from './boundedRead';
import type { ScanWarning } from './finding';
import { escapeName } from './names';
import { POLICY_FILE_NAMES } from './policy';
import { GitError, trackedFilesSync, workTreeTopSync } from './git';

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
  /**
   * The real path's bytes, when a name on it is not valid UTF-8: `path` and `realPath` then show those bytes
   * escaped (`\xff`, escapeName), and only these bytes open the file.
   */
  rawPath?: Buffer;
  size: number;
  /** True when the user named this file directly: ignore rules do not apply to it. */
  explicit: boolean;
}

export interface WalkResult {
  files: WalkedFile[];
  warnings: ScanWarning[];
}

/** A .gitignore larger than this is not applied (a warning says so): real ones are a few kilobytes. */
export const MAX_GITIGNORE_BYTES = 1024 * 1024;

/**
 * One .gitignore's patterns. Paths are tested relative to the folder that holds it: `above` is the path from
 * that folder down to the scan root (for a .gitignore above the root), `within` the path from the root down to
 * that folder (for one inside it); both use forward slashes and are empty when not needed.
 */
interface IgnoreLayer {
  above: string;
  within: string;
  rules: Ignore;
}

/** What git tracks under one scan root, found by one `git ls-files` when first needed. */
interface Tracked {
  /** Set when git could not list them: then every path counts as tracked, and no .gitignore hides anything. */
  all: boolean;
  /** Tracked paths relative to the root's real path (forward slashes); a submodule is its folder. */
  files: Set<string>;
  /** Every folder that holds a tracked path, relative to the root's real path. */
  dirs: Set<string>;
}

function isVirtualenv(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'pyvenv.cfg'));
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function toPosix(rel: string): string {
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

/**
 * Reads the .gitignore in the folder `realDir` (a real path) as git would: only a regular file, never through
 * a symlink (git does not follow a symlinked .gitignore either), never blocking on a FIFO or device, at most
 * MAX_GITIGNORE_BYTES. Anything else is a warning naming it, and its patterns are not applied.
 */
function loadGitignore(realDir: string, shownAs: string, warnings: ScanWarning[]): Ignore | undefined {
  const file = path.join(realDir, '.gitignore');
  const notApplied = 'its patterns were not applied';
  let fd: number | undefined;
  try {
    // lstat first, so that nothing but a regular file is ever opened; the open then refuses a final symlink
    // and does not block, and fstat checks what was opened (it may have been swapped in between).
    const before = fs.lstatSync(file);
    if (!before.isFile()) {
      const message = before.isSymbolicLink()
        ? `.gitignore is a symbolic link; not followed (a .gitignore is read only as a regular file, as git reads it), ${notApplied}`
        : `.gitignore is ${kindOf(before)}, not a regular file; not opened, ${notApplied}`;
      warnings.push({ code: 'not-regular-file', path: shownAs, message });
      return undefined;
    }
    fd = fs.openSync(file, OPEN_NOFOLLOW_NONBLOCK);
    const opened = fs.fstatSync(fd);
    if (!opened.isFile()) {
      warnings.push({ code: 'not-regular-file', path: shownAs, message: `.gitignore is ${kindOf(opened)}, not a regular file; ${notApplied}` });
      return undefined;
    }
    if (opened.size > MAX_GITIGNORE_BYTES) {
      warnings.push({ code: 'too-large', path: shownAs, message: `.gitignore is ${opened.size} bytes, over the ${MAX_GITIGNORE_BYTES}-byte limit; ${notApplied}` });
      return undefined;
    }
    const buf = readAtMost(fd, opened.size, MAX_GITIGNORE_BYTES);
    if (!buf) {
      warnings.push({ code: 'too-large', path: shownAs, message: `.gitignore is over the ${MAX_GITIGNORE_BYTES}-byte limit; ${notApplied}` });
      return undefined;
    }
    return ignore().add(buf.toString('utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    const message = code === 'ELOOP' ? `.gitignore became a symbolic link while being read; not followed, ${notApplied}` : `cannot read .gitignore: ${describeErrno(err)}; ${notApplied}`;
    warnings.push({ code: code === 'ELOOP' ? 'not-regular-file' : 'unreadable', path: shownAs, message });
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** `rel` is the path relative to the scan root, forward slashes. */
function ignoredBy(layers: IgnoreLayer[], rel: string, isDir: boolean): boolean {
  for (const layer of layers) {
    let p = layer.above ? `${layer.above}/${rel}` : rel;
    if (layer.within) {
      if (!p.startsWith(`${layer.within}/`)) continue;
      p = p.slice(layer.within.length + 1);
    }
    if (!p || p.startsWith('../')) continue;
    if (layer.rules.ignores(isDir ? `${p}/` : p)) return true;
  }
  return false;
}

/** Whether some folder from `realDir` up to `/` holds a `.git` entry (a repository git could find). */
function gitEntryAbove(realDir: string): boolean {
  for (let dir = realDir; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, '.git'))) return true;
    if (path.dirname(dir) === dir) return false;
  }
}

/**
 * The real path of `p`: the C library's realpath, one call, where Node's own lstat()s every component of the path
 * (a scan given thousands of files by name spent ~25 µs per file there). Where the C library gives up on a path
 * Node can still resolve (`/dev/stdin` → `/proc/self/fd/0` → `pipe:[…]`), Node's answer, or its error, decides.
 */
function realPathOf(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return fs.realpathSync(p);
  }
}

/** Whether a resolved path came back with U+FFFD for bytes that are not valid UTF-8: it opens nothing. */
function lossy(real: string, p: string): boolean {
  return real.includes('\uFFFD') && !p.includes('\uFFFD');
}

/** What identifies a path given by its bytes among the walk's visited paths (text paths are their own key). */
function rawKey(raw: Buffer): string {
  return `\0${raw.toString('latin1')}`;
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

/** How .gitignore files apply under one scan root (see walkRoots). */
interface RootIgnores {
  /** Layers from .gitignore files above the root, outermost first. */
  layers: IgnoreLayer[];
  /** False when git could not say what it tracks here: then no .gitignore is applied at all. */
  apply: boolean;
  /** The work tree's tracked paths, asked for the first time a .gitignore pattern matches; absent outside git. */
  tracked?: () => Tracked;
}

/**
 * Decides how .gitignore files apply under the folder root `abs` (real path `realRoot`), as git does: inside
 * a git work tree, the .gitignore files from the work tree's top down to the root apply, but never to a file
 * git tracks (git ships committed files whatever .gitignore says, so a .gitignore must not hide them from the
 * scan); outside one, only .gitignore files inside the root apply. When git cannot answer for a folder that
 * is in a repository, nothing is ignored and a warning says why.
 */
function rootIgnores(abs: string, realRoot: string, display: (p: string) => string, warnings: ScanWarning[]): RootIgnores {
  if (!gitEntryAbove(realRoot)) return { layers: [], apply: true };
  let top: string | undefined;
  try {
    top = workTreeTopSync(realRoot);
  } catch (err) {
    const reason = err instanceof GitError ? err.message : String(err);
    warnings.push({ code: 'unreadable', path: display(abs), message: `git could not list the files it tracks here (${reason}); .gitignore patterns were not applied, so ignored files are scanned too` });
    return { layers: [], apply: false };
  }
  if (top === undefined || !isInside(realRoot, top)) return { layers: [], apply: true };
  const layers: IgnoreLayer[] = [];
  for (let dir = path.dirname(realRoot); isInside(dir, top); dir = path.dirname(dir)) {
    const rules = loadGitignore(dir, display(path.join(dir, '.gitignore')), warnings);
    if (rules) layers.unshift({ above: toPosix(path.relative(dir, realRoot)), within: '', rules });
    if (dir === top || path.dirname(dir) === dir) break;
  }
  let tracked: Tracked | undefined;
  const load = (): Tracked => {
    if (tracked) return tracked;
    tracked = { all: false, files: new Set(), dirs: new Set() };
    let list: string[];
    try {
      list = trackedFilesSync(realRoot);
    } catch (err) {
      // Without the list, every path counts as tracked: nothing is hidden by a .gitignore.
      warnings.push({ code: 'unreadable', path: display(abs), message: `git could not list the files it tracks here (${(err as Error).message}); .gitignore patterns were not applied, so ignored files are scanned too` });
      tracked.all = true;
      return tracked;
    }
    for (const file of list) {
      tracked.files.add(file);
      for (let slash = file.lastIndexOf('/'); slash > 0; slash = file.lastIndexOf('/', slash - 1)) {
        const dir = file.slice(0, slash);
        if (tracked.dirs.has(dir)) break;
        tracked.dirs.add(dir);
      }
    }
    return tracked;
  };
  return { layers, apply: true, tracked: load };
}

interface PendingDir {
  dir: string;
  real: string;
  /** The real path's bytes, when a name on it is not valid UTF-8 (`dir` and `real` show it escaped). */
  raw?: Buffer;
  layers: IgnoreLayer[];
  /** Inside a tracked submodule: no .gitignore of the outer repository applies. */
  exempt: boolean;
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
      realRoot = realPathOf(abs);
      // A root reached through a link into a folder whose name is not valid UTF-8: the path through the link opens.
      if (lossy(realRoot, abs)) realRoot = abs;
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
    const ignores = rootIgnores(abs, realRoot, display, warnings);
    /** Whether the path `child` (real path `childReal`) is left out by a .gitignore. */
    const ignored = (layers: IgnoreLayer[], child: string, childReal: string, isDir: boolean): boolean => {
      if (!ignores.apply || !ignoredBy(layers, toPosix(path.relative(abs, child)), isDir)) return false;
      if (!ignores.tracked) return true;
      const tracked = ignores.tracked();
      const rel = toPosix(path.relative(realRoot, childReal));
      // A tracked file is scanned whatever .gitignore says; an ignored folder is still walked for the
      // tracked files in it (its untracked files stay ignored, their folder's pattern matches them).
      return !(tracked.all || tracked.files.has(rel) || (isDir && tracked.dirs.has(rel)));
    };
    const visitedDirs = new Set<string>();
    const stack: PendingDir[] = [{ dir: abs, real: realRoot, layers: ignores.layers, exempt: false }];
    while (stack.length > 0) {
      const { dir, real, raw: rawDir, layers: parentLayers, exempt } = stack.pop()!;
      // A path with bytes that are not UTF-8 is known by those bytes: its escaped text may equal a real name
      // (`d\xff` with a backslash), which must not make it look visited.
      const dirKey = rawDir ? rawKey(rawDir) : real;
      if (visitedDirs.has(dirKey)) {
        warnings.push({ code: 'symlink-loop', path: display(dir), message: `is a symlink to ${display(real)}, which this scan already walks (a loop or an alias); not walked again` });
        continue;
      }
      visitedDirs.add(dirKey);
      // Under a name that is not UTF-8 no .gitignore applies: its patterns are text, and this scan errs towards reading.
      const own = exempt || !ignores.apply || rawDir ? undefined : loadGitignore(real, display(path.join(dir, '.gitignore')), warnings);
      const dirLayers = own ? [...parentLayers, { above: '', within: toPosix(path.relative(abs, dir)), rules: own }] : parentLayers;
      let entries: fs.Dirent<Buffer>[];
      try {
        // Names as bytes: a name that is not valid UTF-8 would come back with U+FFFD in it, naming no file.
        entries = fs.readdirSync(rawDir ?? dir, { withFileTypes: true, encoding: 'buffer' });
      } catch (err) {
        warnings.push({ code: 'unreadable', path: display(dir), message: `folder ${describeErrno(err)}` });
        continue;
      }
      const named = entries.map((entry) => ({ entry, name: entry.name.toString('utf8'), raw: entry.name }));
      named.sort((a, b) => Buffer.compare(a.raw, b.raw));
      const subdirs: PendingDir[] = [];
      for (const { entry, name, raw } of named) {
        if (name === '.gitignore') continue; // read above, as a regular file only, with its own warnings
        // A name that is not valid UTF-8 (or anything under one) cannot be opened through a text path: it is reached
        // by its bytes, and shown with those bytes escaped. No .gitignore hides it (see above).
        const byBytes = !!rawDir || !isUtf8(raw);
        const shownName = byBytes ? escapeName(raw) : name;
        const child = path.join(dir, shownName);
        let childReal = path.join(real, shownName);
        const childRaw = byBytes ? Buffer.concat([rawDir ?? Buffer.from(real), Buffer.from(path.sep), raw]) : undefined;
        let isDir = entry.isDirectory();
        let isFile = entry.isFile();
        let size = -1;
        if (rawDir && (POLICY_FILE_NAMES as readonly string[]).includes(shownName)) {
          // Policies are looked up by text paths, which cannot name this folder: say so rather than ignore it.
          warnings.push({ code: 'unreadable', path: display(child), message: 'is a policy in a folder whose name is not valid UTF-8: it is not applied (the policy above governs these files)' });
          continue;
        }
        if (entry.isSymbolicLink()) {
          if (childRaw) {
            warnings.push({ code: 'unreadable', path: display(child), message: 'is a symlink whose path is not valid UTF-8; not followed' });
            continue;
          }
          try {
            childReal = realPathOf(child);
          } catch (err) {
            warnings.push({ code: 'symlink-loop', path: display(child), message: `symlink cannot be resolved: ${describeErrno(err)}` });
            continue;
          }
          if (lossy(childReal, child)) {
            // Where it points cannot be told apart from elsewhere, so whether it stays inside the root cannot either.
            warnings.push({ code: 'unreadable', path: display(child), message: 'is a symlink into a path that is not valid UTF-8; not followed' });
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
          if (childRaw) {
            if (!SKIPPED_DIRS.has(shownName)) subdirs.push({ dir: child, real: childReal, raw: childRaw, layers: dirLayers, exempt });
            continue;
          }
          if (SKIPPED_DIRS.has(name) || isVirtualenv(child)) continue;
          if (!exempt && ignored(dirLayers, child, childReal, true)) continue;
          // A submodule is one tracked path that is a folder: the outer repository's .gitignore stops there.
          const submodule = !exempt && !!ignores.tracked && entry.isDirectory() && fs.existsSync(path.join(child, '.git')) && ignores.tracked().files.has(toPosix(path.relative(realRoot, childReal)));
          subdirs.push({ dir: child, real: childReal, layers: submodule ? [] : dirLayers, exempt: exempt || submodule });
          continue;
        }
        if (!isFile) {
          if (accept(child)) {
            warnings.push({ code: 'not-regular-file', path: display(child), message: 'is a FIFO, socket or device; not opened' });
          }
          continue;
        }
        if (!accept(child) || (!childRaw && !exempt && ignored(dirLayers, child, childReal, false))) continue;
        // A path read by its bytes is known by them: its escaped text may equal a real name (`a\xffb.py`).
        const seenKey = childRaw ? rawKey(childRaw) : childReal;
        if (seenFiles.has(seenKey)) continue;
        seenFiles.add(seenKey);
        if (size < 0) {
          try {
            size = fs.statSync(childRaw ?? childReal).size;
          } catch (err) {
            warnings.push({ code: 'unreadable', path: display(child), message: describeErrno(err) });
            continue;
          }
        }
        files.push({ path: child, realPath: childReal, ...(childRaw ? { rawPath: childRaw } : {}), size, explicit: false });
      }
      // Depth-first in name order: push in reverse so the first name is walked first.
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]);
    }
  }
  return { files, warnings };
}

export { describeErrno, escapeName };
