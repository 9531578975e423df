// The analysis worker pool (node:worker_threads) that scanPaths shares between the CLI and the language
// server's workspace scan. Workers load the grammars once each and receive data only: the catalog as plain
// records, and per file its text and language; they send back plain findings and warnings.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { cacheKindsData } from './cacheTrees';
import type { Finding, LanguageId, ScanWarning } from './finding';
import type { Catalog } from './rules/catalog';

/**
 * The catalog as it travels to a worker: its records only (cards, models, maps of them), copied by the
 * structured clone, which keeps `byId` pointing at the same cards as `rules`.
 */
export type CatalogData = Catalog;

export type ToWorker =
  | { type: 'preload'; languages: LanguageId[] }
  /** `cacheKinds`: the catalog folder's cache-kinds.yml as the main thread read and validated it, if it has. */
  | { type: 'catalog'; key: string; data: CatalogData; cacheKinds?: unknown }
  | { type: 'analyze'; id: number; catalogKey: string; enabled: string[]; lang: LanguageId; text: string; path: string };

export type FromWorker =
  | { type: 'result'; id: number; findings: Finding[]; warnings: ScanWarning[] }
  /** `crashed`: the worker's parser can no longer parse; it exits after this reply and gets no more work. */
  | { type: 'error'; id: number; message: string; crashed?: boolean };

export interface AnalysisTask {
  catalog: Catalog;
  /** A key that changes whenever the catalog's content does (the scanner's catalog hash). */
  catalogKey: string;
  enabled: string[];
  lang: LanguageId;
  text: string;
  /** The path findings name. */
  path: string;
}

export interface AnalysisResult {
  findings: Finding[];
  warnings: ScanWarning[];
}

/** Worker count when none is given: one per CPU the process may use. */
export function defaultJobs(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, n);
}

/**
 * The workers a pool of `requested` may have: more than four per CPU only cost memory (each holds its own
 * WebAssembly parser, tens of MiB), so `--jobs 100000` means four per CPU, not a hundred thousand threads.
 */
export function workerLimit(requested: number): number {
  return Math.max(1, Math.min(Math.floor(requested), 4 * defaultJobs()));
}

/**
 * How to start a worker: the bundled `worker.js` beside this bundle (dist/), or, when running from the
 * TypeScript sources (tests), worker.ts through tsx. Undefined when neither is there: analyse in-process.
 */
function workerEntry(): { code: string; eval: true } | { file: string; eval: false } | undefined {
  if (__filename.endsWith('.ts')) {
    const source = path.join(__dirname, 'worker.ts');
    let tsx: string;
    try {
      tsx = require.resolve(['tsx', 'cjs'].join('/'));
    } catch {
      return undefined;
    }
    return { eval: true, code: `require(${JSON.stringify(tsx)}); require(${JSON.stringify(source)});` };
  }
  const file = path.join(__dirname, 'worker.js');
  return fs.existsSync(file) ? { eval: false, file } : undefined;
}

interface Slot {
  worker: Worker;
  catalogs: Set<string>;
  inFlight: Map<number, Pending>;
}

interface Pending {
  task: AnalysisTask;
  resolve: (r: AnalysisResult) => void;
  reject: (e: Error) => void;
}

/**
 * One task per worker at a time: the others wait in the pool's queue and go to whichever worker is free
 * first (the longest text first), so that one large file never holds back work queued behind it.
 */
const PER_WORKER = 1;
/** Idle workers end after this long: a language server between workspace scans gives their memory back. */
const IDLE_MS = 30_000;

