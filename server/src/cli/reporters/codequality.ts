// `--format codequality`: GitLab Code Quality (a subset of the Code Climate issue format) for the merge
// request widget, which shows the issues a branch adds or resolves by comparing their fingerprints.
import { createHash } from 'node:crypto';
import type { Finding, ScanReport, Severity } from '../../engine/finding';

export interface CodeQualityIssue {
  type: 'issue';
  check_name: string;
  description: string;
  categories: string[];
  severity: 'info' | 'minor' | 'major' | 'critical' | 'blocker';
  fingerprint: string;
  location: { path: string; lines: { begin: number; end: number } };
}

const SEVERITY: Record<Severity, CodeQualityIssue['severity']> = {
  CRITICAL: 'blocker',
  HIGH: 'critical',
  MEDIUM: 'major',
  LOW: 'minor',
  INFO: 'info',
};

/**
 * Unique within a report and stable while the finding stays in its file: Sentinel's fingerprint ignores
 * lines but not which file, and two identical snippets in different files must not collapse into one issue.
 */
function issueFingerprint(f: Finding): string {
  return createHash('sha256').update(`${f.ruleId}\0${f.fingerprint}\0${f.evidence.path}`).digest('hex').slice(0, 32);
}

function issue(f: Finding): CodeQualityIssue {
  const signal = f.evidence.signal.trim().replace(/[.\s]+$/, '');
  return {
    type: 'issue',
    check_name: f.ruleId,
    description: `${f.ruleId} ${f.severity}: ${f.title}. ${signal}. ${f.fixHint}`,
    categories: ['Security'],
    severity: SEVERITY[f.severity],
    fingerprint: issueFingerprint(f),
    location: { path: f.evidence.path, lines: { begin: f.evidence.startLine, end: Math.max(f.evidence.endLine, f.evidence.startLine) } },
  };
}

/** Every current unsuppressed finding, in path and line order (suppressed ones are accepted risk, not issues). */
export function toCodeQuality(report: ScanReport): CodeQualityIssue[] {
  return report.findings
    .filter((f) => f.decision !== 'suppressed')
    .sort((a, b) => (a.evidence.path < b.evidence.path ? -1 : a.evidence.path > b.evidence.path ? 1 : a.evidence.startLine - b.evidence.startLine))
    .map(issue);
}

export function toCodeQualityString(report: ScanReport): string {
  return `${JSON.stringify(toCodeQuality(report), null, 2)}\n`;
}
