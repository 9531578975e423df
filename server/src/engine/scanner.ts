// The engine's entry points: analyse one document's text (the language server calls this per keystroke)
// or scan paths (the CLI and the workspace scan): walk, read safely, parse, run the checks, turn raw
// findings into full records with positions, fingerprints and inline suppressions, then apply the policy.
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore from 'ignore';
import type { Node } from 'web-tree-sitter';
import { version as packageVersion } from '../../../package.json';
import { isDirectory, OPEN_NOFOLLOW_NONBLOCK, readAtMost } from './boundedRead';
import { loadCacheKinds, scanCacheTrees } from './cacheTrees';
import { checkCacheConfig } from './checks/cacheConfig';
import { checkCacheLoading } from './checks/cacheLoading';
import type { CheckContext, RawFinding } from './checks/context';
import { checkDynamicCode } from './checks/dynamicCode';
import { grammarPath, GRAMMAR_PACKAGES } from './assets';
import type { CacheTree, Finding, LanguageId, PolicyRootSummary, ReportSummary, ScanReport, ScanWarning, Span, TraceStep } from './finding';
import { detectLanguage, mayBeCacheArtifact, needsContentSniff } from './languages';
import { LineIndex, withLoneCrAsLf } from './lines';
import { NotebookError, type NotebookProgram, notebookProgram } from './notebook';
import { crashFrom, hasGrammar, parserCrash, parseText, type Tree } from './parser';
import { applyPolicy, catalogForPolicy, defaultPolicy, findPolicy, loadPolicy, type Policy, policyFinder, summarize } from './policy';
import { type AnalysisPool, defaultJobs, sharedPool, workerLimit } from './pool';
import { prefilterFor } from './prefilter';
import type { ResultCache } from './resultCache';
import { type Catalog, loadCatalog, type RuleCard, ruleSummary, selectRules } from './rules/catalog';
import { incompleteAllowances, inlineAllowances, inlineSuppressionFor } from './suppressions';
import { describeErrno, walkRoots } from './walk';

export const ENGINE_VERSION: string = packageVersion;
/** Files above this size are skipped with a warning naming the limit (override with `maxFileBytes`). */
export const DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024;
const BINARY_SNIFF_BYTES = 8000;
const SNIPPET_MAX = 300;

/** A problem with how Sentinel was called (unknown rule, missing path): the CLI exits 2 on it. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface AnalyzeOptions {
  catalog?: Catalog;
  /** Rule selectors (`JIT`, `JIT-EVAL-COMPILE`); all rules when empty. */
  rules?: string[];
}

export interface ScanOptions extends AnalyzeOptions {
  /** A loaded policy; otherwise `policyPath`, otherwise the nearest sentinel-policy.yml, otherwise the default. */
  policy?: Policy;
  policyPath?: string;
  /** Folder that finding paths are relative to; defaults to the working directory when the roots are inside it. */
  baseDir?: string;
  maxFileBytes?: number;
  now?: Date;
  /** Extra globs (relative to baseDir, like .gitignore lines) to leave out of the walk. */
  exclude?: string[];
  /** Called after each file; the language server turns it into work-done progress. */
  onProgress?: (done: number, total: number, file: string) => void;
  /** Checked between files: a cancelled scan stops early and says so in `cancelled`. */
  isCancelled?: () => boolean;
  /** Worker threads that analyse files: 1 analyses in-process; default `os.availableParallelism()`. */
  jobs?: number;
  /** Per-file results from earlier scans (`openResultCache`); no cache unless given. Policy is applied after it. */
  cache?: ResultCache;
  /** `false` parses and checks every file, even one that holds no name any rule needs (default: pre-filtered). */
  prefilter?: boolean;
  /** Scan only shard `index` (1-based) of `count`: files split by a hash of their path relative to `baseDir`. */
  shard?: { index: number; count: number };
}

export interface DocumentResult {
  findings: Finding[];
  warnings: ScanWarning[];
}

/** The rules `selectors` (IDs, categories; all when empty) enable, by ID; a UsageError names unknown ones. */
export function enabledRules(catalog: Catalog, selectors: string[] | undefined): Map<string, RuleCard> {
  const { rules, unknown } = selectRules(catalog, selectors ?? []);
  if (unknown.length > 0) {
    const known = [...new Set(catalog.rules.flatMap((r) => [r.category, r.id]))].join(', ');
    throw new UsageError(`unknown rule or category ${unknown.map((u) => `'${u}'`).join(', ')} (known: ${known})`);
  }
  return new Map(rules.map((r) => [r.id, r]));
}

function normalise(snippet: string): string {
  return snippet.replace(/\s+/g, '');
}

function spanOf(start: number, end: number, index: LineIndex): Span {
  const s = index.position(start);
  const e = index.position(end);
  return { startLine: s.line, startColumn: s.column, endLine: e.line, endColumn: e.column, startOffset: start, endOffset: end };
}

function cutSnippet(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > SNIPPET_MAX ? `${trimmed.slice(0, SNIPPET_MAX - 1)}…` : trimmed;
}

