// New-findings-only gating: loads a baseline (a saved JSON or SARIF report), matches this scan's findings to
// it by fingerprint (with fallbacks for moved code), classifies each as new/unchanged/updated/absent, and
// recomputes the release gate so that only new findings decide it.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BaselineState, Finding, ReportSummary, ScanReport, Severity } from './finding';
import { SEVERITIES } from './finding';
import { defaultPolicy, summarize } from './policy';
import { type Catalog, ruleSummary } from './rules/catalog';

/** A baseline file that cannot be used; the CLI exits 2 with the file and the reason. */
export class BaselineError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`baseline ${file}: ${reason}`);
    this.name = 'BaselineError';
  }
}

/** SARIF's partial fingerprint name Sentinel writes (reporters/sarif.ts FINGERPRINT_KEY; engine cannot import the face). */
const SARIF_FINGERPRINT_KEY = 'sentinel/v1';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function int(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : fallback;
}

// ---------------------------------------------------------------------------------------------------
// Loading

/** A saved report's text parsed as JSON, or a BaselineError naming `file` (a baseline, or a report to merge). */
export function parseReportText(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BaselineError(file, `is not JSON (${(err as Error).message.replace(/\s+/g, ' ')}); give a report written by --format json or --format sarif`);
  }
}

/** The findings of a report's text, already read (`file` only names it in errors): the CLI reads a baseline once. */
export function findingsOfReportText(file: string, text: string, catalog: Catalog): Finding[] {
  return findingsOfReport(file, parseReportText(file, text), catalog);
}

/** The findings of a report already read and parsed (`file` only names it in errors), so `sentinel merge` reads each once. */
export function findingsOfReport(file: string, data: unknown, catalog: Catalog): Finding[] {
  if (isRecord(data) && typeof data.format === 'string' && data.format.startsWith('sentinel-report/')) return findingsOfJsonReport(file, data);
  if (isRecord(data) && data.version === '2.1.0' && Array.isArray(data.runs)) return findingsOfSarif(file, data, catalog);
  throw new BaselineError(file, 'is neither a Sentinel JSON report (format "sentinel-report/1") nor a SARIF 2.1.0 log');
}

function findingsOfJsonReport(file: string, data: Record<string, unknown>): Finding[] {
  if (!Array.isArray(data.findings)) throw new BaselineError(file, 'has no "findings" list');
  return data.findings.map((raw, i) => {
    const f = raw as Partial<Finding>;
    if (!isRecord(raw) || typeof f.ruleId !== 'string' || typeof f.fingerprint !== 'string' || !isRecord(f.evidence) || typeof f.evidence.path !== 'string') {
      throw new BaselineError(file, `findings[${i}] lacks ruleId, fingerprint or evidence.path`);
    }
    // A severity the gate does not know would pass every fail_on list unseen: not a report Sentinel wrote.
    if (!(SEVERITIES as readonly unknown[]).includes(f.severity)) {
      throw new BaselineError(file, `findings[${i}] has severity ${JSON.stringify(f.severity)}, not one of ${SEVERITIES.join(', ')}`);
    }
    const copy = JSON.parse(JSON.stringify(raw)) as Finding;
    delete copy.baselineState;
    return copy;
  });
}

function pathOfUri(uri: string): string {
  if (/^file:/i.test(uri)) return fileURLToPath(uri);
  return uri
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .map((s) => decodeURIComponent(s))
    .join('/');
}

const SEVERITY_OF_LEVEL: Record<string, Severity> = { error: 'HIGH', warning: 'MEDIUM', note: 'LOW', none: 'INFO' };

