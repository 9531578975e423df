// Human-readable CLI output: each finding as the spec's three-line header (rule + severity, title, fix
// hint) with its evidence indented below, then input warnings and the release-gate summary.
import { describeBaseline, gates } from '../../engine/baseline';
import type { BaselineState, CacheEvidence, Decision, Finding, ScanReport, ScanWarning, Severity, TraceStep, WarningCode } from '../../engine/finding';
import { SEVERITIES } from '../../engine/finding';
import { visible } from './visible';

export interface TextOptions {
  color: boolean;
}

// Blocking findings are what the reader must act on before release, so they come first.
const DECISION_ORDER: readonly Decision[] = ['block', 'ticket', 'report', 'suppressed'];

const DECISION_LABEL: Record<Decision, string> = {
  block: 'BLOCK',
  ticket: 'TICKET',
  report: 'REPORT',
  suppressed: 'SUPPRESSED',
};

const ANSI = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  blue: '\x1b[34m',
  cyan: '\x1b[36m',
  green: '\x1b[32m',
} as const;

type Style = keyof typeof ANSI;

const SEVERITY_STYLE: Record<Severity, Style[]> = {
  CRITICAL: ['bold', 'red'],
  HIGH: ['bold', 'red'],
  MEDIUM: ['bold', 'yellow'],
  LOW: ['blue'],
  INFO: ['dim'],
};

const DECISION_STYLE: Record<Decision, Style[]> = {
  block: ['bold', 'red'],
  ticket: ['yellow'],
  report: [],
  suppressed: ['dim'],
};

/** Width of the label column, so that values line up like a key/value table. */
const LABEL_WIDTH = 'fingerprint: '.length;
const INDENT = '  ';

/** One-line fields must not break the layout either, so newlines and tabs are escaped as well. */
function oneLine(text: string): string {
  return visible(text.replace(/\r\n|\r|\n/g, '\\n').replace(/\t/g, '\\t'));
}

function painter(color: boolean): (styles: Style[], text: string) => string {
  if (!color) return (_styles, text) => text;
  return (styles, text) => (styles.length === 0 ? text : `${styles.map((s) => ANSI[s]).join('')}${text}${ANSI.reset}`);
}

const BASELINE_LABEL: Record<BaselineState, string> = {
  new: 'new (not in the baseline)',
  unchanged: 'unchanged (in the baseline; does not gate)',
  updated: 'updated (in the baseline, moved or changed; does not gate)',
  absent: 'fixed (in the baseline, gone now)',
};

function compareFindings(a: Finding, b: Finding): number {
  // With a baseline, what gates (new findings) comes before what was already there.
  const byGate = Number(!gates(a)) - Number(!gates(b));
  if (byGate !== 0) return byGate;
  const byDecision = DECISION_ORDER.indexOf(a.decision) - DECISION_ORDER.indexOf(b.decision);
  if (byDecision !== 0) return byDecision;
  // Plain code-unit comparison, not localeCompare: the order must not depend on the machine's locale.
  if (a.evidence.path !== b.evidence.path) return a.evidence.path < b.evidence.path ? -1 : 1;
  return (
    a.evidence.startLine - b.evidence.startLine ||
    a.evidence.startColumn - b.evidence.startColumn ||
    (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0)
  );
}

function position(path: string, line: number, column: number): string {
  return `${oneLine(path)}:${line}:${column}`;
}

function location(f: Finding): string {
  const e = f.evidence;
  const base = position(e.path, e.startLine, e.startColumn);
  // CellRef.cell is a 0-based index; people count notebook cells from 1, as the notebook UI shows them.
  return e.cell ? `${base} (cell ${e.cell.cell + 1}, line ${e.cell.line})` : base;
}

function decisionText(f: Finding): string {
  if (f.decision !== 'suppressed') return DECISION_LABEL[f.decision];
  const s = f.suppression;
  if (!s) return DECISION_LABEL.suppressed;
  const source = s.source ?? (s.kind === 'inline' ? 'inline comment' : 'policy');
  const expires = s.expires ? `, expires ${s.expires}` : '';
  return `${DECISION_LABEL.suppressed} (${oneLine(s.reason)}, ${oneLine(source)}${expires})`;
}

function traceStep(step: TraceStep): string {
  return `${step.kind} ${position(step.path, step.startLine, step.startColumn)} ${oneLine(step.note)}`;
}

function field(label: string, value: string): string {
  return `${INDENT}${`${label}:`.padEnd(LABEL_WIDTH)}${value}`;
}

/** Continuation lines of a multi-line value start under the value column, not under the label. */
function continuation(value: string): string {
  return `${INDENT}${' '.repeat(LABEL_WIDTH)}${value}`;
}