/** Maps a span in the notebook's program text to the .ipynb file, keeping the cell reference. */
function notebookSpan(span: Span, program: NotebookProgram): { span: Span; cell?: { cell: number; line: number; column: number } } {
  const start = program.lines[span.startLine - 1];
  const end = program.lines[span.endLine - 1] ?? start;
  if (!start) return { span };
  return {
    span: {
      ...span,
      startLine: start.fileLine,
      startColumn: start.fileColumn + span.startColumn - 1,
      endLine: end.fileLine,
      endColumn: end.fileColumn + span.endColumn - 1,
    },
    cell: { cell: start.cell, line: start.cellLine, column: span.startColumn },
  };
}

/**
 * Runs every enabled check on one document's text and returns finished findings (without policy), the
 * warnings about this document, and nothing else. `displayPath` is what findings name as their path.
 */
export async function analyzeDocument(
  displayPath: string,
  rawText: string,
  lang: LanguageId,
  options: AnalyzeOptions & {
    enabled?: Map<string, RuleCard>;
    /** A tree the caller already parsed from `rawText` (incrementally, in the language server); not deleted here. */
    tree?: Tree;
    /**
     * For notebook cells joined into Python by the caller (the language server): the cells as written and
     * their shell magics, at the same offsets (`programFromCells`).
     */
    magics?: { source: string; shell?: string };
  } = {},
): Promise<DocumentResult> {
  const catalog = options.catalog ?? loadCatalog();
  const enabled = options.enabled ?? enabledRules(catalog, options.rules);
  // Lone CRs read as LFs (the same length, so no position moves): tree-sitter ends lines at LF only.
  let text = withLoneCrAsLf(rawText);
  let program: NotebookProgram | undefined;
  if (lang === 'notebook') {
    try {
      program = notebookProgram(rawText);
    } catch (err) {
      if (err instanceof NotebookError) return { findings: [], warnings: [{ code: 'bad-notebook', path: displayPath, message: err.message }] };
      throw err;
    }
    text = withLoneCrAsLf(program.text);
  }
  let tree: Tree | undefined = program ? undefined : options.tree;
  const ownsTree = tree === undefined;
  const magics = program ? { source: program.source, shell: program.shell } : options.magics;
  try {
    if (!tree && hasGrammar(lang)) tree = await parseText(lang, text);
    const checked = await checkDocument(displayPath, text, lang, tree, catalog, enabled);
    if (magics?.shell) checked.raws.push(...(await checkMagicShell(displayPath, withLoneCrAsLf(magics.shell), catalog, enabled)));
    // Snippets come from the cells as written: a finding on a shell magic shows the magic, not blanks.
    return finishDocument(displayPath, magics ? withLoneCrAsLf(magics.source) : text, checked, catalog, program);
  } finally {
    if (ownsTree) tree?.delete();
  }
}

/**
 * The shell checks on a notebook's magics (`!cmd`, `%%bash` cells, `%env`): a cache folder set or opened up
 * there counts as in a script. Their syntax errors are not the notebook's: only findings are kept.
 */
async function checkMagicShell(displayPath: string, shell: string, catalog: Catalog, enabled: Map<string, RuleCard>): Promise<RawFinding[]> {
  if (!hasGrammar('shell')) return [];
  const tree = await parseText('shell', shell);
  try {
    return (await checkDocument(displayPath, shell, 'shell', tree, catalog, enabled)).raws;
  } finally {
    tree.delete();
  }
}

/** What the checks found in one parsed text, before positions, fingerprints and inline suppressions. */
export interface CheckedDocument {
  raws: RawFinding[];
  /** Warnings about the tree (syntax errors). */
  warnings: ScanWarning[];
  /** 1-based lines that hold comments, when the text holds an allow-comment marker (else undefined). */
  commentLines?: Set<number>;
}

/** Runs the enabled checks on `text` (parsed as `tree` when the language has a grammar). */
export async function checkDocument(
  displayPath: string,
  text: string,
  lang: LanguageId,
  tree: Tree | undefined,
  catalog: Catalog,
  enabled: Map<string, RuleCard>,
): Promise<CheckedDocument> {
  const raws: RawFinding[] = [];
  const ctx: CheckContext = { lang, text, tree, catalog, enabled, emit: (f) => raws.push(f) };
  checkDynamicCode(ctx);
  await checkCacheConfig(ctx);
  await checkCacheLoading(ctx);
  return { raws, ...treeFacts(displayPath, text, tree) };
}

/** The facts of a document's tree that finishing its findings needs: syntax errors and comment lines. */
export function treeFacts(displayPath: string, text: string, tree: Tree | undefined): { warnings: ScanWarning[]; commentLines?: Set<number> } {
  const warnings: ScanWarning[] = [];
  if (tree?.rootNode.hasError) {
    const firstError = firstSyntaxError(tree.rootNode);
    const line = firstError ? firstError.startPosition.row + 1 : undefined;
    warnings.push({
      code: 'parse-error',
      path: displayPath,
      line,
      message: `has syntax errors${line ? ` (first at line ${line})` : ''}; the rest of the file was still checked`,
    });
  }
  return { warnings, ...(tree && text.includes('sentinel:') ? { commentLines: linesOfComments(tree.rootNode) } : {}) };
}

/**
 * Turns raw findings into full records: positions (mapped to notebook cells for a notebook's program),
 * snippets, fingerprints, traces and inline suppressions; warns about allow comments that suppress nothing.
 */
