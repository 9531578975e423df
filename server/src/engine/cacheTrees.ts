// Compiled JIT caches as input: recognises TorchInductor, Triton, Numba, torch_extensions and CuPy caches by
// their layout, .pt/.pth archives and mega-cache files by their content, and reports poisoned entries
// (pickle imports, generated code the compiler never writes, who can write each entry) as finished findings.
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { OPEN_NOFOLLOW_NONBLOCK } from './boundedRead';
import { PythonFile } from './checks/python';
import type { Confidence, Evidence, Finding, ScanWarning, Span } from './finding';
import { mayBeCacheArtifact } from './languages';
import { LineIndex } from './lines';
import { parseText } from './parser';
import { disassemblePickles, type PickleDisassembly } from './pickle';
import { type Catalog, CatalogError, describeAjvError, readYaml, type RuleCard, ruleSummary } from './rules/catalog';
import { CHECKS_SHIPPED_SCHEMAS, compileSchema } from './validation';
import { escapeName } from './names';
import { bufferSource, type ByteSource, fileSource, looksLikeZip, readZipDirectory, readZipEntry, ZipError } from './zip';

// ---- the data: rules/cache-kinds.yml ------------------------------------------------------------------

export const CACHE_KINDS_FILE = 'cache-kinds.yml';

/** How a cache entry is read. */
export type EntryClass = 'pickle' | 'generated-python' | 'source' | 'triton-group' | 'opaque';

interface RawKind {
  title: string;
  markers: ({ glob: string } | { regex: string } | { name: string })[];
  entries: { glob: string; as: EntryClass; pickles?: number }[];
  allow: string[];
  embeddedSource?: boolean;
}

interface RawCacheKinds {
  rule: string;
  codeRunning: string[];
  weightsOnly?: string[];
  kinds: Record<string, RawKind>;
  archives: { title: string; extensions: string[]; sniffExtensions: string[]; members: string; legacyPickles: number; allow: string[] };
  megaCache: { title: string; files: string[]; pickledArtifacts: Record<string, string>; allow: string[] };
  generatedCode: { forbiddenModules: string[]; forbiddenCalls: string[]; writeCalls: string[]; writeMethods: string[] };
  loading: LoadingConfig;
  moduleLoading?: ModuleLoading;
  config?: CacheConfigData;
}

/** What checks/cacheConfig.ts reads besides the rule card: project paths, cache folder setters, mode calls. */
export interface CacheConfigData {
  projectPathPrefixes: string[];
  projectPathCalls: string[];
  projectPathNames: string[];
  cacheDirSetters: { api: string; arg?: number; keyword?: string; setting: string }[];
  cacheDirAttributes: string[];
  modeCalls: { api: string; path: number; mode: number; modeKeyword?: string; modeProperty?: string }[];
  modeMethods: { method: string; mode: number; modeKeyword?: string }[];
  umaskCalls: string[];
  cacheDirNames: string;
  jitTools: string;
}

/**
 * Compiled GPU modules loaded at run time (checks/cuda.ts `checkModuleLoads`): calls that take a module image
 * from memory (`images`, the argument that holds it) or from a file (`paths`, the argument that names it),
 * reported under `rule`. `readerNames` is a regex on helper names that read a file into memory (`read_file`).
 */
export interface ModuleLoading {
  rule: string;
  images: { api: string; arg: number }[];
  paths: { api: string; arg: number }[];
  readerNames: string;
}

/** What checks/cacheLoading.ts reads: the source-level side of cache poisoning. */
export interface LoadingConfig {
  loaders: { api: string; args: number[]; keywords?: string[] }[];
  downloadCalls: string[];
  remoteCacheSwitches: string[];
  remoteCacheConfig: string[];
  remoteHostVariables: string[];
  remoteUrlVariables: string[];
  localHosts: string[];
  cacheManagerVariables: string[];
  defaultCacheManagers: string[];
  cacheDirPatterns: string[];
  cacheDirCalls: string[];
  extractCalls: ({ api: string; args: number[]; keywords?: string[] } | { method: string; args: number[]; keywords?: string[] })[];
  extractCommands: { command: string; extractFlags: string[]; destinationFlags: string[] }[];
  downloadCommands: string[];
  archiveSuffixes: string[];
}

/** `module.name` matcher for the patterns of cache-kinds.yml (`os.*`, `torch.*Storage`, exact names). */
export type NameMatcher = (qualified: string) => boolean;

interface Marker {
  /** A glob or regex on the path relative to the candidate root; `depth` is its segment count for globs. */
  path?: RegExp;
  depth?: number;
  /** A glob on the root folder's own name. */
  name?: RegExp;
}

export interface CacheKind {
  id: string;
  title: string;
  markers: Marker[];
  entries: { match: (rel: string) => boolean; as: EntryClass; pickles: number }[];
  allow: NameMatcher;
  embeddedSource: boolean;
}

export interface CacheKinds {
  file: string;
  rule: string;
  codeRunning: NameMatcher;
  kinds: CacheKind[];
  archives: { title: string; extensions: Set<string>; sniffExtensions: Set<string>; members: (name: string) => boolean; legacyPickles: number; allow: NameMatcher };
  megaCache: { title: string; files: (rel: string) => boolean; pickledArtifacts: Map<string, string>; allow: NameMatcher };
  generatedCode: { forbiddenModules: string[]; forbiddenCalls: NameMatcher; writeCalls: NameMatcher; writeMethods: Set<string> };
  loading: LoadingConfig;
  moduleLoading?: ModuleLoading;
  config?: CacheConfigData;
}

const NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_*]+)*$';
const MAX_MARKER_DEPTH = 4;
const strings = { type: 'array', items: { type: 'string', minLength: 1 } };
const names = { type: 'array', items: { type: 'string', pattern: NAME_PATTERN } };
const callSpec = {
  type: 'object',
  additionalProperties: false,
  properties: { api: { type: 'string', pattern: NAME_PATTERN }, method: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, args: { type: 'array', items: { type: 'integer', minimum: 0 } }, keywords: strings },
  required: ['args'],
};

const argSpec = {
  type: 'object',
  additionalProperties: false,
  required: ['api', 'arg'],
  properties: { api: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, arg: { type: 'integer', minimum: 0 } },
};

export const CACHE_KINDS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['rule', 'codeRunning', 'kinds', 'archives', 'megaCache', 'generatedCode', 'loading'],
  properties: {
    rule: { type: 'string', minLength: 1 },
    codeRunning: names,
    weightsOnly: names,
    kinds: {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['title', 'markers', 'entries', 'allow'],
        properties: {
          title: { type: 'string', minLength: 1 },
          markers: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              minProperties: 1,
              maxProperties: 1,
              properties: { glob: { type: 'string', minLength: 1 }, regex: { type: 'string', minLength: 1 }, name: { type: 'string', minLength: 1 } },
            },
          },
          entries: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['glob', 'as'],
              properties: {
                glob: { type: 'string', minLength: 1 },
                as: { enum: ['pickle', 'generated-python', 'source', 'triton-group', 'opaque'] },
                pickles: { type: 'integer', minimum: 1, maximum: 64 },
              },
            },
          },
          allow: names,
          embeddedSource: { type: 'boolean' },
        },
      },
    },
    archives: {
      type: 'object',
      additionalProperties: false,
      required: ['title', 'extensions', 'sniffExtensions', 'members', 'legacyPickles', 'allow'],
      properties: {
        title: { type: 'string' },
        extensions: { type: 'array', items: { type: 'string', pattern: '^\\.[A-Za-z0-9]+$' } },
        sniffExtensions: { type: 'array', items: { type: 'string', pattern: '^\\.[A-Za-z0-9]+$' } },
        members: { type: 'string', minLength: 1 },
        legacyPickles: { type: 'integer', minimum: 1, maximum: 64 },
        allow: names,
      },
    },
    megaCache: {
      type: 'object',
      additionalProperties: false,
      required: ['title', 'files', 'pickledArtifacts', 'allow'],
      properties: {
        title: { type: 'string' },
        files: strings,
        pickledArtifacts: { type: 'object', additionalProperties: { type: 'string' } },
        allow: names,
      },
    },
    generatedCode: {
      type: 'object',
      additionalProperties: false,
      required: ['forbiddenModules', 'forbiddenCalls', 'writeCalls', 'writeMethods'],
      properties: { forbiddenModules: names, forbiddenCalls: names, writeCalls: names, writeMethods: names },
    },
    config: {
      type: 'object',
      additionalProperties: false,
      required: ['projectPathPrefixes', 'projectPathCalls', 'projectPathNames', 'cacheDirSetters', 'cacheDirAttributes', 'modeCalls', 'modeMethods', 'umaskCalls', 'cacheDirNames', 'jitTools'],
      properties: {
        projectPathPrefixes: strings,
        projectPathCalls: strings,
        projectPathNames: strings,
        cacheDirSetters: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['api', 'setting'],
            anyOf: [{ required: ['arg'] }, { required: ['keyword'] }],
            properties: {
              api: { type: 'string', pattern: NAME_PATTERN },
              arg: { type: 'integer', minimum: 0 },
              keyword: { type: 'string', minLength: 1 },
              setting: { type: 'string', minLength: 1 },
            },
          },
        },
        cacheDirAttributes: names,
        modeCalls: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['api', 'path', 'mode'],
            properties: {
              api: { type: 'string', minLength: 1 },
              path: { type: 'integer', minimum: 0 },
              mode: { type: 'integer', minimum: 0 },
              modeKeyword: { type: 'string', minLength: 1 },
              modeProperty: { type: 'string', minLength: 1 },
            },
          },
        },
        modeMethods: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['method', 'mode'],
            properties: { method: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, mode: { type: 'integer', minimum: 0 }, modeKeyword: { type: 'string', minLength: 1 } },
          },
        },
        umaskCalls: strings,
        cacheDirNames: { type: 'string', minLength: 1 },
        jitTools: { type: 'string', minLength: 1 },
      },
    },
    moduleLoading: {
      type: 'object',
      additionalProperties: false,
      required: ['rule', 'images', 'paths', 'readerNames'],
      properties: {
        rule: { type: 'string', minLength: 1 },
        images: { type: 'array', items: argSpec },
        paths: { type: 'array', items: argSpec },
        readerNames: { type: 'string', minLength: 1 },
      },
    },
    loading: {
      type: 'object',
      additionalProperties: false,
      required: [
        'loaders', 'downloadCalls', 'remoteCacheSwitches', 'remoteCacheConfig', 'remoteHostVariables', 'remoteUrlVariables',
        'localHosts', 'cacheManagerVariables', 'defaultCacheManagers', 'cacheDirPatterns', 'cacheDirCalls', 'extractCalls',
        'extractCommands', 'downloadCommands', 'archiveSuffixes',
      ],
      properties: {
        loaders: { type: 'array', items: { ...callSpec, required: ['api', 'args'] } },
        downloadCalls: names,
        remoteCacheSwitches: strings,
        remoteCacheConfig: names,
        remoteHostVariables: strings,
        remoteUrlVariables: strings,
        localHosts: strings,
        cacheManagerVariables: strings,
        defaultCacheManagers: strings,
        cacheDirPatterns: strings,
        cacheDirCalls: names,
        extractCalls: { type: 'array', items: callSpec },
        extractCommands: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['command', 'extractFlags', 'destinationFlags'],
            properties: { command: { type: 'string', minLength: 1 }, extractFlags: strings, destinationFlags: strings },
          },
        },
        downloadCommands: strings,
        archiveSuffixes: strings,
      },
    },
  },
};

