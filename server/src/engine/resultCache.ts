// The content-addressed result cache: one file's raw analysis (findings before any policy, and the warnings
// about the file) stored under a key made of everything the analysis depends on. It lives in a per-user folder
// that Sentinel refuses when others could write it, as its own JIT-CACHE-POISONING rule would.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Finding, ScanWarning } from './finding';

/** A cached analysis: the per-file result with the file's own path left out (the same bytes may live anywhere). */
export interface CachedAnalysis {
  findings: Finding[];
  warnings: ScanWarning[];
}

/** Bumped when the entry layout changes, so that an older Sentinel's entries are never read as new ones. */
const ENTRY_FORMAT = 'sentinel-result/1';
export const DEFAULT_CACHE_MAX_BYTES = 256 * 1024 * 1024;

/** The per-user cache folder: $XDG_CACHE_HOME/sentinel, else the platform's user cache folder. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return path.join(env.XDG_CACHE_HOME, 'sentinel');
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Caches', 'sentinel');
  if (platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'sentinel');
  return path.join(home, '.cache', 'sentinel');
}

/** Why a cache folder is unsafe to load from (others could plant results) after its name, or undefined when it is safe. */
export function unsafeCacheDir(stat: fs.Stats): string | undefined {
  if (!stat.isDirectory()) return 'is not a directory';
  if (process.platform === 'win32') return undefined; // modes do not describe Windows ACLs
  const mode = `0${(stat.mode & 0o777).toString(8)}`;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && stat.uid !== uid) return `is owned by uid ${stat.uid}, not by this user (uid ${uid}; mode ${mode})`;
  if (stat.mode & 0o002) return `is world-writable (mode ${mode})`;
  if (stat.mode & 0o020) return `is group-writable (mode ${mode})`;
  return undefined;
}

export interface OpenCacheOptions {
  /** Entries above this total size are evicted, oldest first, when the cache is closed. */
  maxBytes?: number;
  /** What identifies the analysing code; part of every key. Default: `engineIdentity()` from the scanner. */
  engine: string;
}

/**
 * A cache that was opened, or why none was: `warning` is the line for stderr and `refusal` the same reason as a
 * `cache-refused` warning for the report, so that CI logs, SARIF and the other formats show it too.
 */
export type OpenCacheResult = { cache: ResultCache; warning?: undefined; refusal?: undefined } | { cache?: undefined; warning: string; refusal: ScanWarning };

const REFUSAL_ADVICE = 'Use a folder only you can write (chmod 700), --cache-dir DIR, or --no-cache';

/** Both forms of "not using the cache in `dir`": `reason` reads after the folder's name ("is a symbolic link"). */
function refuse(dir: string, reason: string, unsafe: boolean): OpenCacheResult {
  const why = unsafe ? `${reason}; others could plant results there` : reason;
  return {
    warning: `not using the result cache: ${dir} ${why}${unsafe ? `. ${REFUSAL_ADVICE}` : ''}`,
    refusal: { code: 'cache-refused', path: dir, message: `${why}, so this scan ran without the result cache.${unsafe ? ` ${REFUSAL_ADVICE}` : ''}` },
  };
}

/**
 * Opens (creating it with mode 0700 when missing) a cache folder. A folder that is group- or world-writable,
 * owned by another user, a symlink or not a folder at all is refused with a warning that names it and its
 * mode; so is one that cannot be created or examined. The scan then runs without a cache.
 */