export function finishDocument(
  displayPath: string,
  text: string,
  checked: CheckedDocument,
  catalog: Catalog,
  program?: NotebookProgram,
  /** The line index of `text`, when the caller keeps one (the language server's documents do). */
  lines?: LineIndex,
): DocumentResult {
  const { commentLines } = checked;
  const warnings = [...checked.warnings];
  const raws = [...checked.raws];
  const index = lines ?? new LineIndex(text);
  const allowances = inlineAllowances(text, commentLines);
  for (const bad of incompleteAllowances(text, commentLines)) {
    warnings.push({ code: 'incomplete-allow-comment', path: displayPath, line: bad.line, message: `allow comment on line ${bad.line} suppresses nothing: ${bad.problem}` });
  }
  const occurrences = new Map<string, number>();
  raws.sort((a, b) => a.startOffset - b.startOffset || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0));
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const raw of raws) {
    const dedupeKey = `${raw.ruleId}:${raw.startOffset}:${raw.endOffset}:${raw.variable ?? ''}`;
    if (seen.has(dedupeKey)) continue;
    seen.add(dedupeKey);
    const card = catalog.byId.get(raw.ruleId);
    if (!card) continue;
    const programSpan = spanOf(raw.startOffset, raw.endOffset, index);
    const mapped = program ? notebookSpan(programSpan, program) : { span: programSpan };
    const snippet = cutSnippet(text.slice(raw.startOffset, raw.endOffset));
    const key = `${raw.ruleId}\0${raw.scope.join('.')}\0${normalise(snippet)}`;
    const occurrence = occurrences.get(key) ?? 0;
    occurrences.set(key, occurrence + 1);
    const fingerprint = createHash('sha256').update(`${key}\0${occurrence}`).digest('hex').slice(0, 32);
    const trace: TraceStep[] = (raw.trace ?? []).map((step) => {
      const s = spanOf(step.startOffset, step.endOffset, index);
      const m = program ? notebookSpan(s, program).span : s;
      return { ...m, path: displayPath, note: step.note, kind: step.kind };
    });
    const finding: Finding = {
      ...ruleSummary(card),
      confidence: raw.confidence,
      evidence: {
        path: displayPath,
        ...mapped.span,
        nodeType: raw.nodeType,
        snippet,
        signal: raw.signal,
        ...(raw.api ? { api: raw.api } : {}),
        ...(raw.variable ? { variable: raw.variable } : {}),
        ...(raw.value !== undefined ? { value: raw.value } : {}),
        ...(mapped.cell ? { cell: mapped.cell } : {}),
      },
      trace,
      fingerprint,
      retest: card.retest,
      decision: 'report',
      ...(raw.fix ? { fix: raw.fix } : {}),
    };
    const suppression = inlineSuppressionFor(allowances, card.id, card.category, programSpan.startLine);
    if (suppression) {
      finding.suppression = suppression;
      finding.decision = 'suppressed';
    }
    findings.push(finding);
  }
  return { findings, warnings };
}

/**
 * The first ERROR or MISSING node in document order, descending only into children that hold an error: a
 * whole-tree search cost ~17 ms per keystroke on a 10,000-line file while it did not parse.
 */
function firstSyntaxError(root: Node): Node | undefined {
  let node: Node | null | undefined = root;
  while (node) {
    if (node.isError || node.isMissing) return node;
    // By index, not firstChild/nextSibling (that walk steps over a zero-width MISSING node), and one child at
    // a time, not `children` (the root of a large file has thousands).
    let next: Node | null = null;
    for (let i = 0; i < node.childCount && !next; i++) {
      const c = node.child(i);
      if (c && (c.hasError || c.isMissing)) next = c;
    }
    node = next;
  }
  return undefined;
}

/** 1-based lines covered by comment nodes (a block comment covers all its lines). */
function linesOfComments(root: Node): Set<number> {
  const lines = new Set<number>();
  for (const c of root.descendantsOfType('comment')) {
    if (!c) continue;
    for (let row = c.startPosition.row; row <= c.endPosition.row; row++) lines.add(row + 1);
  }
  return lines;
}

function isUtf8Invalid(buf: Buffer): boolean {
  return !isUtf8(buf);
}

/** The UTF-16 encoding a byte-order mark at the start of `buf` announces, if any. */
function utf16Encoding(buf: Buffer): 'utf-16le' | 'utf-16be' | undefined {
  if (buf[0] === 0xff && buf[1] === 0xfe) return 'utf-16le';
  return buf[0] === 0xfe && buf[1] === 0xff ? 'utf-16be' : undefined;
}

/**
 * Reads one file's bytes for analysis, or explains in a warning why it cannot be analysed. Each file is read
 * once. A binary file's bytes come back in `head` only, for telling its language.
 */