/** A matcher for `os.*` (the module and everything in it), `torch.*Storage` (a `*` inside a part) or exact names. */
export function nameMatcher(patterns: string[]): NameMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const regexes: RegExp[] = [];
  for (const p of patterns) {
    if (p.endsWith('.*') && !p.slice(0, -2).includes('*')) prefixes.push(`${p.slice(0, -2)}.`);
    else if (p.includes('*')) regexes.push(new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*')}$`));
    else exact.add(p);
  }
  return (q) => exact.has(q) || prefixes.some((pre) => q.startsWith(pre)) || regexes.some((r) => r.test(q));
}

function globRegex(glob: string, file: string, field: string): RegExp {
  try {
    return picomatch.makeRe(glob, { dot: true });
  } catch (err) {
    throw new CatalogError(file, field, `is not a valid glob: ${(err as Error).message}`);
  }
}

function compileRegex(source: string, file: string, field: string): RegExp {
  try {
    return new RegExp(source);
  } catch (err) {
    throw new CatalogError(file, field, `is not a valid regular expression: ${(err as Error).message}`);
  }
}

const kindsCache = new Map<string, CacheKinds>();
/** The data each folder's cache-kinds.yml held, as read (for workers: `cacheKindsData`, `primeCacheKinds`). */
const kindsData = new Map<string, unknown>();

/**
 * Loads and validates `cache-kinds.yml` from the rule catalog's folder (cached per folder). A broken file is a
 * CatalogError naming the file and the field, as for the rule cards; with `catalog`, `rule` must name one of its rules.
 */
export function loadCacheKinds(dir: string, catalog?: Catalog): CacheKinds {
  let kinds = kindsCache.get(dir);
  if (!kinds) {
    const file = path.join(dir, CACHE_KINDS_FILE);
    const data = readYaml(file);
    kinds = compileCacheKinds(file, data);
    kindsCache.set(dir, kinds);
    kindsData.set(dir, data);
  }
  if (catalog && !catalog.byId.has(kinds.rule)) throw new CatalogError(kinds.file, 'rule', `names unknown rule '${kinds.rule}'`);
  if (catalog && kinds.moduleLoading && !catalog.byId.has(kinds.moduleLoading.rule)) {
    throw new CatalogError(kinds.file, 'moduleLoading.rule', `names unknown rule '${kinds.moduleLoading.rule}'`);
  }
  return kinds;
}

/** What `dir`'s cache-kinds.yml held when this thread loaded it (undefined if it has not): plain, cloneable data. */
export function cacheKindsData(dir: string): unknown {
  return kindsData.get(dir);
}

/**
 * Compiles the cache kinds of `dir` from `data` that another thread read and validated (`cacheKindsData`), so
 * that a worker need not read and parse the YAML again. A failure is left for the analysis that needs them.
 */
export function primeCacheKinds(dir: string, data: unknown): void {
  if (kindsCache.has(dir)) return;
  try {
    kindsCache.set(dir, compileCacheKinds(path.join(dir, CACHE_KINDS_FILE), data));
    kindsData.set(dir, data);
  } catch {
    // loadCacheKinds reads the file again and reports the problem to the analysis that needs it
  }
}

function compileCacheKinds(file: string, data: unknown): CacheKinds {
  const validate = CHECKS_SHIPPED_SCHEMAS ? compileSchema(CACHE_KINDS_SCHEMA, 'first-error') : undefined;
  if (validate && !validate(data)) {
    const first = describeAjvError(validate.errors![0], 'is not a `module.name` pattern (letters, digits, `_`, dots and `*`)');
    throw new CatalogError(file, first.field, first.reason);
  }
  const raw = data as unknown as RawCacheKinds;
  const kinds: CacheKind[] = Object.entries(raw.kinds).map(([id, k]) => ({
    id,
    title: k.title,
    markers: k.markers.map((m, i): Marker => {
      const field = `kinds.${id}.markers.${i}`;
      if ('glob' in m) {
        const depth = m.glob.split('/').length;
        if (m.glob.includes('**') || depth > MAX_MARKER_DEPTH) throw new CatalogError(file, `${field}.glob`, `must be a path of at most ${MAX_MARKER_DEPTH} parts without \`**\``);
        return { path: globRegex(m.glob, file, `${field}.glob`), depth };
      }
      if ('regex' in m) return { path: compileRegex(m.regex, file, `${field}.regex`) };
      if (m.name.includes('/')) throw new CatalogError(file, `${field}.name`, 'is a folder name and cannot hold `/`');
      return { name: globRegex(m.name, file, `${field}.name`) };
    }),
    entries: k.entries.map((e, i) => {
      const re = globRegex(e.glob, file, `kinds.${id}.entries.${i}.glob`);
      return { match: (rel: string) => re.test(rel), as: e.as, pickles: e.pickles ?? 1 };
    }),
    allow: nameMatcher(k.allow),
    embeddedSource: k.embeddedSource ?? false,
  }));
  raw.loading.cacheDirPatterns.forEach((p, i) => compileRegex(p, file, `loading.cacheDirPatterns.${i}`));
  if (raw.moduleLoading) compileRegex(raw.moduleLoading.readerNames, file, 'moduleLoading.readerNames');
  if (raw.config) {
    compileRegex(raw.config.cacheDirNames, file, 'config.cacheDirNames');
    compileRegex(raw.config.jitTools, file, 'config.jitTools');
  }
  for (const [i, spec] of raw.loading.extractCalls.entries()) {
    const s = spec as { api?: string; method?: string };
    if (!s.api === !s.method) throw new CatalogError(file, `loading.extractCalls.${i}`, 'needs exactly one of `api` and `method`');
  }
  const members = globRegex(raw.archives.members, file, 'archives.members');
  const megaFiles = raw.megaCache.files.map((g, i) => globRegex(g, file, `megaCache.files.${i}`));
  const kindIds = new Set(kinds.map((k) => k.id));
  for (const [type, kind] of Object.entries(raw.megaCache.pickledArtifacts)) {
    if (!kindIds.has(kind)) throw new CatalogError(file, `megaCache.pickledArtifacts.${type}`, `names unknown cache kind '${kind}'`);
  }
  return {
    file,
    rule: raw.rule,
    codeRunning: nameMatcher(raw.codeRunning),
    kinds,
    archives: {
      title: raw.archives.title,
      extensions: new Set(raw.archives.extensions.map((e) => e.toLowerCase())),
      sniffExtensions: new Set(raw.archives.sniffExtensions.map((e) => e.toLowerCase())),
      members: (name) => members.test(name),
      legacyPickles: raw.archives.legacyPickles,
      allow: nameMatcher(raw.archives.allow),
    },
    megaCache: {
      title: raw.megaCache.title,
      files: (rel) => megaFiles.some((re) => re.test(rel)),
      pickledArtifacts: new Map(Object.entries(raw.megaCache.pickledArtifacts)),
      allow: nameMatcher(raw.megaCache.allow),
    },
    generatedCode: {
      forbiddenModules: raw.generatedCode.forbiddenModules,
      forbiddenCalls: nameMatcher(raw.generatedCode.forbiddenCalls),
      writeCalls: nameMatcher(raw.generatedCode.writeCalls),
      writeMethods: new Set(raw.generatedCode.writeMethods),
    },
    loading: raw.loading,
    ...(raw.moduleLoading ? { moduleLoading: raw.moduleLoading } : {}),
    ...(raw.config ? { config: raw.config } : {}),
  };
}

