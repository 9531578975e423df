// `sentinel`: the CI gate and retest command. Parses arguments, runs the engine (against a baseline and on
// changed files when asked), writes the report in one or more formats and exits 0 (clean or tickets only),
// 1 (release gate blocked), 2 (usage or configuration error) or 3 (Sentinel failed, on the run or on a file).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { applyBaseline, BaselineError, findingsOfReportText, regate } from '../engine/baseline';
import { kindOf, OPEN_NONBLOCK, readAtMost } from '../engine/boundedRead';
import { type ChangeSet, type Finding, type ScanReport, type ScanWarning, type Severity, SEVERITIES, type WarningCode } from '../engine/finding';
import { changedFiles, comparisonCommit, copyTreeAt, GitError, repositoryRoot, resolveCommit } from '../engine/git';
import { detectLanguage, mayBeCacheArtifact, needsContentSniff } from '../engine/languages';
import { defaultPolicy, POLICY_FILE_NAMES, PolicyError } from '../engine/policy';
import { type Catalog, CatalogError, loadCatalog } from '../engine/rules/catalog';
import { defaultCacheDir, openResultCache, type ResultCache } from '../engine/resultCache';
import { DEFAULT_MAX_FILE_BYTES, defaultBaseDir, ENGINE_VERSION, engineIdentity, parseShard, scanPaths, UsageError, warmPoolFor } from '../engine/scanner';
import { parseCommandArgs } from './args';
import { runMerge } from './merge';
import { SKIPPED_DIRS } from '../engine/walk';
import { toCodeQualityString } from './reporters/codequality';
import { toGithub } from './reporters/github';
import { toGitlabSastString } from './reporters/gitlab';
import { toJson } from './reporters/json';
import { toJunit } from './reporters/junit';
import { toMarkdown } from './reporters/markdown';
import { toSarifString } from './reporters/sarif';
import { toText } from './reporters/text';

export const EXIT_CLEAN = 0;
export const EXIT_BLOCKED = 1;
export const EXIT_USAGE = 2;
export const EXIT_FAILED = 3;

/** Saved reports (to merge, or a --baseline) above this size are refused: not a report anyone saved on purpose. */
export const MAX_REPORT_BYTES = 256 * 1024 * 1024;

