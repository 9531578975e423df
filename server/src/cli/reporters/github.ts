// `--format github`: GitHub Actions workflow commands (`::error file=…,line=…::…`) for the findings that gate,
// so they show as annotations on the pull request's diff. With a baseline, only new findings are annotated.
// Files the scan could not fully check are warning annotations after them.
import * as path from 'node:path';
import { gates } from '../../engine/baseline';
import type { Decision, Finding, ScanReport, ScanWarning } from '../../engine/finding';
import { visible } from './visible';

export interface GithubOptions {
  /** GITHUB_WORKSPACE: annotation paths must be relative to it; report paths are relative to baseDir. */
  workspace?: string;
}

const COMMAND: Record<Exclude<Decision, 'suppressed'>, 'error' | 'warning' | 'notice'> = {
  block: 'error',
  ticket: 'warning',
  report: 'notice',
};

/**
 * Workflow-command data: `%`, CR and LF are escaped, so a message can never start a second command; other control
 * characters and bidi overrides from scanned files are shown as `\u{…}` (visible.ts), never written to the log raw.
 */
function escapeData(text: string): string {
  return visible(text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A'));
}

/** Property values additionally escape `:` and `,`, which separate the properties. */
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function annotationPath(f: Finding, report: ScanReport, workspace: string | undefined): string {
  if (!workspace) return f.evidence.path;
  const rel = path.relative(path.resolve(workspace), path.resolve(report.baseDir, f.evidence.path));
  return rel.startsWith('..') || path.isAbsolute(rel) ? f.evidence.path : rel.split(path.sep).join('/');
}

function annotation(f: Finding, report: ScanReport, workspace: string | undefined): string {
  const e = f.evidence;
  const properties = [
    `file=${escapeProperty(annotationPath(f, report, workspace))}`,
    `line=${e.startLine}`,
    `endLine=${e.endLine}`,
    // GitHub only honours columns on single-line annotations.
    ...(e.startLine === e.endLine ? [`col=${e.startColumn}`, `endColumn=${e.endColumn}`] : []),
    `title=${escapeProperty(`${f.ruleId} ${f.severity}: ${f.title}`)}`,
  ].join(',');
  const signal = e.signal.trim().replace(/[.\s]+$/, '');
  const message = `${signal}. ${f.fixHint} Owner: ${f.owner}. Retest: ${f.retest}`;
  return `::${COMMAND[f.decision as Exclude<Decision, 'suppressed'>]} ${properties}::${escapeData(message)}`;
}

/**
 * A file Sentinel could not read or fully check (binary, too large, a parse error, a refused cache): a
 * warning annotation, so that a gap in the scan shows on the pull request instead of passing in silence.
 */
function warningAnnotation(w: ScanWarning, report: ScanReport, workspace: string | undefined): string {
  let file = w.path;
  if (workspace && !path.isAbsolute(w.path)) {
    const rel = path.relative(path.resolve(workspace), path.resolve(report.baseDir, w.path));
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) file = rel.split(path.sep).join('/');
  }
  const properties = [`file=${escapeProperty(file)}`, ...(w.line ? [`line=${w.line}`] : []), `title=${escapeProperty(`Sentinel: ${w.code}`)}`].join(',');
  return `::warning ${properties}::${escapeData(`${w.path} ${w.message}`)}`;
}

/**
 * One workflow command per unsuppressed finding that gates, in path and line order, then one warning per
 * file the scan could not fully check (after the findings: GitHub shows a limited number per type).
 */
export function toGithub(report: ScanReport, options: GithubOptions = {}): string {
  const shown = report.findings
    .filter((f) => f.decision !== 'suppressed' && gates(f))
    .sort((a, b) => (a.evidence.path < b.evidence.path ? -1 : a.evidence.path > b.evidence.path ? 1 : a.evidence.startLine - b.evidence.startLine));
  return [...shown.map((f) => annotation(f, report, options.workspace)), ...report.warnings.map((w) => warningAnnotation(w, report, options.workspace))]
    .map((line) => `${line}\n`)
    .join('');
}