// ---- results -------------------------------------------------------------------------------------------

/** What a cache finding adds to its evidence: where in the cache, which opcode or mode, whose entry. */
export interface CacheEvidence {
  /** Cache kind (`inductor`, `triton`, …), or `torch-archive` / `mega-cache` for single files. */
  kind: string;
  /** The cache root (or the archive / mega-cache file), as report paths are shown. */
  root: string;
  /** The entry's path relative to the cache root, forward slashes; `.` for the root itself. */
  entry: string;
  /** Inside the entry: an archive member, a mega-cache artifact (`inductor/<key>`), a nested payload. */
  member?: string;
  check: 'pickle-import' | 'generated-code' | 'writable' | 'foreign-owner' | 'symlink-out' | 'group-path' | 'nested-too-deep';
  /** Pickle findings: the importing opcode and its byte offset in the entry (or member), and the name. */
  opcode?: string;
  offset?: number;
  import?: string;
  /** The opcode that calls the import (REDUCE, INST, OBJ, NEWOBJ) and its byte offset. */
  call?: { opcode: string; offset: number };
  /** Embedded source findings: the line inside the embedded source. */
  line?: number;
  /** Permission findings: the entry's owner and the cache root's owner. */
  uid?: number;
  rootUid?: number;
  /** Symlinks and Triton group files: where the entry points. */
  target?: string;
}

export type CacheFinding = Finding & { evidence: Evidence & { cache: CacheEvidence } };

export interface CacheTree {
  /** The cache root as report paths are shown. */
  path: string;
  kind: string;
  title: string;
  /** Entries walked in this tree (files, folders and symlinks, the root included). */
  entries: number;
}

export interface CacheScanContext {
  baseDir: string;
  display(abs: string): string;
  catalog: Catalog;
  /** Pickles are read up to this many bytes (the rest is not read, with a warning); other entries over it are skipped. */
  maxEntryBytes: number;
  /** The rules this scan runs; when given without the cache rule, nothing is scanned. */
  enabled?: Map<string, RuleCard>;
  /** Paths left out of the scan (the language server's `sentinel.exclude` setting). */
  isExcluded?(abs: string): boolean;
  isCancelled?(): boolean;
  /** Entries visited (discovery and tree walks together) before the scan stops with a warning; default 2,000,000. */
  maxEntries?: number;
}

export interface CacheScanResult {
  findings: CacheFinding[];
  warnings: ScanWarning[];
  trees: CacheTree[];
  /** Generated code and source copies found in caches (absolute paths), for the source rules. */
  sources: string[];
  cancelled?: boolean;
}

// ---- the scan ------------------------------------------------------------------------------------------

/** Folders no cache lives in: version-control data and JavaScript dependencies. */
const NEVER_WALKED = new Set(['.git', '.hg', '.svn', 'node_modules']);
/** Discovery and the tree walks both count, so a cache is counted about twice. */
const DEFAULT_MAX_ENTRIES = 2_000_000;
/** Findings, and warnings, one tree may add before the rest are summarised in one warning. */
const MAX_FINDINGS_PER_TREE = 1000;
const MAX_WARNINGS_PER_TREE = 200;
/**
 * Pickles and zip archives nested in a pickle are followed this many levels deep; a loadable payload nested
 * deeper is reported as a `nested-too-deep` finding (torch.save and the compilers never nest them at all).
 */
export const NESTED_DEPTH = 2;
/**
 * Bytes of archive members one file may have inflated and disassembled, in entry limits: a zip whose
 * directory lists one deflated member many times (a zip bomb) stops there, with a warning.
 */
const MEMBER_BUDGET_ENTRIES = 16;
const CALLING_OPCODES = new Set(['REDUCE', 'INST', 'OBJ']);
const SPAN_ONE: Span = { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1, startOffset: 0, endOffset: 0 };

interface TreePlan {
  root: string;
  kind: CacheKind;
  /** Where the walk starts: the root, or the scanned folder when the scan began inside the cache. */
  walkFrom: Set<string>;
}

interface Pending {
  finding: CacheFinding;
  key: string;
}