export const HELP = `Sentinel ${ENGINE_VERSION}: guards AI workloads against dynamic-code execution.

Usage:
  sentinel sast <paths...> [--rule JIT] [--format FORMAT] [--output FILE] [--policy FILE]
                           [--baseline REPORT | --baseline-ref REF] [--changed-since REF] [--fail-on SEVERITY]
                           [--jobs N] [--no-cache | --cache-dir DIR] [--shard K/N]
  sentinel merge <reports...> [--policy FILE] [--format FORMAT] [--output FILE] [--fail-on SEVERITY]
  sentinel rules [--format text|json]
  sentinel lsp --stdio
  sentinel --help | --version

sast options:
  -r, --rule <sel>         Rule ID or category to run (repeatable, or comma-separated). Default: all. An
                           empty selection (--rule '' or --rule ,) is a usage error.
  -f, --format <fmt>       text (default), json, sarif, github (workflow-command annotations), markdown
                           (pull-request comment), gitlab (GitLab SAST report), codequality (GitLab Code
                           Quality) or junit.
  -o, --output <file>      Write the report to a file instead of standard output.
      --report <fmt>=<file>
                           Also write the report in another format to a file (repeatable).
  -p, --policy <file>      sentinel-policy.yml to apply to every file. Default: the nearest one above
                           each file (one gate per policy root in a monorepo), else the built-in policy
                           (fail_on CRITICAL, HIGH; ticket_on MEDIUM).
      --baseline <report>  Compare with a saved --format json or sarif report: findings are new, unchanged,
                           updated or absent (fixed), matched by fingerprint; only new findings gate.
      --baseline-ref <ref> Compare with the tree at a git ref (its merge base with HEAD), scanned from git
                           objects without touching the working tree; only new findings gate.
      --changed-since <ref>
                           Scan only files changed since the ref (its merge base with HEAD): committed,
                           staged, unstaged and untracked; renames followed; deleted files listed.
      --fail-on <sev>      Findings at this severity or above block (CRITICAL, HIGH, MEDIUM, LOW, INFO), or
                           never; overrides the policy's fail_on. Findings the policy blocked below it
                           become tickets.
      --sarif-omit-absent  Leave fixed (absent) findings out of SARIF results (for GitHub code scanning).
      --max-file-size <n>  Skip files over n bytes with a warning (default ${DEFAULT_MAX_FILE_BYTES}).
  -j, --jobs <n>           Worker threads that analyse files (default: one per CPU, at most four per CPU);
                           1 analyses in-process.
      --no-cache           Do not read or write the result cache.
      --cache-dir <dir>    Keep the result cache in this folder (default ${defaultCacheDir().replace(/\\/g, '/')}). A folder
                           others can write, owned by someone else or that cannot be created is refused with
                           a warning. An empty DIR is a usage error.
      --shard <K/N>        Scan only shard K of N: files split by a hash of their path relative to the
                           working directory, the same on every machine. Join the reports with merge.
      --color / --no-color Force ANSI colour in text output on or off (default: on for a terminal).

merge joins reports (--format json or sarif, for instance one per --shard) and applies the gate once:
  -p, --policy <file>, -f, --format <fmt>, -o, --output <file>, --report <fmt>=<file> and --fail-on as for sast.
  Each report must be a regular file of at most 256 MiB; the same report file given twice counts once.

Exit codes:
  0  clean, or findings only at ticket_on or report level
  1  release gate blocked: an unsuppressed finding at a fail_on severity (with a baseline: a new one)
  2  usage or configuration error (unknown option or rule, missing path, broken policy, rule catalog or
     baseline, unknown git ref, --changed-since or --baseline-ref outside a git repository)
  3  Sentinel itself failed (a bug: please report the message), on the run or on a file (an internal-error
     warning) when the gate would otherwise pass; the summary says how many files could not be analysed
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTty: boolean;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTty: !!process.stdout.isTTY,
};

export function usage(io: CliIo, message: string): number {
  io.stderr(`sentinel: ${message}\nRun 'sentinel --help' for usage.\n`);
  return EXIT_USAGE;
}

export const FORMATS = ['text', 'json', 'sarif', 'github', 'markdown', 'gitlab', 'codequality', 'junit'] as const;
export type Format = (typeof FORMATS)[number];

export function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}

export interface RenderContext {
  catalog: Catalog;
  color: boolean;
  times: { start: Date; end: Date };
  omitAbsent: boolean;
}

/** `--format` and each `--report FORMAT=FILE`, or the usage error (shared by `sast` and `merge`). */
export function parseOutputs(format: string | undefined, reports: string[] | undefined): { format: Format; extra: { format: Format; file: string }[] } | string {
  const main = format ?? 'text';
  if (!isFormat(main)) return `unknown format '${main}' (${FORMATS.join(', ')})`;
  const extra: { format: Format; file: string }[] = [];
  for (const spec of reports ?? []) {
    const eq = spec.indexOf('=');
    const fmt = eq > 0 ? spec.slice(0, eq) : '';
    if (!isFormat(fmt) || eq === spec.length - 1) return `--report needs FORMAT=FILE with a format of ${FORMATS.join(', ')}, not '${spec}'`;
    extra.push({ format: fmt, file: spec.slice(eq + 1) });
  }
  return { format: main, extra };
}

/** `--fail-on SEVERITY|never` (any case), or an Error naming what it takes. */
export function parseFailOn(value: string | undefined): Severity | 'never' | undefined | Error {
  if (value === undefined) return undefined;
  const wanted = value.toUpperCase();
  if (wanted === 'NEVER') return 'never';
  if ((SEVERITIES as readonly string[]).includes(wanted)) return wanted as Severity;
  return new Error(`--fail-on takes ${SEVERITIES.join(', ')} or never, not '${value}'`);
}

export function render(format: Format, report: ScanReport, ctx: RenderContext): string {
  switch (format) {
    case 'json':
      return toJson(report);
    case 'sarif':
      return toSarifString(report, ctx.catalog, { omitAbsent: ctx.omitAbsent });
    case 'github':
      return toGithub(report, { workspace: process.env.GITHUB_WORKSPACE || undefined });
    case 'markdown':
      return toMarkdown(report);
    case 'gitlab':
      return toGitlabSastString(report, ctx.times, ctx.catalog);
    case 'codequality':
      return toCodeQualityString(report);
    case 'junit':
      return toJunit(report);
    case 'text':
      return toText(report, { color: ctx.color });
  }
}

/**
 * The bytes of an input the CLI reads whole (a report to merge, a baseline): a regular file of at most
 * `maxBytes`, read without blocking and never past the cap whatever fstat says (files under /proc say 0).
 * Anything else is a UsageError (exit 2) that names `what`, the file and the reason.
 */
export function readInputFile(file: string, what: string, maxBytes: number): Buffer {
  const tooLarge = (size: string): UsageError => new UsageError(`${what} '${file}' is ${size}, over the ${maxBytes}-byte (${Math.round(maxBytes / 1048576)} MiB) limit`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, OPEN_NONBLOCK);
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      const kind = kindOf(stat);
      throw new UsageError(`${what} '${file}' is ${kind === 'not a regular file' ? 'not' : `${kind}, not`} a regular file`);
    }
    if (stat.size > maxBytes) throw tooLarge(`${stat.size} bytes`);
    const bytes = readAtMost(fd, stat.size, maxBytes);
    if (!bytes) throw tooLarge(`more than ${maxBytes} bytes`);
    return bytes;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${what} '${file}' cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function writeReport(file: string, text: string): void {
  const out = path.resolve(file);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, text);
}

/** `--fail-on`: findings at the threshold or above block; ones the policy blocked below it become tickets. */
export function applyFailOn(findings: Finding[], threshold: Severity | 'never'): void {
  const limit = threshold === 'never' ? -1 : SEVERITIES.indexOf(threshold);
  for (const f of findings) {
    if (f.decision === 'suppressed') continue;
    const blocks = SEVERITIES.indexOf(f.severity) <= limit;
    if (blocks) f.decision = 'block';
    else if (f.decision === 'block') f.decision = 'ticket';
  }
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(path.resolve(p));
  } catch {
    return path.resolve(p);
  }
}

/** Whether the scanner would read this file: by name, or (C/C++, extension-less scripts) by its first bytes. */
function isScannable(abs: string): boolean {
  if (detectLanguage(abs) || mayBeCacheArtifact(abs)) return true;
  if (!needsContentSniff(abs)) return false;
  try {
    const fd = fs.openSync(abs, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      return detectLanguage(abs, buf.subarray(0, n).toString('utf8')) !== undefined;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** Folders a full scan skips (node_modules, build output, …) are skipped below a root here too. */
function inSkippedFolder(abs: string, roots: string[]): boolean {
  const root = roots.find((r) => isInside(abs, r));
  if (!root) return true;
  const dirs = path.relative(root, abs).split(path.sep).slice(0, -1);
  return dirs.some((d) => SKIPPED_DIRS.has(d));
}

/** Files that could not be analysed now: baseline findings there are not "fixed", only unseen. */
const UNANALYSED: readonly WarningCode[] = ['unreadable', 'binary', 'too-large', 'not-regular-file', 'bad-notebook', 'internal-error'];

interface GitScope {
  root: string;
  /** Absolute real paths of the scanned roots. */
  roots: string[];
  baseDir: string;
}

interface ChangedScope {
  changes: ChangeSet;
  /** Absolute paths to scan. */
  files: string[];
  /** Repository paths, at the ref, of the files that changed (what a baseline at the ref should cover). */
  oldRepoPaths: string[];
  /** Report paths (relative to baseDir) a baseline may hold findings for: old and new paths of what changed. */
  reportPaths: Set<string>;
}

async function changedScope(scope: GitScope, ref: string): Promise<ChangedScope> {
  const commit = await comparisonCommit(scope.root, await resolveCommit(scope.root, ref));
  const display = (repoPath: string): string => toPosix(path.relative(scope.baseDir, path.join(scope.root, repoPath)));
  const inScope = (repoPath: string): boolean => scope.roots.some((r) => isInside(path.join(scope.root, repoPath), r));
  const changes: ChangeSet = { since: ref, commit, scanned: [], deleted: [], renamed: [] };
  const files: string[] = [];
  const oldRepoPaths: string[] = [];
  const reportPaths = new Set<string>();
  for (const change of await changedFiles(scope.root, commit)) {
    const before = change.status === 'added' || change.status === 'untracked' ? undefined : (change.from ?? change.path);
    if (before !== undefined && inScope(before)) {
      oldRepoPaths.push(before);
      reportPaths.add(display(before));
    }
    if (change.status === 'renamed' && (inScope(change.path) || (change.from !== undefined && inScope(change.from)))) {
      changes.renamed.push({ from: display(change.from ?? change.path), to: display(change.path) });
    }
    if (!inScope(change.path)) continue;
    const abs = path.join(scope.root, change.path);
    if (change.notUtf8 && change.status !== 'deleted') {
      // Its name is not valid UTF-8, so no text path opens it: the nearest folder above it that one does is scanned
      // whole (the walk reads such names by their bytes). More files than changed may then be reported, none fewer.
      let folder = path.dirname(abs);
      while (!fs.existsSync(folder) && folder !== scope.root) folder = path.dirname(folder);
      if (!files.includes(folder)) files.push(folder);
      reportPaths.add(display(change.path));
      changes.scanned.push(display(change.path));
      continue;
    }
    if (change.status === 'deleted' || !fs.existsSync(abs)) {
      changes.deleted.push(display(change.path));
      continue;
    }
    reportPaths.add(display(change.path));
    if (!fs.statSync(abs).isFile() || inSkippedFolder(abs, scope.roots) || !isScannable(abs)) continue;
    files.push(abs);
    changes.scanned.push(display(change.path));
  }
  files.sort();
  changes.scanned.sort();
  changes.deleted.sort();
  return { changes, files, oldRepoPaths, reportPaths };
}

/** Scans the tree at `ref` (its merge base with HEAD) from git objects, laid out so report paths line up. */
async function baselineFromRef(
  scope: GitScope,
  ref: string,
  changed: ChangedScope | undefined,
  scan: { catalog: Catalog; rules: string[]; policyPath?: string; maxFileBytes: number; jobs?: number; cache?: ResultCache },
): Promise<{ findings: Finding[]; commit: string; renames: Map<string, string> }> {
  const commit = await comparisonCommit(scope.root, await resolveCommit(scope.root, ref));
  const repoRoots = scope.roots.map((r) => toPosix(path.relative(scope.root, r)));
  const display = (repoPath: string): string => toPosix(path.relative(scope.baseDir, path.join(scope.root, repoPath)));
  // Renames since the ref guide matching; files renamed into the scanned paths are read at their old paths too.
  const renames = new Map<string, string>();
  const movedIn: string[] = [];
  if (changed) {
    for (const r of changed.changes.renamed) renames.set(r.to, r.from);
  } else {
    const inScope = (p: string): boolean => scope.roots.some((r) => isInside(path.join(scope.root, p), r));
    for (const c of await changedFiles(scope.root, commit)) {
      if (c.from === undefined || c.status !== 'renamed') continue;
      renames.set(display(c.path), display(c.from));
      if (inScope(c.path) && !inScope(c.from)) movedIn.push(c.from);
    }
  }
  const pathspecs = changed ? changed.oldRepoPaths : repoRoots.includes('') ? [] : [...repoRoots, ...movedIn];
  if (changed && pathspecs.length === 0) return { findings: [], commit, renames };
  const mirror = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-baseline-'));
  try {
    const mirrored = (abs: string): string | undefined => {
      const rel = path.relative(scope.baseDir, abs);
      return rel.startsWith('..') || path.isAbsolute(rel) ? undefined : path.join(mirror, rel);
    };
    const policyNames: readonly string[] = POLICY_FILE_NAMES;
    await copyTreeAt(scope.root, commit, {
      pathspecs,
      include: (p) => {
        const base = path.posix.basename(p);
        // No .gitignore (an extension-less file would pass as a script to sniff): every file of the mirror is
        // committed, and git ignores nothing it tracks.
        if (base === '.gitignore') return false;
        return policyNames.includes(base) || detectLanguage(p) !== undefined || needsContentSniff(p) || mayBeCacheArtifact(p);
      },
      destination: (p) => mirrored(path.join(scope.root, p)),
      maxBytes: scan.maxFileBytes,
    });
    const roots = (changed ? changed.oldRepoPaths.map((p) => path.join(scope.root, p)) : [...scope.roots, ...movedIn.map((p) => path.join(scope.root, p))])
      .map(mirrored)
      .filter((p): p is string => p !== undefined && fs.existsSync(p));
    if (roots.length === 0) return { findings: [], commit, renames };
    // Policies only decide gates, not identity: the baseline tree's own (possibly broken) policy files are not read.
    const report = await scanPaths(roots, {
      catalog: scan.catalog,
      rules: scan.rules,
      baseDir: mirror,
      maxFileBytes: scan.maxFileBytes,
      jobs: scan.jobs,
      cache: scan.cache,
      ...(scan.policyPath ? { policyPath: scan.policyPath } : { policy: defaultPolicy(mirror) }),
    });
    return { findings: report.findings, commit, renames };
  } finally {
    fs.rmSync(mirror, { recursive: true, force: true });
  }
}

/**
 * The result cache in `dir` (default: the per-user cache folder). A refused folder means no cache, a line on
 * stderr now and a `cache-refused` warning to put in the report, where CI logs and SARIF show it.
 */
function openCache(dir: string | undefined, io: CliIo): { cache?: ResultCache; refusal?: ScanWarning } {
  const opened = openResultCache(dir ?? defaultCacheDir(), { engine: engineIdentity() });
  if (opened.warning) io.stderr(`sentinel: warning: ${opened.warning}\n`);
  return opened.cache ? { cache: opened.cache } : { refusal: opened.refusal };
}

async function runSast(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    {
      rule: { type: 'string', short: 'r', multiple: true },
      baseline: { type: 'string' },
      'baseline-ref': { type: 'string' },
      'changed-since': { type: 'string' },
      'sarif-omit-absent': { type: 'boolean' },
      'max-file-size': { type: 'string' },
      jobs: { type: 'string', short: 'j' },
      'no-cache': { type: 'boolean' },
      'cache-dir': { type: 'string' },
      shard: { type: 'string' },
    },
    io,
  );
  if (typeof parsed === 'number') return parsed;
  const { values, format, extra } = parsed;
  const changedSince = values['changed-since'];
  const baselineRef = values['baseline-ref'];
  const positionals = parsed.positionals.length === 0 && changedSince !== undefined ? ['.'] : parsed.positionals;
  if (positionals.length === 0) return usage(io, 'sast needs at least one path to scan');
  if (process.cwd().includes('\uFFFD')) {
    return usage(io, `the current folder's path (${process.cwd()}) holds bytes that are not valid UTF-8, which Node.js does not pass on, so no path can be resolved from it; run Sentinel from a folder above it (names inside a scanned folder are read by their bytes)`);
  }
  for (const p of positionals) {
    if (!fs.existsSync(p)) return usage(io, missingPath(p));
  }
  let maxFileBytes = DEFAULT_MAX_FILE_BYTES;
  if (values['max-file-size'] !== undefined) {
    maxFileBytes = Number(values['max-file-size']);
    if (!Number.isInteger(maxFileBytes) || maxFileBytes <= 0) return usage(io, `--max-file-size needs a positive whole number of bytes, not '${values['max-file-size']}'`);
  }
  let jobs: number | undefined;
  if (values.jobs !== undefined) {
    jobs = Number(values.jobs);
    if (!Number.isInteger(jobs) || jobs < 1) return usage(io, `--jobs needs a whole number of workers, 1 or more, not '${values.jobs}'`);
  }
  let shard: { index: number; count: number } | undefined;
  if (values.shard !== undefined) {
    shard = parseShard(values.shard);
    if (!shard) return usage(io, `--shard needs K/N with 1 <= K <= N (for instance 2/4), not '${values.shard}'`);
  }
  if (values.rule !== undefined && values.rule.flatMap((r) => r.split(',')).every((r) => r.trim() === '')) {
    const given = values.rule.map((r) => `'${r}'`).join(', ');
    return usage(io, `--rule ${given} selects no rule (an unset variable?); give a rule ID or category such as JIT, or leave --rule out to run every rule`);
  }
  if (values['no-cache'] && values['cache-dir'] !== undefined) return usage(io, '--no-cache and --cache-dir contradict each other; give one');
  if (values['cache-dir'] !== undefined && values['cache-dir'].trim() === '') {
    return usage(io, `--cache-dir '${values['cache-dir']}' names no folder (an unset variable?); give a folder, or leave --cache-dir out for the default`);
  }
  if (values.policy !== undefined && !fs.existsSync(values.policy)) return usage(io, `policy file '${values.policy}' does not exist`);
  if (values.baseline !== undefined && baselineRef !== undefined) return usage(io, '--baseline and --baseline-ref are two baselines; give one');
  if (values.baseline !== undefined && !fs.existsSync(values.baseline)) return usage(io, `baseline file '${values.baseline}' does not exist`);
  // Read once, as a regular file, capped and without blocking (a FIFO or a /proc file is refused); parsed below.
  const baselineBytes = values.baseline !== undefined ? readInputFile(values.baseline, 'baseline file', MAX_REPORT_BYTES) : undefined;
  const failOn = parseFailOn(values['fail-on']);
  if (failOn instanceof Error) return usage(io, failOn.message);
  // An uncached scan analyses every file: its workers may start before the rule data is even loaded.
  if (values['no-cache']) warmPoolFor(positionals, { jobs });

  const catalog = loadCatalog();
  // A broken saved baseline is a usage error before the scan, not after it.
  const savedBaseline = baselineBytes && values.baseline !== undefined ? findingsOfReportText(values.baseline, baselineBytes.toString('utf8'), catalog) : undefined;
  const rules = values.rule ?? [];
  const baseDir = path.resolve(defaultBaseDir(positionals));
  let scope: GitScope | undefined;
  let changed: ChangedScope | undefined;
  const gitFlag = changedSince !== undefined ? '--changed-since' : '--baseline-ref';
  try {
    if (changedSince !== undefined || baselineRef !== undefined) {
      const first = path.resolve(positionals[0]!);
      const root = await repositoryRoot(fs.statSync(first).isDirectory() ? first : path.dirname(first));
      const roots = positionals.map(realpath);
      const outside = positionals.find((_p, i) => !isInside(roots[i]!, root));
      if (outside !== undefined) return usage(io, `${gitFlag}: '${outside}' is outside the git repository ${root}`);
      scope = { root, roots, baseDir: realpath(baseDir) };
    }
    if (scope && changedSince !== undefined) changed = await changedScope(scope, changedSince);
  } catch (err) {
    if (err instanceof GitError) return usage(io, `${gitFlag}: ${err.message}`);
    throw err;
  }

  // Git reports real paths; with git in play the scan uses them too, so report paths and git paths agree.
  const scanBaseDir = scope ? scope.baseDir : baseDir;
  const scanRoots = scope ? scope.roots : positionals.map((p) => path.resolve(p));
  const { cache, refusal: cacheRefusal } = values['no-cache'] ? {} : openCache(values['cache-dir'], io);
  const start = new Date();
  const report = await scanPaths(changed ? changed.files : scope ? scope.roots : positionals, {
    catalog,
    rules,
    policyPath: values.policy,
    maxFileBytes,
    baseDir: scanBaseDir,
    jobs,
    cache,
    shard,
  });
  if (changed) report.changes = changed.changes;
  if (cacheRefusal) report.warnings.unshift(cacheRefusal);
  if (failOn !== undefined) {
    applyFailOn(report.findings, failOn);
    regate(report);
  }

  let baselineFindings: Finding[] | undefined;
  let renames: Map<string, string> | undefined;
  let source: { kind: 'file' | 'git'; source: string; commit?: string } | undefined;
  try {
    if (values.baseline !== undefined) {
      baselineFindings = savedBaseline;
      source = { kind: 'file', source: values.baseline };
    } else if (baselineRef !== undefined && scope) {
      const fromRef = await baselineFromRef(scope, baselineRef, changed, { catalog, rules, policyPath: values.policy, maxFileBytes, jobs, cache });
      baselineFindings = fromRef.findings;
      renames = fromRef.renames;
      source = { kind: 'git', source: baselineRef, commit: fromRef.commit };
    }
  } catch (err) {
    if (err instanceof GitError) return usage(io, `--baseline-ref: ${err.message}`);
    throw err;
  }
  if (baselineFindings && source) {
    // Only what this scan looked at can be fixed: other paths' findings are out of view, not gone.
    const unseen = new Set(report.warnings.filter((w) => UNANALYSED.includes(w.code)).map((w) => w.path));
    const inView = (f: Finding): boolean => {
      if (unseen.has(f.evidence.path)) return false;
      if (changed) return changed.reportPaths.has(f.evidence.path);
      const abs = path.resolve(scanBaseDir, f.evidence.path);
      return scanRoots.some((r) => isInside(abs, r));
    };
    applyBaseline(report, baselineFindings, source, { inView, ...(renames ? { renames } : {}) });
  }
  const end = new Date();

  const s = report.summary;
  const b = report.baseline;
  const against = b ? `; baseline: ${b.new} new, ${b.unchanged} unchanged, ${b.updated} updated, ${b.absent} fixed` : '';
  return deliverReport(io, report, {
    format,
    extra,
    output: values.output,
    color: values['no-color'] ? false : values.color ? true : undefined,
    ctx: { catalog, times: { start, end }, omitAbsent: !!values['sarif-omit-absent'] },
    summary:
      `${report.findings.length} finding(s) in ${report.filesScanned} file(s); gate ${s.decision}` +
      ` (${s.blocking} blocking, ${s.tickets} ticket, ${s.suppressed} suppressed${against})`,
  });
}