/** SARIF results back into findings: rule data from the catalog, location, snippet and fingerprint from the result. */
function findingsOfSarif(file: string, data: Record<string, unknown>, catalog: Catalog): Finding[] {
  const findings: Finding[] = [];
  for (const [r, run] of (data.runs as unknown[]).entries()) {
    if (!isRecord(run)) throw new BaselineError(file, `runs[${r}] is not an object`);
    const results = Array.isArray(run.results) ? run.results : [];
    for (const [i, result] of results.entries()) {
      if (!isRecord(result) || typeof result.ruleId !== 'string') throw new BaselineError(file, `runs[${r}].results[${i}] has no ruleId`);
      // A result the baseline itself marked absent was not there when the baseline was taken.
      if (result.baselineState === 'absent') continue;
      const location = Array.isArray(result.locations) && isRecord(result.locations[0]) ? result.locations[0] : {};
      const physical = isRecord(location.physicalLocation) ? location.physicalLocation : {};
      const artifact = isRecord(physical.artifactLocation) ? physical.artifactLocation : {};
      const region = isRecord(physical.region) ? physical.region : {};
      const uri = str(artifact.uri);
      if (!uri) throw new BaselineError(file, `runs[${r}].results[${i}] has no location`);
      const card = catalog.byId.get(result.ruleId);
      const properties = isRecord(result.properties) ? result.properties : {};
      const messageText = isRecord(result.message) ? (str(result.message.text) ?? '') : '';
      const summary = card
        ? ruleSummary(card)
        : {
            ruleId: result.ruleId,
            category: result.ruleId.split('-')[0] ?? result.ruleId,
            severity: SEVERITY_OF_LEVEL[str(result.level) ?? 'warning'] ?? 'MEDIUM',
            title: result.ruleId,
            cwe: '',
            owaspLlm: '',
            owner: str(properties.owner) ?? '',
            releaseDecision: str(properties.releaseDecision) ?? '',
            fixHint: '',
            helpUri: '',
          };
      const startLine = int(region.startLine, 1);
      const startColumn = int(region.startColumn, 1);
      const fingerprints = isRecord(result.partialFingerprints) ? result.partialFingerprints : {};
      const decision = str(properties.decision);
      findings.push({
        ...summary,
        confidence: properties.confidence === 'high' || properties.confidence === 'low' ? properties.confidence : 'medium',
        evidence: {
          path: pathOfUri(uri),
          startLine,
          startColumn,
          endLine: int(region.endLine, startLine),
          endColumn: int(region.endColumn, startColumn),
          startOffset: 0,
          endOffset: 0,
          nodeType: 'sarif-result',
          snippet: isRecord(region.snippet) ? (str(region.snippet.text) ?? '') : '',
          signal: signalOfMessage(messageText, summary.title, summary.fixHint),
        },
        trace: [],
        fingerprint: str(fingerprints[SARIF_FINGERPRINT_KEY]) ?? '',
        retest: str(properties.retest) ?? '',
        decision: decision === 'block' || decision === 'ticket' || decision === 'suppressed' ? decision : 'report',
      });
    }
  }
  return findings;
}

/** The SARIF reporter writes `<title>: <signal>. <fix hint>`; this takes the signal back out. */
function signalOfMessage(message: string, title: string, fixHint: string): string {
  let signal = message;
  if (title && signal.startsWith(`${title}: `)) signal = signal.slice(title.length + 2);
  if (fixHint && signal.endsWith(` ${fixHint}`)) signal = signal.slice(0, -(fixHint.length + 1));
  return signal || message || 'from a SARIF baseline';
}

// ---------------------------------------------------------------------------------------------------
// Matching

function normalisedSignal(signal: string): string {
  return signal.trim().replace(/[.\s]+$/, '');
}

function compact(snippet: string): string {
  return snippet.replace(/\s+/g, '');
}

/** Same finding in the same place: the file, the code and what was observed are unchanged (the line may shift). */
function sameEvidence(current: Finding, before: Finding): boolean {
  return (
    current.evidence.path === before.evidence.path &&
    current.evidence.snippet === before.evidence.snippet &&
    current.severity === before.severity &&
    normalisedSignal(current.evidence.signal) === normalisedSignal(before.evidence.signal)
  );
}