export function openResultCache(dir: string, options: OpenCacheOptions): OpenCacheResult {
  const abs = path.resolve(dir);
  try {
    makeDirs(abs);
  } catch (err) {
    return refuse(abs, `cannot be created (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, false);
  }
  let stat: fs.Stats;
  try {
    // lstat: a symlink planted in place of the folder is refused, not followed.
    stat = fs.lstatSync(abs);
  } catch (err) {
    return refuse(abs, `cannot be examined (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, false);
  }
  if (stat.isSymbolicLink()) return refuse(abs, 'is a symbolic link', true);
  if (!stat.isDirectory()) return refuse(abs, 'is not a directory', false);
  const unsafe = unsafeCacheDir(stat);
  if (unsafe) return refuse(abs, unsafe, true);
  return { cache: new ResultCache(abs, options) };
}

/**
 * `mkdir -p` with mode 0700, one level at a time from the nearest existing ancestor. Node's recursive mkdir
 * spins forever where a parent exists but a child cannot be made in it (`/proc/nope`: EEXIST on /proc, ENOENT
 * on /proc/nope, again and again); here every level is tried once and the first failure is thrown.
 */
function makeDirs(abs: string): void {
  const missing: string[] = [];
  let dir = abs;
  for (;;) {
    try {
      fs.statSync(dir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    missing.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      // Another scan made it meanwhile: fine; whether it is a safe folder is checked next.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Entries in two-character fan-out folders, written to a temp name and renamed into place. */
export class ResultCache {
  readonly engine: string;
  private readonly maxBytes: number;
  private writtenBytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly dir: string,
    options: OpenCacheOptions,
  ) {
    this.engine = options.engine;
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  }

  /** The key of one file's analysis: its bytes, how it is read (language), and the analysis context. */
  key(bytes: Uint8Array, lang: string, context: string): string {
    return createHash('sha256').update(ENTRY_FORMAT).update('\0').update(this.engine).update('\0').update(context).update('\0').update(lang).update('\0').update(bytes).digest('hex');
  }

  private entryPath(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key.slice(2)}.json`);
  }

  /** The cached analysis, or undefined on a miss; an unreadable or corrupt entry is a miss (and gets rewritten). */
  get(key: string): CachedAnalysis | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.entryPath(key), 'utf8');
    } catch {
      this.misses++;
      return undefined;
    }
    try {
      const data = JSON.parse(text) as { format?: unknown; key?: unknown; findings?: unknown; warnings?: unknown };
      if (data.format !== ENTRY_FORMAT || data.key !== key || !Array.isArray(data.findings) || !Array.isArray(data.warnings)) throw new Error('bad entry');
      this.hits++;
      return { findings: data.findings as Finding[], warnings: data.warnings as ScanWarning[] };
    } catch {
      this.misses++;
      return undefined;
    }
  }

  /** Stores an analysis. Failures (a full disk, a read-only folder) only cost the next scan a re-analysis. */
  put(key: string, value: CachedAnalysis): void {
    const file = this.entryPath(key);
    const text = JSON.stringify({ format: ENTRY_FORMAT, key, findings: value.findings, warnings: value.warnings });
    const temp = path.join(path.dirname(file), `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      makeDirs(path.dirname(file));
      fs.writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
      fs.renameSync(temp, file);
      this.writtenBytes += text.length;
    } catch {
      try {
        fs.rmSync(temp, { force: true });
      } catch {
        // nothing to clean up
      }
    }
  }

  /**
   * Keeps the cache under its size cap: when the entries add up to more, the least recently modified ones are
   * removed until it is at 80% of the cap. Called after a scan that wrote entries.
   */
  evict(): { removed: number; bytes: number } {
    if (this.writtenBytes === 0) return { removed: 0, bytes: 0 };
    this.writtenBytes = 0;
    const entries: { file: string; size: number; mtime: number }[] = [];
    let total = 0;
    for (const fan of safeReaddir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(fan)) continue;
      const sub = path.join(this.dir, fan);
      for (const name of safeReaddir(sub)) {
        const file = path.join(sub, name);
        try {
          const st = fs.lstatSync(file);
          if (!st.isFile()) continue;
          // Temp files of a writer that died are stale after a minute.
          if (name.startsWith('.tmp-') && Date.now() - st.mtimeMs < 60_000) continue;
          entries.push({ file, size: st.size, mtime: name.startsWith('.tmp-') ? 0 : st.mtimeMs });
          total += st.size;
        } catch {
          // gone meanwhile
        }
      }
    }
    if (total <= this.maxBytes) return { removed: 0, bytes: total };
    entries.sort((a, b) => a.mtime - b.mtime || (a.file < b.file ? -1 : 1));
    let removed = 0;
    for (const e of entries) {
      if (total <= this.maxBytes * 0.8) break;
      try {
        fs.rmSync(e.file, { force: true });
        total -= e.size;
        removed++;
      } catch {
        // another scan removed it
      }
    }
    return { removed, bytes: total };
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