export class AnalysisPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  /** Callers of drainBelow, woken whenever a task ends. */
  private waiters: (() => void)[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly entry = workerEntry();
  /** Languages whose grammars every worker loads as it starts. */
  private readonly preloaded = new Set<LanguageId>();
  /** Set when workers cannot be started here; callers then analyse in-process. */
  readonly unavailable: string | undefined;

  constructor(readonly size: number) {
    this.unavailable = this.entry ? undefined : `no worker entry next to ${__filename}`;
  }

  /** Workers started and not ended. */
  get started(): number {
    return this.slots.length;
  }

  get pending(): number {
    return this.queue.length + this.slots.reduce((n, s) => n + s.inFlight.size, 0);
  }

  analyze(task: AnalysisTask): Promise<AnalysisResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Starts the workers now, so that their start-up overlaps the main thread's own (reading the first files,
   * checking the rule data). Each loads the grammars of `languages` while it has nothing else to do.
   */
  warm(languages: LanguageId[] = [], upTo = this.size): void {
    const fresh = languages.filter((lang) => !this.preloaded.has(lang));
    for (const lang of fresh) this.preloaded.add(lang);
    if (fresh.length > 0) for (const slot of this.slots) slot.worker.postMessage({ type: 'preload', languages: fresh } satisfies ToWorker);
    // At most `upTo` workers: a scan that does not yet know how many files it will analyse starts no more than
    // the CPUs can run, and one that does starts no more than it has files (the queue starts the rest as needed).
    while (!this.unavailable && this.slots.length < Math.min(this.size, upTo)) this.spawn();
    this.dispatch();
  }

  /**
   * Sends every worker a catalog before any task needs it, so that each can load what it derives from it
   * (cache-kinds.yml) while idle. Call it only once the main thread has validated that data (validation.ts).
   */
  prepare(catalog: Catalog, catalogKey: string): void {
    for (const slot of this.slots) this.sendCatalog(slot, catalog, catalogKey);
  }

  /** The text length of the tasks that wait for a worker. */
  get queuedChars(): number {
    return this.queue.reduce((n, p) => n + p.task.text.length, 0);
  }

  /**
   * Resolves once at most `limit` tasks are queued or running and the queued ones hold at most `maxChars` of
   * text (backpressure for the reading loop).
   */
  async drainBelow(limit: number, maxChars = Infinity): Promise<void> {
    while ((this.pending > limit || this.queuedChars > maxChars) && this.slots.length > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Ends every worker (tests, and a language server that shuts down); queued tasks are rejected. */
  async close(): Promise<void> {
    for (const p of this.queue.splice(0)) p.reject(new Error('the analysis pool was closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private spawn(): Slot | undefined {
    if (!this.entry) return undefined;
    // A small young generation: the analysis allocates short-lived nodes in bursts, and two workers with the
    // default one would add tens of MiB of peak memory each for little speed.
    const resourceLimits = { maxYoungGenerationSizeMb: 8 };
    const worker = this.entry.eval ? new Worker(this.entry.code, { eval: true, resourceLimits }) : new Worker(this.entry.file, { resourceLimits });
    const slot: Slot = { worker, catalogs: new Set(), inFlight: new Map() };
    if (this.preloaded.size > 0) worker.postMessage({ type: 'preload', languages: [...this.preloaded] } satisfies ToWorker);
    worker.on('message', (msg: FromWorker) => {
      const p = slot.inFlight.get(msg.id);
      if (!p) return;
      slot.inFlight.delete(msg.id);
      if (msg.type === 'result') p.resolve({ findings: msg.findings, warnings: msg.warnings });
      else p.reject(new Error(msg.message));
      if (msg.type === 'error' && msg.crashed) {
        // Its next task would die with it: take it out of the pool now; a fresh worker takes the queue.
        const at = this.slots.indexOf(slot);
        if (at >= 0) this.slots.splice(at, 1);
      }
      this.dispatch();
    });
    const fail = (err: Error): void => {
      const at = this.slots.indexOf(slot);
      if (at >= 0) this.slots.splice(at, 1);
      for (const p of slot.inFlight.values()) p.reject(new Error(`the analysis worker stopped: ${err.message}`));
      slot.inFlight.clear();
      this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private sendCatalog(slot: Slot, catalog: Catalog, key: string): void {
    if (slot.catalogs.has(key)) return;
    slot.worker.postMessage({ type: 'catalog', key, data: catalogData(catalog), cacheKinds: cacheKindsData(catalog.dir) } satisfies ToWorker);
    slot.catalogs.add(key);
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.filter((s) => s.inFlight.size < PER_WORKER).sort((a, b) => a.inFlight.size - b.inFlight.size)[0];
      if ((!slot || slot.inFlight.size > 0) && this.slots.length < this.size) slot = this.spawn() ?? slot;
      if (!slot) break;
      // The longest text first: a large file started last would keep one worker busy after the others end.
      let longest = 0;
      for (let i = 1; i < this.queue.length; i++) if (this.queue[i]!.task.text.length > this.queue[longest]!.task.text.length) longest = i;
      const p = this.queue.splice(longest, 1)[0]!;
      const { task } = p;
      const id = this.nextId++;
      this.sendCatalog(slot, task.catalog, task.catalogKey);
      slot.inFlight.set(id, p);
      slot.worker.postMessage({ type: 'analyze', id, catalogKey: task.catalogKey, enabled: task.enabled, lang: task.lang, text: task.text, path: task.path } satisfies ToWorker);
    }
    for (const wake of this.waiters.splice(0)) wake();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.pending === 0 && this.slots.length > 0) {
      this.idleTimer = setTimeout(() => {
        if (this.pending === 0) for (const s of this.slots.splice(0)) void s.worker.terminate();
      }, IDLE_MS);
      this.idleTimer.unref();
    }
    // Idle workers must not keep a finished CLI alive; busy ones must keep the process waiting for them.
    for (const s of this.slots) {
      if (s.inFlight.size > 0) s.worker.ref();
      else s.worker.unref();
    }
  }
}

export function catalogData(catalog: Catalog): CatalogData {
  return catalog;
}

const pools = new Map<number, AnalysisPool>();

/** The process's pool of `size` workers, created on first use and kept for later scans. */
export function sharedPool(size: number): AnalysisPool {
  let pool = pools.get(size);
  if (!pool) {
    pool = new AnalysisPool(size);
    pools.set(size, pool);
  }
  return pool;
}

/** Ends every shared pool's workers. */
export async function closeSharedPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close()));
}