function posix(rel: string): string {
  return rel.split(path.sep).join('/');
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code === 'EACCES' ? 'permission denied' : e.code === 'ENOENT' ? 'no such file or directory' : 'cannot be read'} (${e.code})` : String(err);
}

/**
 * Folder entries one at a time (opendir), so a folder of 100,000 entries is never listed into one array. The
 * folder is opened here, so an unreadable one throws now rather than on the first iteration.
 */
/** One entry of a folder: its name, and what it is as the folder listing says (symlinks not followed). */
interface FolderEntry {
  name: string;
  isDirectory(): boolean;
  isFile(): boolean;
}

/**
 * A folder's entries, streamed. A name that is not valid UTF-8 cannot be reached through a text path: it goes to
 * `badName`, shown with its bad bytes escaped (escapeName), instead of failing later as a file that is not there.
 */
function entriesOf(dir: string, badName: (shown: string, isDir: boolean) => void): Generator<FolderEntry> {
  // `encoding: 'buffer'` gives the names' bytes (Node's types only list text encodings for opendir).
  const handle = fs.opendirSync(dir, { bufferSize: 256, encoding: 'buffer' as BufferEncoding });
  return (function* () {
    try {
      for (let d = handle.readSync(); d; d = handle.readSync()) {
        const raw = d.name as unknown as Buffer;
        if (!isUtf8(raw)) {
          badName(path.join(dir, escapeName(raw)), d.isDirectory());
          continue;
        }
        yield { name: raw.toString('utf8'), isDirectory: () => d.isDirectory(), isFile: () => d.isFile() };
      }
    } finally {
      handle.closeSync();
    }
  })();
}

/** The first `max` bytes of a regular file, opened without following symlinks or blocking on FIFOs. */
function readHead(abs: string, max: number): { data: Buffer; size: number } {
  const fd = fs.openSync(abs, OPEN_NOFOLLOW_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
    const src = fileSource(fd, st.size);
    return { data: src.read(0, Math.min(st.size, max)), size: st.size };
  } finally {
    fs.closeSync(fd);
  }
}

async function withSource<T>(abs: string, use: (src: ByteSource) => Promise<T>): Promise<T> {
  const fd = fs.openSync(abs, OPEN_NOFOLLOW_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
    return await use(fileSource(fd, st.size));
  } finally {
    fs.closeSync(fd);
  }
}

/** Recognises the AppendingByteSerializer header torch ≥ 2.7 writes: CRC32, version 1, a base64 artifact type. */
function megaCacheHeader(head: Buffer): boolean {
  if (head.length < 20 || head.readBigUInt64BE(4) !== 1n) return false;
  const n = head.readBigUInt64BE(12);
  if (n === 0n || n > 64n || head.length < 20 + Number(n)) return false;
  const b64 = head.toString('latin1', 20, 20 + Number(n));
  if (!/^[A-Za-z0-9+/]+=*$/.test(b64)) return false;
  return /^[a-z_]{2,40}$/.test(Buffer.from(b64, 'base64').toString('latin1'));
}

function megaCachePickle(head: Buffer): boolean {
  return head.length > 2 && head[0] === 0x80 && head[1]! >= 4 && head.includes('torch.compiler._cache', 0, 'latin1');
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer, start: number): number {
  let c = 0xffffffff;
  for (let i = start; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Scans `roots` for compiled caches, .pt/.pth archives and mega-cache files, and returns complete findings
 * (decision `report`: the caller applies the policy), warnings, the trees recognised and the source files
 * inside them. Never unpickles, imports or runs anything; never follows a symlink.
 */
export async function scanCacheTrees(roots: string[], ctx: CacheScanContext): Promise<CacheScanResult> {
  const kinds = loadCacheKinds(ctx.catalog.dir, ctx.catalog);
  const card = ctx.catalog.byId.get(kinds.rule)!;
  const result: CacheScanResult = { findings: [], warnings: [], trees: [], sources: [] };
  if (ctx.enabled && !ctx.enabled.has(card.id)) return result;
  return new CacheScan(kinds, card, ctx, result).run(roots);
}

class CacheScan {
  private readonly pending: Pending[] = [];
  private readonly plans = new Map<string, TreePlan>();
  private readonly archives = new Set<string>();
  private readonly megaCandidates = new Set<string>();
  private readonly sources = new Set<string>();
  private visited = 0;
  private readonly maxEntries: number;
  /** Member bytes the current file may still inflate (MEMBER_BUDGET_ENTRIES entry limits per file). */
  private memberBudget = 0;
  private memberBudgetWarned = false;
  private stopped = false;

  constructor(
    private readonly kinds: CacheKinds,
    private readonly card: RuleCard,
    private readonly ctx: CacheScanContext,
    private readonly result: CacheScanResult,
  ) {
    this.maxEntries = ctx.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  async run(roots: string[]): Promise<CacheScanResult> {
    for (const root of roots) {
      if (this.stopped) break;
      this.discover(path.resolve(root));
    }
    const plans = [...this.plans.values()].sort((a, b) => (a.root < b.root ? -1 : a.root > b.root ? 1 : 0));
    const rootSet = new Set(plans.map((p) => p.root));
    for (const plan of plans) {
      if (this.stopped) break;
      await this.scanTree(plan, rootSet);
    }
    const handled = new Set<string>();
    for (const file of [...this.archives].sort()) {
      if (this.stopped) break;
      if (await this.scanArchive(file)) handled.add(file);
    }
    for (const file of [...this.megaCandidates].sort()) {
      if (this.stopped || handled.has(file)) continue;
      await this.scanMegaCache(file);
    }
    this.result.findings = this.finish();
    this.result.sources = [...this.sources].sort();
    this.result.trees.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    if (this.ctx.isCancelled?.()) this.result.cancelled = true;
    return this.result;
  }

  private warn(code: ScanWarning['code'], abs: string, message: string): void {
    this.result.warnings.push({ code, path: this.ctx.display(abs), message });
  }

  /** Counts one visited entry; false once the scan must stop (cancelled, or over the entry budget). */
  private tick(): boolean {
    if (this.stopped) return false;
    this.visited++;
    if (this.visited % 256 === 0 && this.ctx.isCancelled?.()) {
      this.stopped = true;
      return false;
    }
    if (this.visited > this.maxEntries) {
      this.stopped = true;
      this.result.warnings.push({
        code: 'too-large',
        path: this.ctx.display(this.ctx.baseDir),
        message: `cache scan stopped after ${this.maxEntries} entries; the rest was not looked at`,
      });
      return false;
    }
    return true;
  }

  // ---- discovery: which folders are caches, which files are archives ----------------------------------

  private discover(scanRoot: string): void {
    // Paths stay as reached through the scanned root (as the source walk reports them); symlinks are compared
    // by their real paths where it matters (checkSymlink).
    let st: fs.Stats;
    try {
      st = fs.statSync(scanRoot);
    } catch {
      return; // The source walk reports roots it cannot read.
    }
    if (st.isFile()) {
      // A file named on the command line: an archive, or one entry of a cache whose root is above it.
      this.noteFile(scanRoot, path.dirname(scanRoot));
      this.markersAt(scanRoot, scanRoot, false);
      return;
    }
    if (!st.isDirectory()) return;
    this.markersAt(scanRoot, scanRoot, true);
    const stack = [scanRoot];
    while (stack.length > 0 && !this.stopped) {
      const dir = stack.pop()!;
      let entries: Generator<FolderEntry>;
      try {
        entries = entriesOf(dir, (shown, isDir) => {
          if (isDir) this.warn('unreadable', shown, 'folder name is not valid UTF-8; not searched for caches');
          else if (mayBeCacheArtifact(shown)) this.warn('unreadable', shown, 'its name is not valid UTF-8; not checked as a cache artifact');
        });
      } catch (err) {
        this.warn('unreadable', dir, `folder ${errnoText(err)}; not searched for caches`);
        continue;
      }
      try {
        for (const d of entries) {
          if (!this.tick()) break;
          const abs = path.join(dir, d.name);
          if (this.ctx.isExcluded?.(abs)) continue;
          if (d.isDirectory()) {
            if (NEVER_WALKED.has(d.name)) continue;
            this.markersAt(abs, scanRoot, true);
            stack.push(abs);
          } else if (d.isFile()) {
            this.markersAt(abs, scanRoot, false);
            this.noteFile(abs, scanRoot);
          }
        }
      } catch (err) {
        this.warn('unreadable', dir, `folder ${errnoText(err)}; not searched for caches`);
      }
    }
  }

  private noteFile(abs: string, scanRoot: string): void {
    const ext = path.extname(abs).toLowerCase();
    if (this.kinds.archives.extensions.has(ext) || this.kinds.archives.sniffExtensions.has(ext)) this.archives.add(abs);
    if (this.kinds.megaCache.files(posix(path.relative(scanRoot, abs)) || path.basename(abs))) this.megaCandidates.add(abs);
  }

  /** Tests the markers of every kind on `abs` as seen from each of its ancestors up to MAX_MARKER_DEPTH. */
  private markersAt(abs: string, scanRoot: string, isDir: boolean): void {
    const parts = abs.split(path.sep);
    const rels: string[] = [''];
    for (let k = 1; k <= MAX_MARKER_DEPTH && k < parts.length; k++) rels.push(k === 1 ? parts[parts.length - 1]! : `${parts[parts.length - k]}/${rels[k - 1]}`);
    for (const kind of this.kinds.kinds) {
      for (const m of kind.markers) {
        if (m.name) {
          if (isDir && m.name.test(parts[parts.length - 1] ?? '')) this.plan(abs, kind, scanRoot);
          continue;
        }
        for (let k = 1; k < rels.length; k++) {
          if (m.depth !== undefined && m.depth !== k) continue;
          if (m.path!.test(rels[k]!)) this.plan(parts.slice(0, parts.length - k).join(path.sep) || path.sep, kind, scanRoot);
        }
      }
    }
  }

  private plan(root: string, kind: CacheKind, scanRoot: string): void {
    // A cache whose root is above the scanned folder is walked from the scanned folder only.
    const walkFrom = isInside(root, scanRoot) ? root : scanRoot;
    const existing = this.plans.get(root);
    if (existing) {
      // The first kind in cache-kinds.yml wins when two layouts claim one folder.
      if (this.kinds.kinds.indexOf(kind) < this.kinds.kinds.indexOf(existing.kind)) existing.kind = kind;
      existing.walkFrom.add(walkFrom);
      return;
    }
    this.plans.set(root, { root, kind, walkFrom: new Set([walkFrom]) });
  }

  // ---- one cache tree ---------------------------------------------------------------------------------

  private async scanTree(plan: TreePlan, otherRoots: Set<string>): Promise<void> {
    const { root, kind } = plan;
    let rootStat: fs.Stats;
    let rootReal: string;
    try {
      rootStat = fs.lstatSync(root);
      rootReal = fs.realpathSync(root);
    } catch (err) {
      this.warn('unreadable', root, `cache root ${errnoText(err)}`);
      return;
    }
    const tree: CacheTree = { path: this.ctx.display(root), kind: kind.id, title: kind.title, entries: 0 };
    this.result.trees.push(tree);
    const findingsBefore = this.pending.length;
    const warningsBefore = this.result.warnings.length;
    const posixPermissions = process.platform !== 'win32';
    interface Frame {
      abs: string;
      writable: number;
      writableAgg?: { count: number };
      foreignUid: number;
      foreignAgg?: { count: number };
    }
    const aggregates: { pending: Pending; agg: { count: number }; noun: string }[] = [];
    const rootUid = rootStat.uid;
    const check = (abs: string, st: fs.Stats, frame: Frame): Frame => {
      const next: Frame = { ...frame, abs };
      if (!posixPermissions) return next;
      const rel = posix(path.relative(root, abs)) || '.';
      const isDir = st.isDirectory();
      const mode = st.mode;
      const sticky = isDir && (mode & 0o1000) !== 0;
      // A symlink's own mode bits mean nothing; where it points is checked separately.
      const cls = sticky || st.isSymbolicLink() ? 0 : mode & 0o002 ? 2 : mode & 0o020 ? 1 : 0;
      if (cls > frame.writable) {
        const who = cls === 2 ? 'any local user' : 'every member of its group';
        const what = isDir ? `${who} can add, rename or replace compiled entries in it, and it has no sticky bit` : `${who} can rewrite it in place`;
        const p = this.add(
          {
            path: this.ctx.display(abs),
            nodeType: isDir ? 'directory' : 'file',
            snippet: `${isDir ? 'd' : '-'}${octal(mode)} uid ${st.uid} ${rel}`,
            signal: `${rel === '.' ? `The ${kind.title} at ${tree.path}` : `\`${rel}\` in the ${kind.title} at ${tree.path}`} has mode ${octal(mode)}: ${what}; the compiler loads what it finds there`,
            confidence: cls === 2 ? 'high' : 'medium',
            directory: isDir ? this.ctx.display(abs) : undefined,
            mode: octal(mode),
            owner: String(st.uid),
            cache: { kind: kind.id, root: tree.path, entry: rel, check: 'writable', uid: st.uid, rootUid },
          },
          `writable\0${kind.id}\0${rel}`,
        );
        next.writable = cls;
        next.writableAgg = { count: 0 };
        aggregates.push({ pending: p, agg: next.writableAgg, noun: 'writable' });
      } else if (cls > 0 && frame.writableAgg) frame.writableAgg.count++;
      if (st.uid !== rootUid && st.uid !== 0) {
        if (st.uid === frame.foreignUid && frame.foreignAgg) frame.foreignAgg.count++;
        else {
          const p = this.add(
            {
              path: this.ctx.display(abs),
              nodeType: isDir ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'file',
              snippet: `${isDir ? 'd' : '-'}${octal(mode)} uid ${st.uid} ${rel}`,
              signal: `\`${rel}\` in the ${kind.title} at ${tree.path} is owned by uid ${st.uid}, the cache root by uid ${rootUid}: another account wrote this entry, and the compiler will load it as its own`,
              confidence: 'medium',
              directory: isDir ? this.ctx.display(abs) : undefined,
              mode: octal(mode),
              owner: String(st.uid),
              cache: { kind: kind.id, root: tree.path, entry: rel, check: 'foreign-owner', uid: st.uid, rootUid },
            },
            `foreign-owner\0${kind.id}\0${rel}`,
          );
          next.foreignUid = st.uid;
          next.foreignAgg = { count: 0 };
          aggregates.push({ pending: p, agg: next.foreignAgg, noun: `owned by uid ${st.uid}` });
        }
      }
      return next;
    };

    const stack: Frame[] = [];
    // Start at the root, or at each scanned path inside it (a folder, or one file named on the command line);
    // the folders between the root and a start are entries too.
    const starts = plan.walkFrom.has(root) ? [root] : [...plan.walkFrom].sort().filter((s, i, all) => !all.slice(0, i).some((o) => isInside(s, o)));
    const frames = new Map<string, Frame>();
    for (const start of starts) {
      const chain: string[] = [];
      for (let dir = start; isInside(dir, root); dir = path.dirname(dir)) {
        chain.unshift(dir);
        if (dir === root || path.dirname(dir) === dir) break;
      }
      let frame: Frame = { abs: root, writable: 0, foreignUid: -1 };
      for (const at of chain) {
        const known = frames.get(at);
        if (known) {
          frame = known;
          continue;
        }
        let st: fs.Stats;
        try {
          st = fs.lstatSync(at);
        } catch (err) {
          this.warn('unreadable', at, errnoText(err));
          break;
        }
        tree.entries++;
        frame = check(at, st, frame);
        frames.set(at, frame);
        if (st.isFile()) await this.scanEntry(at, posix(path.relative(root, at)), st, kind, tree, rootReal);
        else if (at === start && st.isDirectory()) stack.push(frame);
      }
    }

    while (stack.length > 0 && !this.stopped) {
      const frame = stack.pop()!;
      let entries: Generator<FolderEntry>;
      try {
        entries = entriesOf(frame.abs, (shown) => this.warn('unreadable', shown, 'its name is not valid UTF-8; this cache entry was not checked'));
      } catch (err) {
        this.warn('unreadable', frame.abs, `cache folder ${errnoText(err)}; its entries were not checked`);
        continue;
      }
      try {
        for (const d of entries) {
          if (!this.tick()) break;
          const abs = path.join(frame.abs, d.name);
          if (this.ctx.isExcluded?.(abs)) continue;
          let st: fs.Stats;
          try {
            st = fs.lstatSync(abs);
          } catch (err) {
            this.warn('unreadable', abs, errnoText(err));
            continue;
          }
          tree.entries++;
          // A cache nested in this one (Triton's under Inductor's) is walked, and its root checked, on its own.
          if (otherRoots.has(abs)) continue;
          const rel = posix(path.relative(root, abs));
          if (st.isSymbolicLink()) {
            this.checkSymlink(abs, rel, rootReal, kind, tree);
            check(abs, st, frame);
            continue;
          }
          const next = check(abs, st, frame);
          if (st.isDirectory()) stack.push(next);
          else if (st.isFile()) {
            await this.scanEntry(abs, rel, st, kind, tree, rootReal);
          }
        }
      } catch (err) {
        this.warn('unreadable', frame.abs, `cache folder ${errnoText(err)}; some entries were not checked`);
      }
    }

    for (const { pending, agg, noun } of aggregates) {
      if (agg.count > 0) pending.finding.evidence.signal += ` (${agg.count} ${agg.count === 1 ? 'entry' : 'entries'} below it ${agg.count === 1 ? 'is' : 'are'} ${noun} too)`;
    }
    const added = this.pending.length - findingsBefore;
    if (added > MAX_FINDINGS_PER_TREE) {
      const dropped = this.pending.splice(findingsBefore + MAX_FINDINGS_PER_TREE);
      this.warn('too-large', root, `${kind.title} has ${added} findings; the first ${MAX_FINDINGS_PER_TREE} are reported, ${dropped.length} more are not (fix the permissions and rescan)`);
    }
    const warned = this.result.warnings.length - warningsBefore;
    if (warned > MAX_WARNINGS_PER_TREE) {
      const dropped = this.result.warnings.splice(warningsBefore + MAX_WARNINGS_PER_TREE);
      this.warn('too-large', root, `${kind.title} has ${warned} entries with warnings; the first ${MAX_WARNINGS_PER_TREE} are listed, ${dropped.length} more are not`);
    }
  }

  private checkSymlink(abs: string, rel: string, rootReal: string, kind: CacheKind, tree: CacheTree): void {
    let target: string;
    try {
      target = fs.readlinkSync(abs);
    } catch (err) {
      this.warn('unreadable', abs, `symlink ${errnoText(err)}`);
      return;
    }
    let resolved = path.resolve(path.dirname(abs), target);
    try {
      resolved = fs.realpathSync(abs);
    } catch {
      // Dangling: judge the link by where it says it goes.
    }
    if (isInside(resolved, rootReal)) return;
    this.add(
      {
        path: this.ctx.display(abs),
        nodeType: 'symlink',
        snippet: `${rel} -> ${target}`,
        signal: `\`${rel}\` in the ${kind.title} at ${tree.path} is a symlink to ${resolved}, outside the cache: the compiler follows it and loads whatever is there`,
        confidence: 'high',
        cache: { kind: kind.id, root: tree.path, entry: rel, check: 'symlink-out', target: resolved },
      },
      `symlink-out\0${kind.id}\0${rel}`,
    );
  }

  private classify(kind: CacheKind, rel: string): { as: EntryClass; pickles: number } | undefined {
    for (const e of kind.entries) if (e.match(rel)) return e;
    return undefined;
  }

  private async scanEntry(abs: string, rel: string, st: fs.Stats, kind: CacheKind, tree: CacheTree, rootReal: string): Promise<void> {
    const rule = this.classify(kind, rel);
    const where = { kind: kind.id, title: kind.title, root: tree.path, entry: rel, rootReal, allow: kind.allow, embeddedSource: kind.embeddedSource };
    if (!rule) {
      // Unlisted files are disassembled when they start like a pickle (protocol 2 or later).
      if (st.size < 2) return;
      let head: Buffer;
      try {
        head = readHead(abs, 2).data;
      } catch (err) {
        this.warn('unreadable', abs, errnoText(err));
        return;
      }
      if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) await this.scanPickleFile(abs, st.size, 1, where);
      return;
    }
    switch (rule.as) {
      case 'pickle':
        await this.scanPickleFile(abs, st.size, rule.pickles, where);
        break;
      case 'generated-python': {
        this.sources.add(abs);
        const text = this.readText(abs, st.size);
        if (text !== undefined) await this.checkGeneratedSource(text, { ...where, path: abs });
        break;
      }
      case 'source':
        this.sources.add(abs);
        break;
      case 'triton-group':
        this.checkTritonGroup(abs, st.size, where);
        break;
      case 'opaque':
        break;
    }
  }

  private readText(abs: string, size: number): string | undefined {
    if (size > this.ctx.maxEntryBytes) {
      this.warn('too-large', abs, `is ${size} bytes, over the ${this.ctx.maxEntryBytes}-byte limit; not checked`);
      return undefined;
    }
    try {
      return readHead(abs, size).data.toString('utf8');
    } catch (err) {
      this.warn('unreadable', abs, errnoText(err));
      return undefined;
    }
  }

  private checkTritonGroup(abs: string, size: number, where: EntryPlace): void {
    const text = this.readText(abs, size);
    if (text === undefined) return;
    let group: unknown;
    try {
      group = JSON.parse(text);
    } catch (err) {
      this.warn('parse-error', abs, `Triton group metadata is not JSON (${(err as Error).message}); Triton will treat the entry as missing`);
      return;
    }
    const children = (group as { child_paths?: unknown })?.child_paths;
    if (typeof children !== 'object' || children === null) return;
    const entryDir = path.basename(path.dirname(abs));
    for (const [name, target] of Object.entries(children as Record<string, unknown>)) {
      if (typeof target !== 'string') continue;
      // Group files hold absolute paths from the machine that wrote them; what matters is that each one names
      // a file of this same entry, wherever the cache was mounted.
      const normalised = target.replace(/\\/g, '/');
      const parts = normalised.split('/');
      if (parts[parts.length - 2] === entryDir && !parts.includes('..')) continue;
      this.add(
        {
          path: this.ctx.display(abs),
          nodeType: 'json',
          snippet: `"${name}": "${target}"`,
          signal: `\`${where.entry}\` in the ${where.title} at ${where.root} sends Triton to \`${target}\` for \`${name}\`, outside its own cache entry: Triton loads that file as the compiled kernel`,
          confidence: 'high',
          cache: { kind: where.kind, root: where.root, entry: where.entry, check: 'group-path', target },
        },
        `group-path\0${where.kind}\0${where.entry}\0${name}`,
      );
    }
  }

  // ---- pickles ----------------------------------------------------------------------------------------

  /**
   * An entry's bytes up to the entry limit, `partial` when the file is longer (warned as too large, saying
   * what was `done` with the head); undefined, warned as unreadable, when it cannot be read.
   */
  private readEntry(abs: string, size: number, done: string): { data: Buffer; partial: boolean } | undefined {
    let data: Buffer;
    try {
      data = readHead(abs, this.ctx.maxEntryBytes).data;
    } catch (err) {
      this.warn('unreadable', abs, errnoText(err));
      return undefined;
    }
    const partial = size > data.length;
    if (partial) this.warn('too-large', abs, `is ${size} bytes, over the ${this.ctx.maxEntryBytes}-byte limit; only the first ${data.length} bytes were ${done}`);
    return { data, partial };
  }

  private async scanPickleFile(abs: string, size: number, pickles: number, where: EntryPlace): Promise<void> {
    const entry = this.readEntry(abs, size, 'disassembled');
    this.startFile();
    if (entry) await this.scanPickleData(abs, entry.data, { ...where, member: undefined }, { maxPickles: pickles, partial: entry.partial, depth: 0 });
  }

  /** Disassembles one pickle buffer and reports its imports against the place's allowlist. */
  private async scanPickleData(
    abs: string,
    data: Buffer,
    where: EntryPlace & { member?: string },
    opts: { maxPickles: number; partial: boolean; depth: number; quietProblems?: boolean; baseOffset?: number },
  ): Promise<PickleDisassembly> {
    const dis = disassemblePickles(data, { maxPickles: opts.maxPickles, recordOpcodes: false, baseOffset: opts.baseOffset ?? 0 });
    if (opts.quietProblems && dis.problems.length > 0) {
      // Bytes that only start like a pickle stay quiet; but a loader runs every opcode before the damage, so a
      // code-running name called there is reported (random bytes never spell one), with the damage as a warning.
      const called = this.calledCodeRunning(dis);
      if (called.length === 0) return dis;
      this.reportImports(abs, { ...dis, imports: called }, where);
      const problem = dis.problems[0]!;
      this.warn('parse-error', abs, `${where.member ? `${where.member}: ` : ''}pickle ${problem.message}; the opcodes before byte ${problem.offset} were checked, the rest was not read`);
      return dis;
    }
    for (const problem of dis.problems) {
      // A pickle cut off by our own size limit is already explained by the too-large warning.
      if (opts.partial && problem.kind === 'truncated') continue;
      this.warn('parse-error', abs, `${where.member ? `${where.member}: ` : ''}pickle ${dis.pickles.length > 1 ? `${problem.pickle + 1} ` : ''}${problem.message}; the opcodes before byte ${problem.offset} were checked, the rest was not read`);
    }
    this.reportImports(abs, dis, where);
    const tooDeep: string[] = [];
    for (const payload of dis.embedded) {
      const start = payload.offset - (opts.baseOffset ?? 0);
      const slice = data.subarray(start, start + payload.length);
      // Nested places read as a path: `archive/data.pkl > pickle at byte 120`.
      const member = (what: string): string => `${where.member ? `${where.member} > ` : ''}${what} at byte ${payload.offset}`;
      const deeper = opts.depth >= NESTED_DEPTH;
      if (payload.kind === 'pickle') {
        // Bytes that merely start like a pickle are only trusted as one when they read through to STOP, or call
        // code-running names before they break off (calledCodeRunning).
        if (!deeper) {
          await this.scanPickleData(abs, slice, { ...where, member: member('pickle') }, { maxPickles: 1, partial: false, depth: opts.depth + 1, quietProblems: true, baseOffset: payload.offset });
        } else if (this.loadsAsPickle(disassemblePickles(slice, { maxPickles: 1, recordOpcodes: false }))) {
          tooDeep.push(member('pickle'));
        }
      } else if (payload.kind === 'zip') {
        const place = { ...where, member: member('zip archive') };
        if (!deeper) {
          await this.zipPickles(abs, bufferSource(slice), place, (m) =>
            this.scanPickleData(abs, m.data, { ...where, member: m.member }, { maxPickles: 1, partial: m.truncated, depth: opts.depth + 1 }),
          );
        } else if (this.zipHoldsPickles(abs, bufferSource(slice), place)) {
          tooDeep.push(place.member);
        }
      } else if (payload.kind === 'python' && where.embeddedSource) {
        if (!deeper) await this.checkGeneratedSource(slice.toString('utf8'), { ...where, path: abs, member: member('source'), embedded: true });
        else tooDeep.push(member('source'));
      }
    }
    if (tooDeep.length > 0) this.reportTooDeep(abs, where, opts.depth, tooDeep);
    return dis;
  }

  /** Code-running names a pickle calls: what a loader runs even when the stream breaks off later. */
  private calledCodeRunning(dis: PickleDisassembly): PickleDisassembly['imports'] {
    return dis.imports.filter((i) => i.known && this.kinds.codeRunning(i.qualified) && i.calls.some((c) => CALLING_OPCODES.has(c.opcode)));
  }

  /** Nested bytes that start like a pickle count as one when they read through to STOP, or call code before breaking off. */
  private loadsAsPickle(dis: PickleDisassembly): boolean {
    return dis.problems.length === 0 || this.calledCodeRunning(dis).length > 0;
  }

  /**
   * A loadable payload (a pickle, a zip archive of pickles, Python source) nested deeper than NESTED_DEPTH
   * levels inside pickles: not inspected, and reported, since nesting is a way to hide a pickle from scanners.
   */
  private reportTooDeep(abs: string, where: EntryPlace & { member?: string }, depth: number, members: string[]): void {
    const first = members[0]!;
    const more = members.length > 1 ? ` (and ${members.length - 1} more payload${members.length > 2 ? 's' : ''} at the same depth)` : '';
    const writer = where.kind === 'torch-archive' ? 'torch.save writes no archive or pickle inside a pickle for tensors and state dicts' : `${where.title} entries never nest archives or pickles this deep`;
    this.add(
      {
        path: this.ctx.display(abs),
        nodeType: 'nested payload',
        snippet: `${first}${more}`,
        signal:
          `\`${where.entry}\` (${first}) in the ${where.title} at ${where.root} holds a loadable payload nested ${depth + 1} levels deep inside pickles, past the limit of ${NESTED_DEPTH}${more}; ` +
          `Sentinel follows nested pickles and zip archives ${NESTED_DEPTH} levels deep, so what loading it would import and call was not inspected; ${writer}, and nesting is a way to hide a pickle from scanners`,
        confidence: 'medium',
        cache: { kind: where.kind, root: where.root, entry: where.entry, member: first, check: 'nested-too-deep' },
      },
      `nested-too-deep\0${where.kind}\0${where.entry}\0${first}`,
    );
  }

  /** Whether bytes at the nesting limit are a readable zip archive with pickle members (warned when damaged). */
  private zipHoldsPickles(abs: string, src: ByteSource, where: EntryPlace & { member?: string }): boolean {
    try {
      return readZipDirectory(src).some((e) => this.kinds.archives.members(e.name));
    } catch (err) {
      this.warnZip(abs, where, err);
      return false;
    }
  }

  private warnZip(abs: string, where: EntryPlace & { member?: string }, err: unknown): void {
    this.warn('parse-error', abs, `${where.member ? `${where.member}: ` : ''}zip archive ${err instanceof ZipError ? `${err.message} (at byte ${err.offset})` : (err as Error).message}; not disassembled`);
  }

  private reportImports(abs: string, dis: PickleDisassembly, where: EntryPlace & { member?: string }): void {
    const byName = new Map<string, PickleDisassembly['imports']>();
    for (const imp of dis.imports) byName.set(imp.qualified, [...(byName.get(imp.qualified) ?? []), imp]);
    for (const [qualified, occurrences] of byName) {
      const first = occurrences[0]!;
      const known = occurrences.every((o) => o.known);
      const runsCode = !known || this.kinds.codeRunning(qualified);
      if (known && !runsCode && where.allow(qualified)) continue;
      const calls = occurrences.flatMap((o) => o.calls);
      const call = calls.find((c) => CALLING_OPCODES.has(c.opcode)) ?? calls[0];
      const called = calls.some((c) => CALLING_OPCODES.has(c.opcode));
      const place = `\`${where.entry}\`${where.member ? ` (${where.member})` : ''}`;
      const shown = known ? `\`${qualified}\`` : `a name computed at load time (\`${qualified}\`)`;
      const callText = call ? ` and ${CALLING_OPCODES.has(call.opcode) ? 'calls' : 'instantiates'} it (${call.opcode} at byte ${call.offset})` : '';
      const times = occurrences.length > 1 ? ` (${occurrences.length} times)` : '';
      const archive = where.kind === 'torch-archive';
      const never = archive ? 'torch.save never writes it for tensors and state dicts' : `${where.title} entries never contain it`;
      const why = runsCode
        ? called
          ? `loading ${archive ? 'the checkpoint' : 'this entry'} runs it, and it runs code or commands; ${never}`
          : `it runs code or commands when called; ${never}`
        : archive
          ? "it is outside torch.load's weights-only allowlist, so loading the checkpoint imports it (torch.load refuses it unless weights_only=False)"
          : `it is outside what ${where.title} entries contain (the allowlist in rules/cache-kinds.yml), and loading the entry imports it`;
      this.add(
        {
          path: this.ctx.display(abs),
          nodeType: first.opcode,
          api: qualified,
          snippet: `${first.opcode} ${first.module} ${first.name} at byte ${first.offset}${call ? `; ${call.opcode} at byte ${call.offset}` : ''}`,
          signal: `${place} in the ${where.title} at ${where.root} imports ${shown}${times} (${first.opcode} at byte ${first.offset})${callText}: ${why}`,
          confidence: runsCode && called ? 'high' : 'medium',
          cache: {
            kind: where.kind,
            root: where.root,
            entry: where.entry,
            ...(where.member ? { member: where.member } : {}),
            check: 'pickle-import',
            opcode: first.opcode,
            offset: first.offset,
            import: qualified,
            ...(call ? { call: { opcode: call.opcode, offset: call.offset } } : {}),
          },
        },
        `pickle-import\0${where.kind}\0${where.entry}\0${where.member ?? ''}\0${qualified}`,
      );
    }
  }

  // ---- archives and mega-cache files ------------------------------------------------------------------

  /** Disassembles the pickles of a .pt/.pth archive (zip members, or torch's older pickle sequence). */
  private async scanArchive(abs: string): Promise<boolean> {
    const ext = path.extname(abs).toLowerCase();
    const always = this.kinds.archives.extensions.has(ext);
    let head: Buffer;
    let size: number;
    try {
      ({ data: head, size } = readHead(abs, 4096));
    } catch (err) {
      this.warn('unreadable', abs, errnoText(err));
      return true;
    }
    const display = this.ctx.display(abs);
    const where: EntryPlace = {
      kind: 'torch-archive',
      title: this.kinds.archives.title,
      root: display,
      entry: path.basename(abs),
      rootReal: path.dirname(abs),
      allow: this.kinds.archives.allow,
      embeddedSource: false,
    };
    if (looksLikeZip(head)) {
      if (!this.tick()) return true;
      const tree: CacheTree = { path: display, kind: 'torch-archive', title: this.kinds.archives.title, entries: 0 };
      this.result.trees.push(tree);
      this.startFile();
      try {
        await withSource(abs, (src) =>
          this.zipPickles(
            abs,
            src,
            where,
            (m) => this.scanPickleData(abs, m.data, { ...where, member: m.member }, { maxPickles: 1, partial: m.truncated, depth: 0 }),
            (n) => (tree.entries = n),
          ),
        );
      } catch (err) {
        this.warn('unreadable', abs, errnoText(err));
      }
      return true;
    }
    if (head[0] === 0x80 && head[1]! <= 5 && !megaCachePickle(head)) {
      if (!this.tick()) return true;
      this.result.trees.push({ path: display, kind: 'torch-archive', title: this.kinds.archives.title, entries: 1 });
      const entry = this.readEntry(abs, size, 'disassembled');
      this.startFile();
      if (entry) await this.scanPickleData(abs, entry.data, where, { maxPickles: this.kinds.archives.legacyPickles, partial: entry.partial, depth: 0 });
      return true;
    }
    if (always && !megaCachePickle(head) && !megaCacheHeader(head)) {
      this.warn('parse-error', abs, 'is neither a zip archive nor a pickle stream; not disassembled');
      return true;
    }
    return false;
  }

  /** A new top-level file: its members get a fresh budget. */
  private startFile(): void {
    this.memberBudget = MEMBER_BUDGET_ENTRIES * this.ctx.maxEntryBytes;
    this.memberBudgetWarned = false;
  }

  /**
   * Reads the pickle members of a zip archive (each up to the entry limit) while the archive is open, and
   * hands each to `each` before reading the next, so one member's bytes are in memory at a time per level.
   */
  private async zipPickles(
    abs: string,
    src: ByteSource,
    where: EntryPlace & { member?: string },
    each: (m: ZipPickle) => Promise<unknown>,
    count?: (n: number) => void,
  ): Promise<void> {
    let entries;
    try {
      entries = readZipDirectory(src);
    } catch (err) {
      this.warnZip(abs, where, err);
      return;
    }
    count?.(entries.length);
    const limit = this.ctx.maxEntryBytes;
    const pickles = entries.filter((e) => this.kinds.archives.members(e.name));
    for (let i = 0; i < pickles.length; i++) {
      const entry = pickles[i]!;
      const name = where.member ? `${where.member} > ${entry.name}` : entry.name;
      if (this.memberBudget <= 0) {
        if (!this.memberBudgetWarned) {
          this.memberBudgetWarned = true;
          this.warn(
            'too-large',
            abs,
            `${MEMBER_BUDGET_ENTRIES * limit} bytes of archive members were disassembled (${MEMBER_BUDGET_ENTRIES} times the ${limit}-byte limit); member ${name} and the ${pickles.length - i - 1} pickle member(s) after it were not read`,
          );
        }
        return;
      }
      const cap = Math.min(limit, this.memberBudget);
      let read;
      try {
        read = await readZipEntry(src, entry, cap);
      } catch (err) {
        this.warn('parse-error', abs, `member ${name}: ${(err as Error).message}; not disassembled`);
        continue;
      }
      this.memberBudget -= Math.max(read.data.length, 1);
      if (read.error) {
        this.warn('parse-error', abs, `${where.member ? `${where.member} > ` : ''}${read.error}; the first ${read.data.length} bytes were disassembled`);
      }
      if (read.truncated) {
        const size = entry.uncompressedSize > read.data.length ? `is ${entry.uncompressedSize} bytes` : `inflates to more than the ${entry.uncompressedSize} bytes its header declares`;
        const why = cap < limit ? `the ${MEMBER_BUDGET_ENTRIES * limit}-byte budget for the members of one file` : `the ${limit}-byte limit (--max-file-size)`;
        this.warn('too-large', abs, `member ${name} ${size}, over ${why}; ${read.data.length > 0 ? `only the first ${read.data.length} bytes were disassembled` : 'not disassembled'}`);
      }
      if (read.data.length === 0) continue;
      await each({ member: name, data: read.data, truncated: read.truncated || read.error !== undefined });
    }
  }

  private async scanMegaCache(abs: string): Promise<void> {
    let head: Buffer;
    let size: number;
    try {
      ({ data: head, size } = readHead(abs, 4096));
    } catch (err) {
      this.warn('unreadable', abs, errnoText(err));
      return;
    }
    const isSerialized = megaCacheHeader(head);
    const isPickle = !isSerialized && megaCachePickle(head);
    if (!isSerialized && !isPickle) return;
    if (!this.tick()) return;
    const display = this.ctx.display(abs);
    const inductor = this.kinds.kinds.find((k) => k.id === 'inductor');
    const artifactAllow = (kindId: string | undefined): NameMatcher => this.kinds.kinds.find((k) => k.id === kindId)?.allow ?? (() => false);
    const megaAllow = this.kinds.megaCache.allow;
    const base: EntryPlace = {
      kind: 'mega-cache',
      title: this.kinds.megaCache.title,
      root: display,
      entry: path.basename(abs),
      rootReal: path.dirname(abs),
      allow: (q) => megaAllow(q) || (inductor?.allow(q) ?? false),
      embeddedSource: inductor?.embeddedSource ?? false,
    };
    const tree: CacheTree = { path: display, kind: 'mega-cache', title: this.kinds.megaCache.title, entries: 0 };
    this.result.trees.push(tree);
    this.startFile();
    const entry = this.readEntry(abs, size, 'read');
    if (!entry) return;
    const { data, partial } = entry;
    if (isPickle) {
      tree.entries = 1;
      await this.scanPickleData(abs, data, base, { maxPickles: 1, partial, depth: 0 });
      return;
    }
    if (!partial && data.readUInt32BE(0) !== crc32(data, 4)) {
      this.warn('parse-error', abs, 'mega-cache checksum does not match its content; torch.compiler.load_cache_artifacts would refuse it (its artifacts were still checked)');
    }
    // Layout (torch/utils/_appending_byte_serializer.py): CRC32, uint64 version, then per artifact type a
    // base64 type name, a uint64 count and that many (base64 key, length-prefixed content) pairs.
    let p = 12;
    const u64 = (): number => {
      if (p + 8 > data.length) throw new Error(`a length field at byte ${p} runs past the end`);
      const v = data.readBigUInt64BE(p);
      p += 8;
      if (v > BigInt(data.length)) throw new Error(`a length at byte ${p - 8} (${v}) is larger than the file`);
      return Number(v);
    };
    const bytes = (): { start: number; end: number } => {
      const n = u64();
      if (p + n > data.length) throw new Error(`a ${n}-byte field at byte ${p} runs past the end`);
      const start = p;
      p += n;
      return { start, end: p };
    };
    const str = (): string => {
      const b = bytes();
      return Buffer.from(data.toString('latin1', b.start, b.end), 'base64').toString('utf8');
    };
    try {
      while (p < data.length) {
        const type = str();
        const count = u64();
        for (let i = 0; i < count; i++) {
          const key = str();
          const content = bytes();
          tree.entries++;
          const pickledAs = this.kinds.megaCache.pickledArtifacts.get(type);
          const slice = data.subarray(content.start, content.end);
          const looksPickled = slice.length >= 2 && slice[0] === 0x80 && slice[1]! >= 2 && slice[1]! <= 5;
          if (!pickledAs && !looksPickled) continue;
          await this.scanPickleData(
            abs,
            slice,
            { ...base, member: `${type}/${key}`, allow: pickledAs ? artifactAllow(pickledAs) : base.allow },
            { maxPickles: 1, partial: false, depth: 0, baseOffset: content.start },
          );
        }
      }
    } catch (err) {
      if (!partial) this.warn('parse-error', abs, `mega-cache is malformed: ${(err as Error).message}; the artifacts before it were checked`);
    }
  }

  // ---- generated code -----------------------------------------------------------------------------------

  /** Imports and calls compiler output never contains: processes, network, writes outside the cache. */
  private async checkGeneratedSource(text: string, where: EntryPlace & { path: string; member?: string; embedded?: boolean }): Promise<void> {
    const gen = this.kinds.generatedCode;
    let tree;
    try {
      tree = await parseText('python', text);
    } catch (err) {
      this.warn('internal-error', where.path, `generated code could not be parsed: ${(err as Error).message}`);
      return;
    }
    try {
      const file = new PythonFile(tree, { calls: [], attributes: [] });
      const index = new LineIndex(text);
      const forbiddenModule = (m: string): string | undefined => gen.forbiddenModules.find((f) => m === f || m.startsWith(`${f}.`));
      const hits: { node: { startIndex: number; endIndex: number; type: string; text: string }; api: string; what: string }[] = [];
      for (const node of tree.rootNode.descendantsOfType(['import_statement', 'import_from_statement', 'call'])) {
        if (!node) continue;
        if (node.type === 'import_statement') {
          for (const name of node.childrenForFieldName('name')) {
            const mod = (name?.type === 'aliased_import' ? name.childForFieldName('name')?.text : name?.text) ?? '';
            const bad = forbiddenModule(mod);
            if (bad) hits.push({ node, api: mod, what: `imports \`${mod}\`` });
          }
        } else if (node.type === 'import_from_statement') {
          const mod = node.childForFieldName('module_name')?.text ?? '';
          if (forbiddenModule(mod)) hits.push({ node, api: mod, what: `imports from \`${mod}\`` });
          else {
            for (const name of node.childrenForFieldName('name')) {
              const n = (name?.type === 'aliased_import' ? name.childForFieldName('name')?.text : name?.text) ?? '';
              if (gen.forbiddenCalls(`${mod}.${n}`)) hits.push({ node, api: `${mod}.${n}`, what: `imports \`${mod}.${n}\`` });
            }
          }
        } else {
          const fn = node.childForFieldName('function');
          const api = fn ? file.qualifiedName(fn) : undefined;
          if (api && (gen.forbiddenCalls(api) || forbiddenModule(api.slice(0, api.lastIndexOf('.'))))) {
            hits.push({ node, api, what: `calls \`${api}\`` });
            continue;
          }
          const args = file.positionalArgs(node);
          if (api === 'builtins.open' || api === 'io.open') {
            const mode = args[1] ?? file.keywordArg(node, 'mode');
            const modeText = mode ? file.ownLiteralText(mode) : undefined;
            if (modeText !== undefined && /[wax+]/.test(modeText) && !this.insideCache(args[0] ? file.ownLiteralText(args[0]) : undefined, where.rootReal)) {
              hits.push({ node, api, what: `opens \`${args[0]?.text ?? '?'}\` for writing` });
            }
          } else if (api && gen.writeCalls(api)) {
            if (!this.insideCache(args[0] ? file.ownLiteralText(args[0]) : undefined, where.rootReal)) hits.push({ node, api, what: `calls \`${api}\`` });
          } else if (fn?.type === 'attribute') {
            const method = fn.childForFieldName('attribute')?.text ?? '';
            if (gen.writeMethods.has(method)) hits.push({ node, api: api ?? `.${method}`, what: `calls \`.${method}()\`` });
          }
        }
      }
      for (const hit of hits) {
        const pos = index.position(hit.node.startIndex);
        const end = index.position(hit.node.endIndex);
        const line = hit.node.text.split('\n')[0]!.trim();
        const span: Span = where.embedded
          ? SPAN_ONE
          : { startLine: pos.line, startColumn: pos.column, endLine: end.line, endColumn: end.column, startOffset: hit.node.startIndex, endOffset: hit.node.endIndex };
        this.add(
          {
            path: this.ctx.display(where.path),
            span,
            nodeType: hit.node.type,
            api: hit.api,
            snippet: line.length > 300 ? `${line.slice(0, 299)}…` : line,
            signal: `\`${where.entry}\`${where.member ? ` (${where.member}, line ${pos.line})` : ''} in the ${where.title} at ${where.root} ${hit.what}, which the compiler's generated code never does: this entry was not written by the compiler, and it runs when the cache is used`,
            confidence: 'high',
            cache: {
              kind: where.kind,
              root: where.root,
              entry: where.entry,
              ...(where.member ? { member: where.member, line: pos.line } : {}),
              check: 'generated-code',
              import: hit.api,
            },
          },
          `generated-code\0${where.kind}\0${where.entry}\0${where.member ?? ''}\0${hit.api}`,
        );
      }
    } finally {
      tree.delete();
    }
  }

  private insideCache(literal: string | undefined, rootReal: string): boolean {
    if (literal === undefined || literal.includes('\u0000') || !path.isAbsolute(literal)) return false;
    return isInside(path.resolve(literal), rootReal);
  }

  // ---- findings -----------------------------------------------------------------------------------------

  private add(
    f: {
      path: string;
      span?: Span;
      nodeType: string;
      snippet: string;
      signal: string;
      confidence: Confidence;
      api?: string;
      directory?: string;
      mode?: string;
      owner?: string;
      cache: CacheEvidence;
    },
    key: string,
  ): Pending {
    const finding: CacheFinding = {
      ...ruleSummary(this.card),
      confidence: f.confidence,
      evidence: {
        path: f.path,
        ...(f.span ?? SPAN_ONE),
        nodeType: f.nodeType,
        snippet: f.snippet,
        signal: f.signal,
        ...(f.api ? { api: f.api } : {}),
        ...(f.directory ? { directory: f.directory } : {}),
        ...(f.mode ? { mode: f.mode } : {}),
        ...(f.owner ? { owner: f.owner } : {}),
        cache: f.cache,
      },
      trace: [],
      fingerprint: '',
      retest: this.card.retest,
      decision: 'report',
    };
    const pending = { finding, key };
    this.pending.push(pending);
    return pending;
  }

  /**
   * Sorts the findings and gives each a fingerprint from the rule, the check, the entry's path relative to its
   * cache root, the member and the imported name (plus an occurrence index): the same poisoned entry keeps its
   * fingerprint on every machine and loses it when the entry is replaced.
   */
  private finish(): CacheFinding[] {
    const order = (p: Pending): string[] => {
      const e = p.finding.evidence;
      return [e.path, e.cache.member ?? '', String(e.startLine).padStart(9, '0'), String(e.cache.offset ?? 0).padStart(12, '0'), e.cache.check, e.api ?? ''];
    };
    const sorted = this.pending
      .map((p) => ({ p, k: order(p) }))
      .sort((a, b) => {
        for (let i = 0; i < a.k.length; i++) if (a.k[i] !== b.k[i]) return a.k[i]! < b.k[i]! ? -1 : 1;
        return 0;
      })
      .map((x) => x.p);
    const seen = new Map<string, number>();
    for (const p of sorted) {
      const n = seen.get(p.key) ?? 0;
      seen.set(p.key, n + 1);
      p.finding.fingerprint = createHash('sha256').update(`${this.card.id}\0cache\0${p.key}\0${n}`).digest('hex').slice(0, 32);
    }
    return sorted.map((p) => p.finding);
  }
}

interface ZipPickle {
  member: string;
  data: Buffer;
  truncated: boolean;
}

interface EntryPlace {
  kind: string;
  title: string;
  root: string;
  entry: string;
  rootReal: string;
  allow: NameMatcher;
  embeddedSource: boolean;
}