function readBytes(realPath: string | Buffer, display: string, maxBytes: number): { bytes?: Buffer; head?: Buffer; warnings: ScanWarning[] } {
  let buf: Buffer;
  let fd: number | undefined;
  try {
    // The walk saw a regular file here; between the walk and this read it may have been swapped for a symlink
    // (out of the root) or a FIFO. Opening without following a final link and without blocking, then
    // checking the opened file itself, reads exactly what was checked or nothing.
    const stat = fs.statSync(realPath);
    if (!stat.isFile()) return { warnings: [{ code: 'not-regular-file', path: display, message: 'is not a regular file; not opened' }] };
    fd = fs.openSync(realPath, OPEN_NOFOLLOW_NONBLOCK);
    const opened = fs.fstatSync(fd);
    if (!opened.isFile()) return { warnings: [{ code: 'not-regular-file', path: display, message: 'is not a regular file; not opened' }] };
    if (opened.size > maxBytes) {
      return { warnings: [{ code: 'too-large', path: display, message: `is ${opened.size} bytes, over the ${maxBytes}-byte limit (--max-file-size); not scanned` }] };
    }
    // st_size is only a hint: files under /proc say 0 yet yield unbounded data, and a file may grow after the
    // fstat. At most maxBytes + 1 bytes are read, whatever it said.
    const read = readAtMost(fd, opened.size, maxBytes);
    if (!read) {
      return { warnings: [{ code: 'too-large', path: display, message: `yields more than ${maxBytes} bytes (fstat said ${opened.size}), over the limit (--max-file-size); not scanned` }] };
    }
    buf = read;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = code === 'ELOOP' ? 'became a symbolic link during the scan; not followed (ELOOP)' : describeErrno(err);
    return { warnings: [{ code: 'unreadable', path: display, message }] };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  // UTF-16 with a BOM holds a NUL byte in every ASCII character, yet is text: it is binary only if its decoded
  // characters hold U+0000 (UTF-32LE's BOM, FF FE 00 00, starts like UTF-16LE's). Its head goes back as UTF-8,
  // so a shebang in it still tells the language.
  const utf16 = utf16Encoding(buf);
  if (utf16) {
    const head = new TextDecoder(utf16).decode(buf.subarray(0, 64 * 1024));
    if (!head.slice(0, BINARY_SNIFF_BYTES / 2).includes('\0')) return { bytes: buf, head: Buffer.from(head, 'utf8'), warnings: [] };
  } else if (!buf.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
    return { bytes: buf, head: buf.subarray(0, 64 * 1024), warnings: [] };
  }
  return { head: buf.subarray(0, 64 * 1024), warnings: [{ code: 'binary', path: display, message: 'holds NUL bytes (a binary file with a source extension); not scanned' }] };
}

/**
 * The text of a file's bytes: UTF-16LE/BE when a BOM says so, else UTF-8 (a BOM dropped either way), with a
 * warning when they are not valid in their encoding. Lone CRs become LFs, as `withLoneCrAsLf` in lines.ts
 * explains: the same length, so positions do not move, but tree-sitter then sees the lines a CR-only file has.
 */
function decodeSource(buf: Buffer, display: string): { text: string; warnings: ScanWarning[] } {
  const warnings: ScanWarning[] = [];
  const invalid = (encoding: string): ScanWarning => ({ code: 'not-utf8', path: display, message: `is not valid ${encoding}; scanned with invalid bytes replaced, so columns on affected lines may be off` });
  const utf16 = utf16Encoding(buf);
  let text: string;
  if (utf16) {
    try {
      text = new TextDecoder(utf16, { fatal: true }).decode(buf);
    } catch {
      text = new TextDecoder(utf16).decode(buf);
      warnings.push(invalid(utf16.toUpperCase()));
    }
  } else {
    let body = buf;
    if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) body = body.subarray(3);
    if (isUtf8Invalid(body)) warnings.push(invalid('UTF-8'));
    text = body.toString('utf8');
  }
  return { text: text.includes('\r') ? text.replace(/\r(?!\n)/g, '\n') : text, warnings };
}