/**
 * Renders `report` in `format` to stdout, or to `output` with a one-line `summary` on stderr, and in each
 * `--report` format to its file; returns the exit code: 1 when the gate blocks, else 3 when a file hit an
 * internal-error, else 0. Shared by `sast` and `merge`.
 * `color` undefined: colour when stdout is a terminal, the report goes there and NO_COLOR is unset.
 */
export function deliverReport(
  io: CliIo,
  report: ScanReport,
  o: { format: Format; extra: { format: Format; file: string }[]; output?: string; color?: boolean; ctx: Omit<RenderContext, 'color'>; summary: string },
): number {
  const color = o.color ?? (io.isTty && !o.output && !process.env.NO_COLOR);
  const ctx: RenderContext = { ...o.ctx, color };
  const rendered = render(o.format, report, ctx);
  try {
    for (const { format: fmt, file } of o.extra) writeReport(file, render(fmt, report, { ...ctx, color: false }));
    if (o.output) writeReport(o.output, rendered);
  } catch (err) {
    return usage(io, `cannot write the report: ${(err as Error).message}`);
  }
  // A file Sentinel failed on (internal-error) was not checked: the run cannot pass as clean. A blocked gate
  // still exits 1, since both fail CI and the blocking findings are what needs fixing first.
  const failed = new Set(report.warnings.filter((w) => w.code === 'internal-error').map((w) => w.path)).size;
  const blocked = report.summary.decision === 'blocked';
  const note = failed > 0 ? `; ${failed} file(s) could not be analysed (Sentinel failed on them: internal-error)` : '';
  if (o.output) io.stderr(`sentinel: ${o.summary}${note}; report written to ${o.output}\n`);
  else {
    if (rendered !== '') io.stdout(rendered.endsWith('\n') ? rendered : `${rendered}\n`);
    if (failed > 0) io.stderr(`sentinel: ${o.summary}${note}\n`);
  }
  if (blocked) return EXIT_BLOCKED;
  return failed > 0 ? EXIT_FAILED : EXIT_CLEAN;
}

