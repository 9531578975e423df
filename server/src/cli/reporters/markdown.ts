// `--format markdown`: a pull-request comment or GitHub job summary: the release decision, the new gating
// findings with owner and fix hint, the baseline comparison, the other findings folded away, the retest command.
import { describeBaseline, gates } from '../../engine/baseline';
import type { Finding, ScanReport } from '../../engine/finding';
import { visible } from './visible';

/**
 * Text from scanned files (paths) or policies goes into table cells: no HTML, no cell breaks, no line breaks, and
 * no control characters or bidi overrides (shown as `\u{…}`, as the text format does).
 */
function escapeHtml(text: string): string {
  return visible(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function cell(text: string): string {
  return escapeHtml(text.replace(/\s+/g, ' ').trim())
    .replace(/\|/g, '&#124;')
    .replace(/([\\`*_[\]~])/g, '\\$1');
}

/** Code inside a table: an HTML code element, so backticks in the text cannot end it early. */
function code(text: string): string {
  return `<code>${escapeHtml(text.replace(/\s+/g, ' ')).replace(/\|/g, '&#124;')}</code>`;
}

function location(f: Finding): string {
  return code(`${f.evidence.path}:${f.evidence.startLine}`);
}

function compare(a: Finding, b: Finding): number {
  if (a.evidence.path !== b.evidence.path) return a.evidence.path < b.evidence.path ? -1 : 1;
  return a.evidence.startLine - b.evidence.startLine || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0);
}

function table(findings: Finding[], withDecision: boolean): string[] {
  const head = withDecision ? '| Rule | Severity | Decision | Location | Owner | Fix hint |' : '| Rule | Severity | Location | Owner | Fix hint |';
  const rule = withDecision ? '|---|---|---|---|---|---|' : '|---|---|---|---|---|';
  const rows = [...findings].sort(compare).map((f) => {
    const cells = [`${cell(f.ruleId)} — ${cell(f.title)}`, f.severity, ...(withDecision ? [f.decision] : []), location(f), cell(f.owner), cell(f.fixHint)];
    return `| ${cells.join(' | ')} |`;
  });
  return [head, rule, ...rows];
}

function folded(summary: string, body: string[]): string[] {
  return ['<details>', `<summary>${escapeHtml(summary)}</summary>`, '', ...body, '', '</details>'];
}

const VERDICT: Record<ScanReport['summary']['decision'], string> = {
  blocked: 'BLOCKED',
  tickets: 'passed, with tickets',
  clean: 'clean',
};

/** Renders the report as GitHub-flavoured Markdown. */
export function toMarkdown(report: ScanReport): string {
  const s = report.summary;
  const gating = report.findings.filter((f) => gates(f) && f.decision === 'block');
  const otherNew = report.findings.filter((f) => gates(f) && (f.decision === 'ticket' || f.decision === 'report'));
  const known = report.findings.filter((f) => !gates(f) && f.decision !== 'suppressed');
  const suppressed = report.findings.filter((f) => f.decision === 'suppressed');
  const fresh = report.baseline ? 'new ' : '';
  const out: string[] = [`### Sentinel: release gate ${VERDICT[s.decision]}`, ''];
  out.push(
    s.decision === 'blocked'
      ? `${s.blocking} ${fresh}finding(s) at a \`fail_on\` severity block the release.`
      : s.decision === 'tickets'
        ? `No ${fresh}finding blocks the release; ${s.tickets} ${fresh}finding(s) need a ticket.`
        : `No ${fresh}finding at a \`fail_on\` or \`ticket_on\` severity.`,
    '',
  );
  const baseline = describeBaseline(report);
  if (baseline && report.baseline) {
    const commit = report.baseline.commit ? ` at ${code(report.baseline.commit.slice(0, 12))}` : '';
    out.push(`**Baseline** ${code(report.baseline.source)}${commit}: ${baseline}.`, '');
  }
  if (gating.length > 0) out.push(`#### ${report.baseline ? 'New gating findings' : 'Gating findings'}`, '', ...table(gating, false), '');
  if (otherNew.length > 0) out.push(`#### ${report.baseline ? 'Other new findings' : 'Other findings'}`, '', ...table(otherNew, true), '');
  if (known.length > 0) out.push(...folded(`${known.length} finding(s) already in the baseline (not gating)`, table(known, true)), '');
  const absent = report.baseline?.absentFindings ?? [];
  if (absent.length > 0) {
    out.push(...folded(`${absent.length} finding(s) fixed since the baseline`, absent.map((f) => `- ${cell(f.ruleId)} ${f.severity} ${location(f)}`)), '');
  }
  if (suppressed.length > 0) {
    const lines = suppressed.map((f) => `- ${cell(f.ruleId)} ${location(f)}: ${cell(f.suppression?.reason ?? 'suppressed')}`);
    out.push(...folded(`${suppressed.length} suppressed finding(s)`, lines), '');
  }
  if (report.warnings.length > 0) {
    const lines = report.warnings.map((w) => `- ${code(w.line ? `${w.path}:${w.line}` : w.path)} (${cell(w.code)}): ${cell(w.message)}`);
    out.push(...folded(`${report.warnings.length} file(s) not fully scanned`, lines), '');
  }
  if (report.changes) {
    const c = report.changes;
    const deleted = c.deleted.length > 0 ? `; deleted: ${c.deleted.map(code).join(', ')}` : '';
    out.push(`Changed since ${code(c.since)}: ${c.scanned.length} file(s) scanned${deleted}.`, '');
  }
  if (report.policyRoots) {
    out.push('| Policy root | Policy | Gate | Blocking | Tickets | Retest |', '|---|---|---|---|---|---|');
    for (const r of report.policyRoots) {
      out.push(`| ${code(r.root)} | ${r.policyPath ? code(r.policyPath) : 'built-in'} | ${VERDICT[r.summary.decision]} | ${r.summary.blocking} | ${r.summary.tickets} | ${code(r.summary.retest)} |`);
    }
    out.push('');
  }
  out.push(`**Retest:** ${code(s.retest)}`);
  return `${out.join('\n')}\n`;
}
