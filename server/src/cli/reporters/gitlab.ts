// `--format gitlab`: GitLab's SAST security report (schema 15.0.7, `artifacts:reports:sast`) for the merge
// request widget and the vulnerability report. GitLab compares branches itself, so every current unsuppressed
// finding is a vulnerability; suppressed ones and input warnings become scan messages.
import { createHash } from 'node:crypto';
import type { Finding, ScanReport, Severity } from '../../engine/finding';
import type { Catalog } from '../../engine/rules/catalog';
import { SENTINEL_INFORMATION_URI } from './sarif';

export const GITLAB_SAST_VERSION = '15.0.7';
const SCHEMA_URL = `https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v${GITLAB_SAST_VERSION}/dist/sast-report-format.json`;

// Field limits of the schema: a report that breaks one is rejected whole by GitLab.
const MAX_NAME = 255;
const MAX_DESCRIPTION = 1_048_576;
const MAX_SOLUTION = 7000;

export interface GitlabTimes {
  start: Date;
  end: Date;
}

interface GitlabText {
  type: 'text';
  name: string;
  value: string;
}

export interface GitlabIdentifier {
  type: string;
  name: string;
  value: string;
  url?: string;
}

export interface GitlabVulnerability {
  id: string;
  name: string;
  description: string;
  severity: 'Critical' | 'High' | 'Medium' | 'Low' | 'Info';
  solution: string;
  location: { file: string; start_line: number; end_line: number };
  identifiers: GitlabIdentifier[];
  links?: { name: string; url: string }[];
  details: Record<string, GitlabText>;
}

interface GitlabComponent {
  id: string;
  name: string;
  version: string;
  url: string;
  vendor: { name: string };
}

export interface GitlabSastReport {
  schema: string;
  version: string;
  scan: {
    analyzer: GitlabComponent;
    scanner: GitlabComponent;
    type: 'sast';
    start_time: string;
    end_time: string;
    status: 'success' | 'failure';
    messages: { level: 'info' | 'warn' | 'fatal'; value: string }[];
  };
  vulnerabilities: GitlabVulnerability[];
}

const SEVERITY: Record<Severity, GitlabVulnerability['severity']> = {
  CRITICAL: 'Critical',
  HIGH: 'High',
  MEDIUM: 'Medium',
  LOW: 'Low',
  INFO: 'Info',
};

/** GitLab's time format: UTC, to the second, without a zone (`2024-05-01T12:00:00`). */
function gitlabTime(d: Date): string {
  return d.toISOString().slice(0, 19);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A UUID-shaped ID that stays the same for the same finding in the same file, as GitLab recommends UUIDs. */
function vulnerabilityId(f: Finding): string {
  const hex = createHash('sha256').update(`${f.ruleId}\0${f.fingerprint}\0${f.evidence.path}`).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function identifiers(f: Finding): GitlabIdentifier[] {
  // The first identifier is GitLab's primary one, used to track the vulnerability across commits.
  const ids: GitlabIdentifier[] = [{ type: 'sentinel_rule_id', name: `Sentinel ${f.ruleId}`, value: f.ruleId, ...(f.helpUri ? { url: f.helpUri } : {}) }];
  const cwe = /^CWE-(\d+)$/.exec(f.cwe);
  if (cwe) ids.push({ type: 'cwe', name: f.cwe, value: cwe[1]!, url: `https://cwe.mitre.org/data/definitions/${cwe[1]}.html` });
  return ids;
}

function text(name: string, value: string): GitlabText {
  return { type: 'text', name, value };
}

function vulnerability(f: Finding, catalog: Catalog | undefined): GitlabVulnerability {
  const card = catalog?.byId.get(f.ruleId);
  const signal = f.evidence.signal.trim().replace(/[.\s]+$/, '');
  const description = [card?.description ?? f.title, `Observed: ${signal}.`, f.evidence.snippet ? `Code: ${f.evidence.snippet}` : '']
    .filter(Boolean)
    .join('\n\n');
  const solution = card ? `${f.fixHint} ${card.howToFix}` : f.fixHint;
  const details: Record<string, GitlabText> = {
    owner: text('Owner', f.owner),
    decision: text('Release decision', `${f.decision}: ${f.releaseDecision}`),
    owasp_llm: text('OWASP LLM', f.owaspLlm),
    confidence: text('Confidence', f.confidence),
    fingerprint: text('Sentinel fingerprint', f.fingerprint),
    retest: text('Retest', f.retest),
  };
  if (f.baselineState) details.baseline = text('Baseline', f.baselineState);
  return {
    id: vulnerabilityId(f),
    name: cut(`${f.title} (${f.ruleId})`, MAX_NAME),
    description: cut(description, MAX_DESCRIPTION),
    severity: SEVERITY[f.severity],
    solution: cut(solution || f.title, MAX_SOLUTION),
    location: { file: f.evidence.path, start_line: f.evidence.startLine, end_line: Math.max(f.evidence.endLine, f.evidence.startLine) },
    identifiers: identifiers(f),
    ...(f.helpUri ? { links: [{ name: 'Rule documentation', url: f.helpUri }] } : {}),
    details,
  };
}

/** The report as a GitLab SAST report object; `times` are when the scan started and ended. */
export function toGitlabSast(report: ScanReport, times: GitlabTimes, catalog?: Catalog): GitlabSastReport {
  const component: GitlabComponent = {
    id: 'sentinel',
    name: 'Sentinel',
    version: report.tool.version,
    url: SENTINEL_INFORMATION_URI,
    vendor: { name: 'Eresus Security' },
  };
  const messages: GitlabSastReport['scan']['messages'] = [];
  for (const f of report.findings.filter((x) => x.decision === 'suppressed')) {
    messages.push({ level: 'info', value: `${f.ruleId} at ${f.evidence.path}:${f.evidence.startLine} is suppressed: ${f.suppression?.reason ?? 'by policy'}` });
  }
  for (const w of report.warnings) messages.push({ level: 'warn', value: `${w.path}${w.line ? `:${w.line}` : ''}: ${w.message} [${w.code}]` });
  return {
    schema: SCHEMA_URL,
    version: GITLAB_SAST_VERSION,
    scan: {
      analyzer: component,
      scanner: component,
      type: 'sast',
      start_time: gitlabTime(times.start),
      end_time: gitlabTime(times.end),
      status: 'success',
      messages,
    },
    vulnerabilities: report.findings.filter((f) => f.decision !== 'suppressed').map((f) => vulnerability(f, catalog)),
  };
}

export function toGitlabSastString(report: ScanReport, times: GitlabTimes, catalog?: Catalog): string {
  return `${JSON.stringify(toGitlabSast(report, times, catalog), null, 2)}\n`;
}