/** One line on where in a compiled cache a finding sits: kind, entry, member, opcode and byte offset, owner. */
function cacheText(c: CacheEvidence): string {
  const parts = [`${c.kind} ${c.entry}`];
  if (c.member) parts.push(c.member);
  if (c.opcode) parts.push(`${c.opcode} ${c.import ?? ''} at byte ${c.offset}${c.call ? ` → ${c.call.opcode} at byte ${c.call.offset}` : ''}`);
  else if (c.import) parts.push(`${c.import}${c.line ? ` at line ${c.line}` : ''}`);
  if (c.uid !== undefined) parts.push(`uid ${c.uid} (cache root uid ${c.rootUid})`);
  if (c.target) parts.push(`→ ${c.target}`);
  return parts.join(' · ');
}

function renderFinding(f: Finding, paint: ReturnType<typeof painter>): string[] {
  const lines = [
    `${paint(['bold'], f.ruleId)} ${paint(SEVERITY_STYLE[f.severity], f.severity)}`,
    f.title,
    f.fixHint,
    field('location', paint(['cyan'], location(f))),
    field('signal', oneLine(f.evidence.signal)),
  ];
  if (f.evidence.cache) lines.push(field('cache', oneLine(cacheText(f.evidence.cache))));
  const snippet = f.evidence.snippet.split(/\r\n|\r|\n/).map((l) => visible(l).replace(/\s+$/, ''));
  while (snippet.length > 1 && snippet[snippet.length - 1] === '') snippet.pop();
  snippet.forEach((l, i) => lines.push(i === 0 ? field('snippet', paint(['dim'], l)) : continuation(paint(['dim'], l))));
  lines.push(
    field('confidence', f.confidence),
    field('owner', oneLine(f.owner)),
    field('decision', paint(DECISION_STYLE[f.decision], decisionText(f))),
  );
  if (f.baselineState) lines.push(field('baseline', BASELINE_LABEL[f.baselineState]));
  lines.push(field('fingerprint', f.fingerprint));
  f.trace.forEach((step, i) => lines.push(i === 0 ? field('trace', traceStep(step)) : continuation(`→ ${traceStep(step)}`)));
  return lines;
}

function renderWarning(w: ScanWarning, paint: ReturnType<typeof painter>): string {
  const where = w.line === undefined ? oneLine(w.path) : `${oneLine(w.path)}:${w.line}`;
  return `${paint(['yellow'], 'warning')}: ${where}: ${oneLine(w.message)} [${w.code}]`;
}