function runRules(args: string[], io: CliIo): number {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { format: { type: 'string', short: 'f', default: 'text' } } }));
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const catalog = loadCatalog();
  if (values.format === 'json') {
    io.stdout(`${JSON.stringify(catalog.rules, null, 2)}\n`);
    return EXIT_CLEAN;
  }
  if (values.format !== 'text') return usage(io, `unknown format '${values.format}' (text or json)`);
  const lines: string[] = [];
  for (const r of catalog.rules) {
    lines.push(`${r.id} ${r.severity}`, r.title, r.fixHint);
    lines.push(`  category ${r.category} · ${r.cwe} · ${r.owaspLlm} · false-positive risk ${r.fpRisk}`);
    lines.push(`  owner: ${r.owner}`, `  release decision: ${r.releaseDecision}`, `  retest: ${r.retest}`, `  docs: ${r.helpUri}`, '');
  }
  io.stdout(lines.join('\n'));
  return EXIT_CLEAN;
}

/**
 * Why a path given on the command line cannot be found. Node.js reads the command line as UTF-8, replacing other
 * bytes with U+FFFD: such a path names nothing on disk, though the folder may be there.
 */
function missingPath(p: string): string {
  if (!p.includes('\uFFFD')) return `path '${p}' does not exist`;
  return `path '${p}' cannot be opened: it holds bytes that are not valid UTF-8, which Node.js does not pass on; scan a folder above it (names inside a scanned folder are read by their bytes)`;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.stdout(HELP);
        return command === undefined ? EXIT_USAGE : EXIT_CLEAN;
      case '-v':
      case '--version':
        io.stdout(`${ENGINE_VERSION}\n`);
        return EXIT_CLEAN;
      case 'sast':
        return await runSast(rest, io);
      case 'rules':
        return runRules(rest, io);
      case 'merge':
        return await runMerge(rest, io);
      case 'lsp':
        if (!rest.some((a) => ['--stdio', '--node-ipc'].includes(a) || a.startsWith('--socket') || a.startsWith('--pipe'))) {
          return usage(io, 'lsp needs a transport: --stdio (or --node-ipc, --socket=N, --pipe=NAME)');
        }
        // Loaded only here: a scan need not pay for the language server's modules at start-up.
        (await import('../lsp/main.js')).runLanguageServer();
        // The connection owns the process from here; it exits when the client sends `exit`.
        return new Promise<number>(() => undefined);
      default:
        return usage(io, `unknown command '${command}' (sast, merge, rules, lsp)`);
    }
  } catch (err) {
    if (err instanceof PolicyError && err.line !== undefined) {
      // file:line: reason, as compilers say it (editors and terminals turn it into a link to the line).
      io.stderr(`sentinel: ${err.file}:${err.line}: ${err.reason}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof PolicyError || err instanceof CatalogError || err instanceof UsageError || err instanceof BaselineError || err instanceof GitError) {
      io.stderr(`sentinel: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
}

/** Entry for the `sentinel` binary: runs main and sets the exit code; 3 means Sentinel itself failed. */
export function run(argv: string[] = process.argv.slice(2)): void {
  // A reader that stops early (`sentinel sast . | head`) closes the pipe: the rest of the report is not wanted,
  // and the exit code still carries the gate's decision. Any other output error is Sentinel's own failure.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') return;
      process.exitCode = EXIT_FAILED;
    });
  }
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`sentinel: internal error: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = EXIT_FAILED;
    },
  );
}

if (require.main === module) run();
