// `--format junit`: JUnit XML for CI systems that only read test reports. One test suite per rule, one test
// case per rule and file; a case fails when the file has a finding that gates the release (with a baseline:
// a new one). Rules without findings pass as one case; files that could not be analysed are skipped cases.
import { gates } from '../../engine/baseline';
import type { Finding, ScanReport } from '../../engine/finding';

/** XML 1.0 forbids most C0 controls and lone surrogates even as references: such characters become visible escapes. */
function xmlSafe(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    const forbidden = (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || (code >= 0xd800 && code <= 0xdfff) || code === 0xfffe || code === 0xffff;
    out += forbidden ? `\\u{${code.toString(16)}}` : ch;
  }
  return out;
}

function escapeText(text: string): string {
  return xmlSafe(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

function attributes(attrs: Record<string, string | number>): string {
  return Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeAttribute(String(v))}"`)
    .join('');
}

const STATE_NOTE: Record<string, string> = {
  unchanged: 'in the baseline, does not gate',
  updated: 'in the baseline (moved or changed), does not gate',
  absent: 'fixed since the baseline',
};

function describe(f: Finding): string {
  const e = f.evidence;
  const signal = e.signal.trim().replace(/[.\s]+$/, '');
  const state = f.baselineState && STATE_NOTE[f.baselineState] ? ` [${STATE_NOTE[f.baselineState]}]` : '';
  const suppressed = f.decision === 'suppressed' ? ` (suppressed: ${f.suppression?.reason ?? 'by policy'})` : '';
  return [
    `${e.path}:${e.startLine}:${e.startColumn} ${f.ruleId} ${f.severity} ${f.decision}${suppressed}${state}`,
    `  ${signal}. ${f.fixHint}`,
    `  owner: ${f.owner}`,
    `  fingerprint: ${f.fingerprint}`,
    `  retest: ${f.retest}`,
  ].join('\n');
}

interface Case {
  file: string;
  findings: Finding[];
}

function renderCase(rule: string, c: Case): { xml: string; failed: boolean } {
  const failing = c.findings.filter((f) => f.baselineState !== 'absent' && f.decision === 'block' && gates(f));
  const others = c.findings.filter((f) => !failing.includes(f));
  const head = `    <testcase${attributes({ classname: rule, name: c.file, file: c.file })}`;
  if (failing.length === 0 && others.length === 0) return { xml: `${head}/>`, failed: false };
  const body: string[] = [];
  if (failing.length > 0) {
    const [first] = failing;
    const message = `${failing.length} finding(s) block the release: ${first!.title} at line ${first!.evidence.startLine}`;
    body.push(`      <failure${attributes({ message, type: first!.severity })}>${escapeText(failing.map(describe).join('\n\n'))}</failure>`);
  }
  if (others.length > 0) body.push(`      <system-out>${escapeText(others.map(describe).join('\n\n'))}</system-out>`);
  return { xml: `${head}>\n${body.join('\n')}\n    </testcase>`, failed: failing.length > 0 };
}

/** The report as a JUnit XML document. */
export function toJunit(report: ScanReport): string {
  const absent = report.baseline?.absentFindings ?? [];
  const all = [...report.findings, ...absent];
  const rules = [...report.rulesRun];
  for (const f of all) if (!rules.includes(f.ruleId)) rules.push(f.ruleId);
  rules.sort();
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let skipped = 0;
  for (const rule of rules) {
    const byFile = new Map<string, Finding[]>();
    for (const f of all.filter((x) => x.ruleId === rule)) byFile.set(f.evidence.path, [...(byFile.get(f.evidence.path) ?? []), f]);
    const cases: Case[] = [...byFile.keys()].sort().map((file) => ({ file, findings: byFile.get(file)! }));
    const rendered = cases.length > 0 ? cases.map((c) => renderCase(rule, c)) : [renderCase(rule, { file: `${report.filesScanned} file(s) scanned`, findings: [] })];
    const failed = rendered.filter((r) => r.failed).length;
    tests += rendered.length;
    failures += failed;
    suites.push(
      `  <testsuite${attributes({ name: rule, tests: rendered.length, failures: failed, errors: 0, skipped: 0 })}>\n${rendered.map((r) => r.xml).join('\n')}\n  </testsuite>`,
    );
  }
  if (report.warnings.length > 0) {
    const cases = report.warnings.map(
      (w) =>
        `    <testcase${attributes({ classname: 'sentinel.inputs', name: w.path, file: w.path })}>\n      <skipped${attributes({ message: `${w.line ? `line ${w.line}: ` : ''}${w.message} [${w.code}]` })}/>\n    </testcase>`,
    );
    tests += cases.length;
    skipped += cases.length;
    suites.push(
      `  <testsuite${attributes({ name: 'sentinel.inputs', tests: cases.length, failures: 0, errors: 0, skipped: cases.length })}>\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  const root = attributes({ name: `Sentinel ${report.tool.version}: release gate ${report.summary.decision}`, tests, failures, errors: 0, skipped });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites${root}>\n${suites.join('\n')}\n</testsuites>\n`;
}