function commonDir(paths: string[]): string {
  const split = paths.map((p) => p.split(path.sep));
  const first = split[0] ?? [];
  let n = first.length;
  for (const parts of split.slice(1)) {
    let i = 0;
    while (i < n && i < parts.length && parts[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join(path.sep) || path.sep;
}

/** The folder report paths are relative to: the working directory if it holds every root, else their common folder. */
export function defaultBaseDir(roots: string[]): string {
  const cwd = process.cwd();
  const abs = roots.map((r) => path.resolve(r));
  if (abs.every((r) => r === cwd || r.startsWith(cwd + path.sep))) return cwd;
  const dirs = abs.map((r) => (isDirectory(r) ? r : path.dirname(r)));
  return commonDir(dirs);
}

/** Resolves the policy for a scan: given object, given file, nearest sentinel-policy.yml, or the default. */
export function resolvePolicy(roots: string[], options: ScanOptions, catalog: Catalog, baseDir: string): Policy {
  if (options.policy) return options.policy;
  if (options.policyPath) return loadPolicy(path.resolve(options.policyPath), catalog);
  const found = roots.length > 0 ? findPolicy(path.resolve(roots[0])) : undefined;
  return found ? loadPolicy(found, catalog) : defaultPolicy(baseDir);
}

interface PolicyGroup {
  policy: Policy;
  findings: Finding[];
  /** Scanned files (and finding paths) this policy governs. */
  covered: number;
}

/**
 * Applies the policy that governs each finding: the one given (`policy`/`policyPath`) to all of them, else
 * the nearest sentinel-policy.yml above each file (a monorepo gates each team by its own file), else the
 * built-in default. `primary` is the scan's own policy (above its first root), loaded once. Returns the
 * groups, every policy that covers a scanned file included, and the warnings applying them produced.
 */
function applyPoliciesPerFile(
  findings: Finding[],
  files: string[],
  primary: Policy,
  options: ScanOptions,
  catalog: Catalog,
  baseDir: string,
): { groups: PolicyGroup[]; warnings: ScanWarning[] } {
  const groups = new Map<string, PolicyGroup>([[primary.path ?? '', { policy: primary, findings: [], covered: 0 }]]);
  const explicit = !!options.policy || !!options.policyPath;
  const nearestByDir = new Map<string, string>();
  const nearestPolicy = policyFinder();
  const groupFor = (absFile: string): PolicyGroup => {
    if (explicit) return groups.get(primary.path ?? '')!;
    const dir = path.dirname(absFile);
    let key = nearestByDir.get(dir);
    if (key === undefined) {
      key = nearestPolicy(dir) ?? '';
      nearestByDir.set(dir, key);
    }
    let group = groups.get(key);
    if (!group) {
      group = { policy: key ? loadPolicy(key, catalog) : defaultPolicy(baseDir), findings: [], covered: 0 };
      groups.set(key, group);
    }
    group.covered++;
    return group;
  };
  for (const file of files) groupFor(file);
  for (const finding of findings) groupFor(path.resolve(baseDir, finding.evidence.path)).findings.push(finding);
  const warnings: ScanWarning[] = [];
  for (const group of groups.values()) warnings.push(...applyPolicy(group.findings, group.policy, { baseDir, now: options.now }));
  return { groups: [...groups.values()].filter((g) => g.covered > 0), warnings };
}

/** A gate per policy file, sorted by folder, when more than one policy governs the scanned files. */
function policyRootSummaries(groups: PolicyGroup[], baseDir: string): PolicyRootSummary[] | undefined {
  if (groups.length < 2) return undefined;
  // Inside baseDir: relative, as finding paths are; a policy above it (a repository-wide one): absolute.
  const relative = (abs: string): string => {
    const rel = path.relative(baseDir, abs);
    if (rel.startsWith('..') || path.isAbsolute(rel)) return abs.split(path.sep).join('/');
    return (rel === '' ? '.' : rel).split(path.sep).join('/');
  };
  return groups
    .map(({ policy, findings }) => ({
      root: relative(policy.dir),
      ...(policy.path ? { policyPath: relative(policy.path) } : {}),
      summary: summarize(findings, policy),
    }))
    .sort((a, b) => (a.root < b.root ? -1 : a.root > b.root ? 1 : 0));
}

/** Everything an analysis result depends on besides the file's bytes and language: the catalog's content. */
const catalogKeys = new WeakMap<Catalog, string>();

/**
 * A hash of the catalog as the checks see it: the rule cards and source models in memory (with any extension
 * from settings or policy), and every file in the catalog's folder (cache-kinds.yml is read from there).
 */
export function catalogKey(catalog: Catalog): string {
  let key = catalogKeys.get(catalog);
  if (key) return key;
  // Every field but the folder's name and the derived index; Maps and Sets as lists, so new fields count too.
  const replacer = function (this: unknown, k: string, v: unknown): unknown {
    if (this === catalog && (k === 'dir' || k === 'byId')) return undefined;
    return v instanceof Map ? [...v.entries()] : v instanceof Set ? [...v] : v instanceof RegExp ? String(v) : v;
  };
  const hash = createHash('sha256').update(JSON.stringify(catalog, replacer));
  let names: string[] = [];
  try {
    names = fs.readdirSync(catalog.dir).sort();
  } catch {
    // an in-memory catalog: its content above is all there is
  }
  for (const name of names) {
    try {
      const file = path.join(catalog.dir, name);
      if (!fs.statSync(file).isFile()) continue;
      hash.update(`\0${name}\0`).update(fs.readFileSync(file));
    } catch {
      hash.update(`\0${name}\0unreadable`);
    }
  }
  key = hash.digest('hex');
  catalogKeys.set(catalog, key);
  return key;
}

let engineId: string | undefined;

/**
 * What identifies the analysing code for the result cache: the version, a hash of the code itself (the bundle,
 * or the engine's sources when running from TypeScript), and the grammar files' names and sizes.
 */
export function engineIdentity(): string {
  if (engineId) return engineId;
  const hash = createHash('sha256').update(ENGINE_VERSION);
  const code: string[] = [];
  if (__filename.endsWith('.ts')) {
    const visit = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) visit(full);
        else if (e.name.endsWith('.ts')) code.push(full);
      }
    };
    visit(__dirname);
  } else code.push(__filename);
  for (const file of code) hash.update(`\0${path.basename(file)}\0`).update(fs.readFileSync(file));
  for (const grammar of Object.keys(GRAMMAR_PACKAGES).sort()) {
    try {
      hash.update(`\0${grammar}:${fs.statSync(grammarPath(grammar)).size}`);
    } catch {
      hash.update(`\0${grammar}:missing`);
    }
  }
  engineId = `${ENGINE_VERSION}+${hash.digest('hex').slice(0, 16)}`;
  return engineId;
}

/** Which of `count` shards (1-based) a path belongs to: a hash of its path relative to the scan's base folder. */
export function shardOf(displayPath: string, count: number): number {
  return (createHash('sha256').update(displayPath).digest().readUInt32BE(0) % count) + 1;
}

/** Parses `K/N` (1 ≤ K ≤ N). */
export function parseShard(spec: string): { index: number; count: number } | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index >= 1 && count >= 1 && index <= count ? { index, count } : undefined;
}

/** One file's result, kept in its place so that the report's order never depends on worker timing. */
interface FileSlot {
  findings: Finding[];
  warnings: ScanWarning[];
}

