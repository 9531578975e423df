// The engine's entry points: analyse one document's text (the language server calls this per keystroke)
// or scan paths (the CLI and the workspace scan): walk, read safely, parse, run the checks, turn raw
// findings into full records with positions, fingerprints and inline suppressions, then apply the policy.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore from 'ignore';
import { version as packageVersion } from '../../../package.json';
import { scanCacheTrees } from './cacheTrees';
import { checkCacheConfig } from './checks/cacheConfig';
import { checkCacheLoading } from './checks/cacheLoading';
import type { CheckContext, RawFinding } from './checks/context';
import { checkDynamicCode } from './checks/dynamicCode';
import type { CacheTree, Finding, LanguageId, PolicyRootSummary, ScanReport, ScanWarning, Span, TraceStep } from './finding';
import { detectLanguage, mayBeCacheArtifact, needsContentSniff } from './languages';
import { LineIndex } from './lines';
import { NotebookError, type NotebookProgram, notebookProgram } from './notebook';
import { hasGrammar, parseText, type Tree } from './parser';
import { applyPolicy, defaultPolicy, findPolicy, loadPolicy, type Policy, summarize } from './policy';
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
}

export interface DocumentResult {
  findings: Finding[];
  warnings: ScanWarning[];
}

function enabledRules(catalog: Catalog, selectors: string[] | undefined): Map<string, RuleCard> {
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
  } = {},
): Promise<DocumentResult> {
  const catalog = options.catalog ?? loadCatalog();
  const enabled = options.enabled ?? enabledRules(catalog, options.rules);
  const warnings: ScanWarning[] = [];
  let text = rawText;
  let program: NotebookProgram | undefined;
  if (lang === 'notebook') {
    try {
      program = notebookProgram(rawText);
    } catch (err) {
      if (err instanceof NotebookError) {
        warnings.push({ code: 'bad-notebook', path: displayPath, message: err.message });
        return { findings: [], warnings };
      }
      throw err;
    }
    text = program.text;
  }
  let tree: Tree | undefined = program ? undefined : options.tree;
  const ownsTree = tree === undefined;
  const raws: RawFinding[] = [];
  try {
    if (!tree && hasGrammar(lang)) tree = await parseText(lang, text);
    if (tree) {
      if (tree.rootNode.hasError) {
        const firstError = tree.rootNode.descendantsOfType('ERROR')[0] ?? tree.rootNode.descendantsOfType('MISSING')[0];
        const line = firstError ? firstError.startPosition.row + 1 : undefined;
        warnings.push({
          code: 'parse-error',
          path: displayPath,
          line,
          message: `has syntax errors${line ? ` (first at line ${line})` : ''}; the rest of the file was still checked`,
        });
      }
    }
    const ctx: CheckContext = { lang, text, tree, catalog, enabled, emit: (f) => raws.push(f) };
    checkDynamicCode(ctx);
    await checkCacheConfig(ctx);
    await checkCacheLoading(ctx);
  } finally {
    if (ownsTree) tree?.delete();
  }

  const index = new LineIndex(text);
  const allowances = inlineAllowances(text);
  for (const bad of incompleteAllowances(text)) {
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

function isUtf8Invalid(buf: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return false;
  } catch {
    return true;
  }
}

/** Reads one file for analysis, or explains in a warning why it cannot be analysed. */
function readSource(realPath: string, display: string, maxBytes: number): { text?: string; warnings: ScanWarning[] } {
  const warnings: ScanWarning[] = [];
  let buf: Buffer;
  try {
    const stat = fs.statSync(realPath);
    if (!stat.isFile()) return { warnings: [{ code: 'not-regular-file', path: display, message: 'is not a regular file; not opened' }] };
    if (stat.size > maxBytes) {
      return { warnings: [{ code: 'too-large', path: display, message: `is ${stat.size} bytes, over the ${maxBytes}-byte limit (--max-file-size); not scanned` }] };
    }
    buf = fs.readFileSync(realPath);
  } catch (err) {
    return { warnings: [{ code: 'unreadable', path: display, message: describeErrno(err) }] };
  }
  if (buf.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
    return { warnings: [{ code: 'binary', path: display, message: 'holds NUL bytes (a binary file with a source extension); not scanned' }] };
  }
  let body = buf;
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) body = body.subarray(3);
  if (isUtf8Invalid(body)) {
    warnings.push({ code: 'not-utf8', path: display, message: 'is not valid UTF-8; scanned with invalid bytes replaced, so columns on affected lines may be off' });
  }
  return { text: body.toString('utf8'), warnings };
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
  const dirs = abs.map((r) => (fs.existsSync(r) && fs.statSync(r).isDirectory() ? r : path.dirname(r)));
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
  const groupFor = (absFile: string): PolicyGroup => {
    if (explicit) return groups.get(primary.path ?? '')!;
    const dir = path.dirname(absFile);
    let key = nearestByDir.get(dir);
    if (key === undefined) {
      key = findPolicy(dir) ?? '';
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

/** Scans files and folders and returns the full report, policy applied. */
export async function scanPaths(roots: string[], options: ScanOptions = {}): Promise<ScanReport> {
  const catalog = options.catalog ?? loadCatalog();
  const enabled = enabledRules(catalog, options.rules);
  const baseDir = path.resolve(options.baseDir ?? defaultBaseDir(roots));
  const policy = resolvePolicy(roots, options, catalog, baseDir);
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const display = (abs: string): string => {
    const rel = path.relative(baseDir, abs);
    return (rel === '' ? path.basename(abs) : rel).split(path.sep).join('/');
  };
  // Files whose language needs their text (C++ that may call NVRTC, extension-less scripts) pass the walk
  // and are decided after reading.
  const excluded = options.exclude?.length ? ignore().add(options.exclude) : undefined;
  const isExcluded = (abs: string): boolean => {
    const rel = path.relative(baseDir, abs).split(path.sep).join('/');
    return !!excluded && !!rel && !rel.startsWith('..') && excluded.ignores(rel);
  };
  const walked = walkRoots(roots, display, (abs) => !isExcluded(abs) && (detectLanguage(abs) !== undefined || needsContentSniff(abs)));
  const findings: Finding[] = [];
  const warnings: ScanWarning[] = [...walked.warnings];
  let filesScanned = 0;
  /** Analyses one file's text into the scan's findings; one bad file never stops a scan. */
  const analyzeInto = async (shown: string, text: string, lang: LanguageId): Promise<void> => {
    try {
      const result = await analyzeDocument(shown, text, lang, { catalog, enabled });
      findings.push(...result.findings);
      warnings.push(...result.warnings);
      filesScanned++;
    } catch (err) {
      warnings.push({ code: 'internal-error', path: shown, message: `could not be analysed: ${(err as Error).message}` });
    }
  };
  let cancelled = false;
  for (const [i, file] of walked.files.entries()) {
    if (options.isCancelled?.()) {
      cancelled = true;
      break;
    }
    const shown = display(file.path);
    options.onProgress?.(i, walked.files.length, shown);
    let lang = detectLanguage(file.path);
    if (!lang && needsContentSniff(file.path)) {
      if (file.size > maxBytes) continue;
      let head = '';
      try {
        const fd = fs.openSync(file.realPath, 'r');
        try {
          const buf = Buffer.alloc(Math.min(file.size, 64 * 1024));
          fs.readSync(fd, buf, 0, buf.length, 0);
          head = buf.toString('utf8');
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        continue;
      }
      lang = detectLanguage(file.path, head);
      if (!lang) {
        if (file.explicit && !mayBeCacheArtifact(file.path)) warnings.push({ code: 'unreadable', path: shown, message: 'is not in a language Sentinel reads; skipped' });
        continue;
      }
    }
    if (!lang) {
      if (file.explicit && !mayBeCacheArtifact(file.path)) warnings.push({ code: 'unreadable', path: shown, message: 'is not in a language Sentinel reads; skipped' });
      continue;
    }
    const read = readSource(file.realPath, shown, maxBytes);
    warnings.push(...read.warnings);
    if (read.text !== undefined) await analyzeInto(shown, read.text, lang);
  }
  // Compiled caches (TorchInductor, Triton, Numba, torch_extensions, CuPy, torch archives) under the roots:
  // pickles disassembled, permissions checked, and the generated code they hold given the source rules too.
  let cacheTrees: CacheTree[] = [];
  if (!cancelled) {
    const caches = await scanCacheTrees(roots, { baseDir, display, catalog, enabled, maxEntryBytes: maxBytes, isExcluded, isCancelled: options.isCancelled });
    findings.push(...caches.findings);
    warnings.push(...caches.warnings);
    cacheTrees = caches.trees;
    if (caches.cancelled) cancelled = true;
    const walkedPaths = new Set(walked.files.flatMap((f) => [f.path, f.realPath]));
    for (const file of caches.sources) {
      if (walkedPaths.has(file) || options.isCancelled?.()) continue;
      const shown = display(file);
      const read = readSource(file, shown, maxBytes);
      warnings.push(...read.warnings);
      const lang = read.text === undefined ? undefined : detectLanguage(file, read.text.slice(0, 64 * 1024));
      if (read.text !== undefined && lang) await analyzeInto(shown, read.text, lang);
    }
  }
  const perFile = applyPoliciesPerFile(findings, walked.files.map((f) => f.path), policy, options, catalog, baseDir);
  warnings.push(...perFile.warnings);
  const policyRoots = policyRootSummaries(perFile.groups, baseDir);
  return {
    tool: { name: 'sentinel', version: ENGINE_VERSION },
    roots: roots.map((r) => path.resolve(r)),
    baseDir,
    rulesRun: [...enabled.keys()],
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