function byPlace(a: Finding, b: Finding): number {
  if (a.evidence.path !== b.evidence.path) return a.evidence.path < b.evidence.path ? -1 : 1;
  return a.evidence.startLine - b.evidence.startLine || a.evidence.startColumn - b.evidence.startColumn;
}

export interface BaselineCounts {
  new: number;
  unchanged: number;
  updated: number;
  absent: number;
}

/**
 * Sets `baselineState` on every current finding and returns the baseline findings that are gone (marked
 * `absent`). Matching, in order: the same fingerprint in the same file (unchanged, or updated when the evidence
 * changed); the same fingerprint in another file (a rename or move: updated); then, for code moved into another
 * function (which changes the fingerprint), the same rule and the same code text (updated); last, for baselines
 * without fingerprints, the same rule, file and line. Each baseline finding matches at most one current one.
 * Across files, the file it was renamed from (`renames`: current path → baseline path) is preferred, then a
 * file of the same name.
 */
export function classifyAgainstBaseline(
  current: Finding[],
  baseline: Finding[],
  renames: ReadonlyMap<string, string> = new Map(),
): { absent: Finding[]; counts: BaselineCounts } {
  const open = new Set(baseline);
  const pending = new Set(current);
  const ordered = (set: Set<Finding>) => [...set].sort(byPlace);

  const pair = (
    key: (f: Finding, side: 'current' | 'baseline') => string | undefined,
    state: (c: Finding, b: Finding) => BaselineState,
    rank?: (c: Finding, b: Finding) => number,
  ): void => {
    const candidates = new Map<string, Finding[]>();
    for (const b of ordered(open)) {
      const k = key(b, 'baseline');
      if (k === undefined) continue;
      candidates.set(k, [...(candidates.get(k) ?? []), b]);
    }
    // Best matches first across all findings: a finding must not take another one's renamed original.
    for (const level of rank ? [0, 1, 2] : [0]) {
      for (const c of ordered(pending)) {
        const k = key(c, 'current');
        const list = k === undefined ? undefined : candidates.get(k);
        if (!list || list.length === 0) continue;
        const at = rank ? list.findIndex((b) => rank(c, b) === level) : 0;
        if (at < 0) continue;
        const [b] = list.splice(at, 1);
        c.baselineState = state(c, b!);
        open.delete(b!);
        pending.delete(c);
      }
    }
  };
  // Where the code most likely came from: its own path or the path it was renamed from, then a file of the
  // same name (a moved file), then anywhere.
  const origin = (c: Finding, b: Finding): number => {
    const from = renames.get(c.evidence.path) ?? c.evidence.path;
    if (b.evidence.path === from || b.evidence.path === c.evidence.path) return 0;
    return path.posix.basename(b.evidence.path) === path.posix.basename(c.evidence.path) ? 1 : 2;
  };
  const fingerprint = (f: Finding) => (f.fingerprint ? f.fingerprint : undefined);

  // 1. Same fingerprint and file: the line may have moved, nothing else.
  pair((f) => (fingerprint(f) ? `${f.fingerprint}\0${f.evidence.path}` : undefined), (c, b) => (sameEvidence(c, b) ? 'unchanged' : 'updated'));
  // 2. Same fingerprint elsewhere: the file was renamed or the code moved to another file.
  pair(fingerprint, () => 'updated', origin);
  // 3. Same rule and code text: moved into another function or class, which changes the fingerprint.
  pair((f) => (f.evidence.snippet ? `${f.ruleId}\0${compact(f.evidence.snippet)}` : undefined), () => 'updated', origin);
  // 4. A baseline finding without a fingerprint (a foreign SARIF log): the same rule at the same place. Never for
  // fingerprinted ones, or rewriting a flagged line into a worse call would pass as "updated".
  pair(
    (f, side) => (side === 'baseline' && f.fingerprint ? undefined : `${f.ruleId}\0${f.evidence.path}\0${f.evidence.startLine}`),
    (c, b) => (sameEvidence(c, b) ? 'unchanged' : 'updated'),
  );

  for (const c of pending) c.baselineState = 'new';
  const absent = ordered(open).map((b) => ({ ...b, baselineState: 'absent' as const }));
  const counts: BaselineCounts = { new: 0, unchanged: 0, updated: 0, absent: absent.length };
  for (const c of current) counts[c.baselineState as 'new' | 'unchanged' | 'updated']++;
  return { absent, counts };
}