/** A finding or warning list with `path` set on every record that names the file. */
function withPath(result: { findings: Finding[]; warnings: ScanWarning[] }, from: string, to: string): { findings: Finding[]; warnings: ScanWarning[] } {
  return {
    findings: result.findings.map((f) => ({
      ...f,
      evidence: { ...f.evidence, path: f.evidence.path === from ? to : f.evidence.path },
      trace: f.trace.map((t) => (t.path === from ? { ...t, path: to } : t)),
    })),
    warnings: result.warnings.map((w) => (w.path === from ? { ...w, path: to } : w)),
  };
}

/** The shared pool of the worker count `options` asks for (bounded by workerLimit), or none for one thread. */
function poolFor(options: Pick<ScanOptions, 'jobs'>): AnalysisPool | undefined {
  const jobs = workerLimit(options.jobs ?? defaultJobs());
  return jobs > 1 ? sharedPool(jobs) : undefined;
}

/**
 * Starts the analysis workers of a scan of `roots` now, when the scan has no result cache and a folder to walk or
 * many files named: it will analyse every file it finds, so their start-up (~200 ms each) can overlap the rule
 * data's loading and the walk rather than follow them. The CLI calls it as soon as its arguments are read; scanPaths
 * calls it again (a no-op then). Returns whether it did.
 */
export function warmPoolFor(roots: string[], options: Pick<ScanOptions, 'jobs' | 'cache'>): boolean {
  const pool = poolFor(options);
  if (!pool || pool.unavailable || options.cache || !(roots.length >= POOL_WARM_FILES || roots.some(isDirectory))) return false;
  // Before the walk the scan may hold no file at all: no more workers than the CPUs run at once.
  pool.warm([], defaultJobs());
  return true;
}

/** Below this many files to analyse a scan stays in-process: starting workers would cost more than it saves. */
const POOL_THRESHOLD = 3;
/** From this many files on, the workers are all started as soon as one file needs analysis. */
const POOL_WARM_FILES = 64;