function countBySeverity(findings: Finding[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** "2 HIGH findings", "1 CRITICAL and 2 HIGH findings": the noun agrees with the total. */
function describeCounts(counts: Record<Severity, number>): string {
  const parts = SEVERITIES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  const total = SEVERITIES.reduce((n, s) => n + counts[s], 0);
  const list = parts.length <= 1 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
  return `${list} ${total === 1 ? 'finding' : 'findings'}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : `${noun}s`}`;
}

/**
 * Whether a warning means its file was skipped or only partly checked. The others leave every file fully
 * checked: an expired allowlist entry (its path is the policy), an allow comment that does not count (the
 * finding is still reported) and a refused result cache (its path is the cache folder; the scan ran uncached).
 * A Record, so that a new warning code cannot be added without deciding which it is.
 */
const LEAVES_FILE_UNCHECKED: Record<WarningCode, boolean> = {
  unreadable: true,
  binary: true,
  'too-large': true,
  'not-utf8': true,
  'parse-error': true,
  'symlink-outside-root': true,
  'symlink-loop': true,
  'not-regular-file': true,
  'bad-notebook': true,
  'internal-error': true,
  'policy-expired-allowlist': false,
  'incomplete-allow-comment': false,
  'cache-refused': false,
};

/**
 * "Files not fully scanned: 3 (1 binary, 2 internal-error)": the files that warnings above say were skipped or
 * partly checked, counted once each, and how many per warning code, so the summary alone shows the gap.
 */
function uncheckedFiles(warnings: ScanWarning[]): string | undefined {
  const byCode = new Map<WarningCode, Set<string>>();
  for (const w of warnings) {
    if (!LEAVES_FILE_UNCHECKED[w.code]) continue;
    const paths = byCode.get(w.code) ?? new Set<string>();
    paths.add(w.path);
    byCode.set(w.code, paths);
  }
  if (byCode.size === 0) return undefined;
  const files = new Set([...byCode.values()].flatMap((paths) => [...paths]));
  const codes = [...byCode.keys()].sort().map((code) => `${byCode.get(code)!.size} ${code}`);
  return `Files not fully scanned: ${files.size} (${codes.join(', ')})`;
}

function renderSummary(report: ScanReport, paint: ReturnType<typeof painter>): string[] {
  // With a baseline only new findings gate; the breakdown in words must say the same as the verdict.
  const blocking = report.findings.filter((f) => f.decision === 'block' && gates(f));
  const tickets = report.findings.filter((f) => f.decision === 'ticket' && gates(f));
  const active = report.findings.filter((f) => f.decision !== 'suppressed');
  const suppressed = report.findings.length - active.length;
  // The policy's verdict is authoritative; findings only supply the breakdown in words.
  const blockWords = blocking.length > 0 ? describeCounts(countBySeverity(blocking)) : plural(report.summary.blocking, 'finding');
  const ticketWords = tickets.length > 0 ? describeCounts(countBySeverity(tickets)) : plural(report.summary.tickets, 'finding');
  const lines: string[] = [];
  const fresh = report.baseline ? ' (new since the baseline)' : '';
  switch (report.summary.decision) {
    case 'blocked':
      lines.push(`Release gate: ${paint(['bold', 'red'], 'BLOCKED')} — ${blockWords} at fail_on severities${fresh}`);
      if (tickets.length > 0) lines.push(`Also tickets: ${ticketWords} to ticket`);
      break;
    case 'tickets':
      lines.push(`Release gate: ${paint(['yellow'], 'passed')} — tickets: ${ticketWords} to ticket${fresh}`);
      break;
    case 'clean':
      lines.push(`Release gate: ${paint(['green'], 'clean')} — ${report.baseline ? 'no new finding' : 'nothing'} at fail_on or ticket_on severities`);
      break;
  }
  const counts = countBySeverity(active);
  const bySeverity = SEVERITIES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  lines.push(`Findings: ${bySeverity.length > 0 ? bySeverity.join(', ') : 'none'}; ${suppressed} suppressed`);
  const baseline = describeBaseline(report);
  if (baseline && report.baseline) {
    const against = report.baseline.commit ? `${report.baseline.source} at ${report.baseline.commit.slice(0, 12)}` : report.baseline.source;
    lines.push(`Baseline (${oneLine(against)}): ${baseline}`);
  }
  if (report.changes) {
    const c = report.changes;
    const renamed = c.renamed.map((r) => `${oneLine(r.from)} → ${oneLine(r.to)}`);
    lines.push(
      `Changed since ${oneLine(c.since)} (${c.commit.slice(0, 12)}): ${plural(c.scanned.length, 'file')} scanned` +
        `; deleted: ${c.deleted.length > 0 ? c.deleted.map(oneLine).join(', ') : 'none'}` +
        (renamed.length > 0 ? `; renamed: ${renamed.join(', ')}` : ''),
    );
  }
  lines.push(`Files scanned: ${report.filesScanned}`);
  const unchecked = uncheckedFiles(report.warnings);
  if (unchecked) lines.push(paint(['yellow'], unchecked));
  if (report.cacheTrees?.length) {
    lines.push(`Caches scanned: ${report.cacheTrees.map((t) => `${oneLine(t.path)} (${t.kind}, ${t.entries} ${t.entries === 1 ? 'entry' : 'entries'})`).join(', ')}`);
  }
  lines.push(`Retest: ${report.summary.retest}`);
  for (const root of report.policyRoots ?? []) {
    const s = root.summary;
    const verdict = s.decision === 'blocked' ? 'BLOCKED' : s.decision === 'tickets' ? 'passed with tickets' : 'clean';
    const policy = root.policyPath ? oneLine(root.policyPath) : 'built-in policy';
    lines.push(`Policy root ${oneLine(root.root)} (${policy}): ${verdict} — ${s.blocking} blocking, ${s.tickets} tickets; retest: ${oneLine(s.retest)}`);
  }
  return lines;
}

/** Findings the baseline had and this scan no longer finds: one line each, so the fix is visible. */
function renderAbsent(report: ScanReport): string[] {
  const absent = report.baseline?.absentFindings ?? [];
  if (absent.length === 0) return [];
  return [
    'Fixed since the baseline:',
    ...absent.map((f) => `${INDENT}${f.ruleId} ${f.severity} ${position(f.evidence.path, f.evidence.startLine, f.evidence.startColumn)} ${f.fingerprint}`),
  ];
}

/** Renders a scan report for a terminal; ANSI colour only when `opts.color` (the caller checks the TTY and NO_COLOR). */
export function toText(report: ScanReport, opts: TextOptions): string {
  const paint = painter(opts.color);
  const blocks: string[][] = [...report.findings].sort(compareFindings).map((f) => renderFinding(f, paint));
  if (report.findings.length === 0) blocks.push(['No findings.']);
  const warnings = [...report.warnings].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : (a.line ?? 0) - (b.line ?? 0)));
  if (warnings.length > 0) blocks.push(warnings.map((w) => renderWarning(w, paint)));
  const absent = renderAbsent(report);
  if (absent.length > 0) blocks.push(absent);
  blocks.push(renderSummary(report, paint));
  return `${blocks.map((b) => b.join('\n')).join('\n\n')}\n`;
}