// ---------------------------------------------------------------------------------------------------
// Gating

/** Whether a finding takes part in the release gate: all do without a baseline; with one, only new ones. */
export function gates(f: Finding): boolean {
  return f.baselineState === undefined || f.baselineState === 'new';
}

function gateSummary(findings: Finding[], retest: string, baseDir: string): ReportSummary {
  return summarize(findings.filter(gates), { ...defaultPolicy(baseDir), retest });
}

/** The policy root that governs a finding: the deepest root folder holding its file. */
function rootIndexOf(findingPath: string, rootDirs: string[], baseDir: string): number {
  const abs = path.resolve(baseDir, findingPath);
  let best = -1;
  rootDirs.forEach((dir, i) => {
    const rel = path.relative(dir, abs);
    const inside = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
    if (inside && (best < 0 || dir.length > rootDirs[best]!.length)) best = i;
  });
  return best;
}

/**
 * Recomputes the release gate from the findings' decisions, counting only the findings that gate: after a
 * baseline was applied or decisions were changed (`--fail-on`). Policy-root summaries are recomputed too.
 */
export function regate(report: ScanReport): void {
  report.summary = gateSummary(report.findings, report.summary.retest, report.baseDir);
  if (!report.policyRoots) return;
  const dirs = report.policyRoots.map((r) => path.resolve(report.baseDir, r.root));
  const groups: Finding[][] = report.policyRoots.map(() => []);
  for (const f of report.findings) {
    const i = rootIndexOf(f.evidence.path, dirs, report.baseDir);
    if (i >= 0) groups[i]!.push(f);
  }
  report.policyRoots.forEach((root, i) => {
    root.summary = gateSummary(groups[i]!, root.summary.retest, report.baseDir);
  });
}

/**
 * Attaches the baseline comparison to the report and recomputes the gate so that only new findings count.
 * Every baseline finding may match (code moved in from outside the scanned paths is not new), but only those
 * `inView` (in the paths this scan looked at) can be absent: elsewhere a missing finding is unseen, not fixed.
 */
export function applyBaseline(
  report: ScanReport,
  baseline: Finding[],
  source: { kind: 'file' | 'git'; source: string; commit?: string },
  options: { inView?: (f: Finding) => boolean; renames?: ReadonlyMap<string, string> } = {},
): void {
  const inView = options.inView ?? (() => true);
  const { absent, counts } = classifyAgainstBaseline(report.findings, baseline, options.renames);
  const fixed = absent.filter(inView);
  report.baseline = {
    kind: source.kind,
    source: source.source,
    ...(source.commit ? { commit: source.commit } : {}),
    ...counts,
    absent: fixed.length,
    absentFindings: fixed,
  };
  regate(report);
}

/** "2 new HIGH, 5 unchanged, 1 fixed": the baseline comparison in words; new findings by severity. */
export function describeBaseline(report: ScanReport): string | undefined {
  const b = report.baseline;
  if (!b) return undefined;
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of report.findings) if (f.baselineState === 'new') bySeverity[f.severity]++;
  const fresh = SEVERITIES.filter((s) => bySeverity[s] > 0).map((s) => `${bySeverity[s]} new ${s}`);
  const parts = [fresh.length > 0 ? fresh.join(', ') : '0 new', `${b.unchanged} unchanged`];
  if (b.updated > 0) parts.push(`${b.updated} updated`);
  parts.push(`${b.absent} fixed`);
  return parts.join(', ');
}