/** Scans files and folders and returns the full report, policy applied. */
export async function scanPaths(roots: string[], options: ScanOptions = {}): Promise<ScanReport> {
  const pool = poolFor(options);
  const usePool = !!pool && !pool.unavailable;
  let pooling = warmPoolFor(roots, options);
  const catalog = options.catalog ?? loadCatalog();
  const enabled = enabledRules(catalog, options.rules);
  const baseDir = path.resolve(options.baseDir ?? defaultBaseDir(roots));
  const policy = resolvePolicy(roots, options, catalog, baseDir);
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const display = (abs: string): string => {
    const rel = path.relative(baseDir, abs);
    return (rel === '' ? path.basename(abs) : rel).split(path.sep).join('/');
  };
  const shard = options.shard;
  const inShard = (shown: string): boolean => !shard || shard.count === 1 || shardOf(shown, shard.count) === shard.index;
  // Files whose language needs their text (C++ that may call NVRTC, extension-less scripts) pass the walk
  // and are decided after reading.
  const excluded = options.exclude?.length ? ignore().add(options.exclude) : undefined;
  const isExcluded = (abs: string): boolean => {
    const rel = path.relative(baseDir, abs).split(path.sep).join('/');
    return !!excluded && !!rel && !rel.startsWith('..') && excluded.ignores(rel);
  };
  const walked = walkRoots(roots, display, (abs) => !isExcluded(abs) && (detectLanguage(abs) !== undefined || needsContentSniff(abs)));
  const files = shard ? walked.files.filter((f) => inShard(display(f.path))) : walked.files;

  const enabledIds = [...enabled.keys()];
  const cache = options.cache;
  /**
   * What a file is analysed with: the catalog plus the `models:` (in-house sources, sinks, sanitizers) of the
   * policy that governs it, the enabled cards of that catalog, and the key of both for the cache and workers.
   */
  interface Variant {
    catalog: Catalog;
    enabled: Map<string, RuleCard>;
    context: string;
  }
  const variants = new Map<Catalog, Variant>();
  const variantOf = (c: Catalog): Variant => {
    let v = variants.get(c);
    if (!v) {
      const cardsOf = new Map(enabledIds.flatMap((id) => (c.byId.has(id) ? [[id, c.byId.get(id)!] as const] : [])));
      v = { catalog: c, enabled: c === catalog ? enabled : cardsOf, context: `${catalogKey(c)}\0${[...enabledIds].sort().join(',')}` };
      variants.set(c, v);
    }
    return v;
  };
  const explicitPolicy = !!options.policy || !!options.policyPath;
  const nearestByDir = new Map<string, Policy | undefined>();
  const nearestPolicy = policyFinder();
  const loadedPolicies = new Map<string, Policy>();
  const variantFor = (absFile: string): Variant => {
    if (explicitPolicy) return variantOf(catalogForPolicy(catalog, policy));
    const dir = path.dirname(absFile);
    if (!nearestByDir.has(dir)) {
      const found = nearestPolicy(dir);
      let governing: Policy | undefined;
      if (found) {
        governing = loadedPolicies.get(found) ?? loadPolicy(found, catalog);
        loadedPolicies.set(found, governing);
      }
      nearestByDir.set(dir, governing);
    }
    const governing = nearestByDir.get(dir);
    return variantOf(governing ? catalogForPolicy(catalog, governing) : catalog);
  };
  const noPrefilter = options.prefilter === false;
  /** The grammars the walk's files need (by name; sniffed files are found later), for workers to load early. */
  const grammars = (): LanguageId[] => [...new Set(files.flatMap((f) => detectLanguage(f.path) ?? []))];
  // A large scan with no result cache analyses most of its files: its workers start now if they have not yet, and
  // load the grammars of the files found.
  if (usePool && !cache && (pooling || files.length >= POOL_WARM_FILES)) {
    pooling = true;
    pool!.warm(grammars(), files.length);
  }
  // Workers trust the shipped data (validation.ts): check it here, on the main thread, before any analyses a file.
  if (pool) loadCacheKinds(catalog.dir, catalog);
  if (pooling) {
    const first = explicitPolicy ? variantOf(catalogForPolicy(catalog, policy)) : variantOf(catalog);
    pool!.prepare(first.catalog, first.context);
  }
  /** How many files, and how much of their text, may wait for the workers while the loop reads on. */
  const POOL_QUEUE_FILES = 512;
  const POOL_QUEUE_CHARS = 16 * 1024 * 1024;
  let filesScanned = 0;
  const running: Promise<void>[] = [];
  /** Tasks held back until enough files need analysis to be worth the workers. */
  const held: (() => Promise<void>)[] = [];

  const analyse = async (v: Variant, shown: string, text: string, lang: LanguageId): Promise<{ findings: Finding[]; warnings: ScanWarning[] }> => {
    const task = { catalog: v.catalog, catalogKey: v.context, enabled: enabledIds, lang, text, path: shown };
    if (pooling && pool) return pool.analyze(task);
    // The parser of this thread crashed on an earlier file (out of WebAssembly memory): the files after it go
    // to a worker with a fresh one rather than all failing.
    const rescue = parserCrash() ? sharedPool(1) : undefined;
    if (rescue && !rescue.unavailable) return rescue.analyze(task);
    return analyzeDocument(shown, text, lang, { catalog: v.catalog, enabled: v.enabled });
  };
  /** Reads, looks up, pre-filters and (maybe later, in a worker) analyses one file into its slot. */
  const processFile = async (slot: FileSlot, absFile: string, shown: string, bytes: Buffer, lang: LanguageId): Promise<void> => {
    const variant = variantFor(absFile);
    const key = cache?.key(bytes, lang, variant.context);
    const hit = key !== undefined ? cache!.get(key) : undefined;
    if (hit) {
      const placed = withPath(hit, '', shown);
      slot.findings.push(...placed.findings);
      slot.warnings.push(...placed.warnings);
      filesScanned++;
      return;
    }
    const decoded = decodeSource(bytes, shown);
    slot.warnings.push(...decoded.warnings);
    const finish = (result: { findings: Finding[]; warnings: ScanWarning[] }): void => {
      slot.findings.push(...result.findings);
      slot.warnings.push(...result.warnings);
      filesScanned++;
      if (key !== undefined) cache!.put(key, withPath({ findings: result.findings, warnings: [...decoded.warnings, ...result.warnings] }, shown, ''));
    };
    // A file that mentions `sentinel:` is parsed even when no rule can fire: whether an allow comment is
    // malformed depends on whether it is a comment at all (a template string may build one).
    const allowCommentsNeedTree = decoded.text.includes('sentinel:') && hasGrammar(lang);
    if (!noPrefilter && !allowCommentsNeedTree && !prefilterFor(variant.catalog).mayFire(decoded.text, lang)) {
      // No name any rule needs: nothing to parse. Malformed allow comments are still reported.
      const warnings: ScanWarning[] = decoded.text.includes('sentinel:')
        ? incompleteAllowances(decoded.text).map((bad) => ({ code: 'incomplete-allow-comment', path: shown, line: bad.line, message: `allow comment on line ${bad.line} suppresses nothing: ${bad.problem}` }))
        : [];
      finish({ findings: [], warnings });
      return;
    }
    const run = async (): Promise<void> => {
      try {
        finish(await analyse(variant, shown, decoded.text, lang));
      } catch (err) {
        slot.warnings.push({ code: 'internal-error', path: shown, message: `could not be analysed: ${(crashFrom(err) ?? (err as Error)).message}` });
      }
    };
    if (!usePool) {
      await run();
      return;
    }
    // A large scan starts every worker at its first file to analyse (a scan served from the cache starts none);
    // a small one holds files back until there are enough to be worth the workers' start-up.
    if (!pooling && files.length >= POOL_WARM_FILES) {
      pooling = true;
      pool!.warm(grammars(), files.length);
    }
    if (!pooling) {
      held.push(run);
      if (held.length < POOL_THRESHOLD) return;
      pooling = true;
      running.push(...held.splice(0).map((r) => r()));
      return;
    }
    running.push(run());
    // Backpressure: the reading loop waits while the workers have plenty queued. The queue is long enough for
    // the pool to hand out the longest texts first, and its text is bounded.
    await pool!.drainBelow(POOL_QUEUE_FILES, POOL_QUEUE_CHARS);
  };

  const fileSlots: FileSlot[] = [];
  let cancelled = false;
  // The loop reads and pre-filters synchronously; the workers' results, and with them the next tasks they are
  // sent, wait for it to give the event loop a turn. It does so every few milliseconds while workers run.
  let lastTurn = performance.now();
  const giveWorkersATurn = async (): Promise<void> => {
    if (!pooling || performance.now() - lastTurn < 2) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    lastTurn = performance.now();
  };
  for (const [i, file] of files.entries()) {
    if (options.isCancelled?.()) {
      cancelled = true;
      break;
    }
    const slot: FileSlot = { findings: [], warnings: [] };
    fileSlots.push(slot);
    const shown = display(file.path);
    options.onProgress?.(i, files.length, shown);
    let lang = detectLanguage(file.path);
    let read: ReturnType<typeof readBytes> | undefined;
    if (!lang && needsContentSniff(file.path)) {
      if (file.size > maxBytes) continue;
      read = readBytes(file.rawPath ?? file.realPath, shown, maxBytes);
      if (!read.head) {
        // Unreadable or not a regular file: whether it was a script cannot be told, so say why it was not read.
        slot.warnings.push(...read.warnings);
        continue;
      }
      lang = detectLanguage(file.path, read.head.toString('utf8'));
    }
    if (!lang) {
      if (file.explicit && !mayBeCacheArtifact(file.path)) slot.warnings.push({ code: 'unreadable', path: shown, message: 'is not in a language Sentinel reads; skipped' });
      continue;
    }
    read ??= readBytes(file.rawPath ?? file.realPath, shown, maxBytes);
    slot.warnings.push(...read.warnings);
    if (read.bytes) await processFile(slot, file.path, shown, read.bytes, lang);
    await giveWorkersATurn();
  }
  // Compiled caches (TorchInductor, Triton, Numba, torch_extensions, CuPy, torch archives) under the roots:
  // pickles disassembled, permissions checked, and the generated code they hold given the source rules too.
  let cacheTrees: CacheTree[] = [];
  const cacheSlot: FileSlot = { findings: [], warnings: [] };
  const sourceSlots: FileSlot[] = [];
  if (!cancelled) {
    const caches = await scanCacheTrees(roots, { baseDir, display, catalog, enabled, maxEntryBytes: maxBytes, isExcluded, isCancelled: options.isCancelled });
    cacheSlot.findings.push(...caches.findings.filter((f) => inShard(f.evidence.path)));
    cacheSlot.warnings.push(...caches.warnings.filter((w) => inShard(w.path)));
    cacheTrees = caches.trees.filter((t) => inShard(t.path));
    if (caches.cancelled) cancelled = true;
    const walkedPaths = new Set(walked.files.flatMap((f) => [f.path, f.realPath]));
    for (const file of caches.sources) {
      if (walkedPaths.has(file) || options.isCancelled?.()) continue;
      const shown = display(file);
      if (!inShard(shown)) continue;
      const slot: FileSlot = { findings: [], warnings: [] };
      sourceSlots.push(slot);
      const read = readBytes(file, shown, maxBytes);
      slot.warnings.push(...read.warnings);
      const lang = read.bytes === undefined ? undefined : detectLanguage(file, read.head!.toString('utf8'));
      if (read.bytes && lang) await processFile(slot, file, shown, read.bytes, lang);
    }
  }
  // Too few files for the workers: what was held back runs here.
  for (const run of held.splice(0)) await run();
  await Promise.all(running);
  cache?.evict();

  const findings: Finding[] = [];
  const warnings: ScanWarning[] = walked.warnings.filter((w) => inShard(w.path));
  for (const slot of [...fileSlots, cacheSlot, ...sourceSlots]) {
    findings.push(...slot.findings);
    warnings.push(...slot.warnings);
  }
  const perFile = applyPoliciesPerFile(findings, files.map((f) => f.path), policy, options, catalog, baseDir);
  warnings.push(...perFile.warnings);
  const policyRoots = policyRootSummaries(perFile.groups, baseDir);
  return {
    tool: { name: 'sentinel', version: ENGINE_VERSION },
    roots: roots.map((r) => path.resolve(r)),
    baseDir,
    rulesRun: enabledIds,
    ...(policy.path ? { policyPath: policy.path } : {}),
    findings,
    warnings,
    filesScanned,
    ...(cancelled ? { cancelled: true } : {}),
    ...(cacheTrees.length > 0 ? { cacheTrees } : {}),
    summary: summarize(findings, policy),
    ...(policyRoots ? { policyRoots } : {}),
  };
}

/**
 * Applies the policies to findings gathered elsewhere (`sentinel merge` of shard reports): the given policy to
 * all, else the nearest sentinel-policy.yml above each finding's file, else the default. One gate, as a scan has.
 */
export function gateFindings(
  findings: Finding[],
  options: Pick<ScanOptions, 'policy' | 'policyPath' | 'now'> & { baseDir: string; catalog: Catalog },
): { policy: Policy; warnings: ScanWarning[]; summary: ReportSummary; policyRoots?: PolicyRootSummary[] } {
  const baseDir = path.resolve(options.baseDir);
  const policy = resolvePolicy([baseDir], options, options.catalog, baseDir);
  const files = [...new Set(findings.map((f) => path.resolve(baseDir, f.evidence.path)))];
  const perFile = applyPoliciesPerFile(findings, files, policy, options, options.catalog, baseDir);
  const policyRoots = policyRootSummaries(perFile.groups, baseDir);
  return { policy, warnings: perFile.warnings, summary: summarize(findings, policy), ...(policyRoots ? { policyRoots } : {}) };
}
