// SARIF 2.1.0 output for GitHub code scanning and other SARIF viewers: rule metadata from the catalog,
// one result per finding (suppressed ones carry `suppressions`), and input warnings as notifications.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BaselineState, CacheEvidence, Finding, ScanReport, ScanWarning, Severity, Span } from '../../engine/finding';
import type { Catalog, RuleCard } from '../../engine/rules/catalog';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
export const SENTINEL_INFORMATION_URI = 'https://github.com/eresus-security/sentinel';
/** The name of the partial fingerprint; bump the version if the fingerprint algorithm changes. */
export const FINGERPRINT_KEY = 'sentinel/v1';
const SRCROOT = '%SRCROOT%';

export type SarifLevel = 'error' | 'warning' | 'note';

export interface SarifMessage {
  text: string;
  markdown?: string;
}

export interface SarifRegion {
  startLine: number;
  startColumn: number;
  endLine?: number;
  endColumn?: number;
  snippet?: { text: string };
}

export interface SarifArtifactLocation {
  uri: string;
  uriBaseId?: string;
}

export interface SarifLocation {
  physicalLocation: { artifactLocation: SarifArtifactLocation; region?: SarifRegion };
  message?: SarifMessage;
}

export interface SarifReportingDescriptor {
  id: string;
  name: string;
  shortDescription: SarifMessage;
  fullDescription: SarifMessage;
  help: SarifMessage;
  helpUri: string;
  defaultConfiguration: { level: SarifLevel };
  properties: {
    tags: string[];
    'security-severity': string;
    precision: 'high' | 'medium' | 'low';
    cwe: string;
    owaspLlm: string;
    owner: string;
    releaseDecision: string;
    category: string;
  };
}

export interface SarifThreadFlowLocation {
  location: SarifLocation;
  properties: { step: string };
}

export interface SarifSuppression {
  kind: 'inSource' | 'external';
  status: 'accepted';
  justification: string;
  properties?: { source?: string; expires?: string };
}

export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  /** Only for findings fixed since the baseline: the rule was evaluated and the problem is gone. */
  kind?: 'pass';
  level: SarifLevel | 'none';
  message: SarifMessage;
  locations: SarifLocation[];
  partialFingerprints: Record<string, string>;
  codeFlows?: { threadFlows: { locations: SarifThreadFlowLocation[] }[] }[];
  suppressions?: SarifSuppression[];
  baselineState?: BaselineState;
  properties: {
    confidence: string;
    decision: string;
    owner: string;
    retest: string;
    releaseDecision: string;
    cell?: { cell: number; line: number; column: number };
    /** Compiled-cache findings: the cache kind, entry, archive member, opcode and its byte offset. */
    cache?: CacheEvidence;
  };
}

export interface SarifNotification {
  level: 'warning';
  message: SarifMessage;
  descriptor: { id: string };
  locations: SarifLocation[];
}

export interface SarifRun {
  tool: {
    driver: {
      name: string;
      version: string;
      semanticVersion?: string;
      informationUri: string;
      rules: SarifReportingDescriptor[];
    };
  };
  originalUriBaseIds: Record<string, { uri: string; description?: SarifMessage }>;
  invocations: {
    executionSuccessful: boolean;
    toolExecutionNotifications?: SarifNotification[];
  }[];
  columnKind: 'utf16CodeUnits';
  /** Identifies the baseline the results' `baselineState` refers to (derived from its source). */
  baselineGuid?: string;
  results: SarifResult[];
  properties: {
    releaseGate: ScanReport['summary']['decision'];
    summary: ScanReport['summary'];
    filesScanned: number;
    policyPath?: string;
    baseline?: Omit<NonNullable<ScanReport['baseline']>, 'absentFindings'>;
    policyRoots?: ScanReport['policyRoots'];
    changes?: ScanReport['changes'];
  };
}

export interface SarifOptions {
  /**
   * Leave findings fixed since the baseline out of `results`. GitHub code scanning ignores `baselineState`
   * and `kind`, and would open an alert for each of them.
   */
  omitAbsent?: boolean;
}

export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: SarifRun[];
}

const LEVEL: Record<Severity, SarifLevel> = {
  CRITICAL: 'error',
  HIGH: 'error',
  MEDIUM: 'warning',
  LOW: 'note',
  INFO: 'note',
};

// GitHub maps security-severity to its own bands (>= 9.0 critical, >= 7.0 high, >= 4.0 medium, else low).
const SECURITY_SEVERITY: Record<Severity, string> = {
  CRITICAL: '9.5',
  HIGH: '8.0',
  MEDIUM: '5.5',
  LOW: '3.0',
  INFO: '1.0',
};

// A rule that rarely misfires is a precise one: GitHub's precision is the inverse of our FP risk.
const PRECISION: Record<RuleCard['fpRisk'], 'high' | 'medium' | 'low'> = {
  LOW: 'high',
  MEDIUM: 'medium',
  HIGH: 'low',
};

/**
 * "Dynamic eval or compile" → "DynamicEvalOrCompile", "Writable JIT Cache" → "WritableJitCache": the
 * validator (SARIF2012) does not count a run of capitals as Pascal case, so acronyms are folded too.
 */
export function pascalCase(title: string): string {
  return title
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase())
    .join('');
}

/** GitHub links a tag of this exact form to the CWE entry. */
function cweTag(cwe: string): string {
  return `external/cwe/${cwe.toLowerCase()}`;
}

/** "LLM01 — Prompt Injection" → "LLM01". */
function owaspId(owaspLlm: string): string {
  return /^LLM\d{2}/.exec(owaspLlm)?.[0] ?? owaspLlm;
}

function isSemver(version: string): boolean {
  return /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(version);
}

/** Relative paths become relative URI references: each segment percent-encoded, so spaces, `#`, `%` or a `c:` prefix cannot change meaning. */
function artifactLocation(p: string): SarifArtifactLocation {
  if (path.isAbsolute(p)) return { uri: pathToFileURL(p).href };
  // Report paths use `/`; a backslash is part of a Linux file name (`a\\b.py`), encoded as %5C.
  const segments = p.split('/').filter((s) => s !== '' && s !== '.');
  return { uri: segments.map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
}

function baseUri(baseDir: string): string {
  const href = pathToFileURL(baseDir).href;
  return href.endsWith('/') ? href : `${href}/`;
}

/** SARIF rejects an end before the start; such a span is reported by its start only rather than dropped. */
function region(span: Span, snippet?: string): SarifRegion {
  const r: SarifRegion = { startLine: span.startLine, startColumn: span.startColumn };
  const endOk =
    span.endLine > span.startLine || (span.endLine === span.startLine && span.endColumn >= span.startColumn);
  if (endOk) {
    r.endLine = span.endLine;
    r.endColumn = span.endColumn;
  }
  if (snippet) r.snippet = { text: snippet };
  return r;
}

function fence(code: string): string {
  // A fence longer than any backtick run inside the example, so the example cannot close it.
  const longest = Math.max(2, ...(code.match(/`+/g) ?? []).map((m) => m.length));
  const ticks = '`'.repeat(longest + 1);
  return `${ticks}\n${code.replace(/\n+$/, '')}\n${ticks}`;
}

function helpFor(card: RuleCard): SarifMessage {
  const text = [
    `${card.id} (${card.severity}, ${card.cwe}, ${card.owaspLlm}): ${card.title}`,
    card.description,
    `Why it matters: ${card.whyItMatters}`,
    `When it fires: ${card.whenItFires}`,
    `How to fix: ${card.howToFix}`,
    `Fix hint: ${card.fixHint}`,
    `Owner: ${card.owner}`,
    `Release decision: ${card.releaseDecision}`,
    `False positives: ${card.falsePositiveNotes}`,
    `Retest: ${card.retest}`,
    `Bad example:\n${card.examples.bad.replace(/\n+$/, '')}`,
    `Good example:\n${card.examples.good.replace(/\n+$/, '')}`,
  ].join('\n\n');
  const markdown = [
    `**${card.id}** · ${card.severity} · ${card.cwe} · ${card.owaspLlm}`,
    card.description,
    `## Why it matters\n\n${card.whyItMatters}`,
    `## When it fires\n\n${card.whenItFires}`,
    `## How to fix\n\n${card.howToFix}\n\n**Fix hint:** ${card.fixHint}`,
    `## Example\n\nBad:\n\n${fence(card.examples.bad)}\n\nGood:\n\n${fence(card.examples.good)}`,
    `## Triage\n\n- **Owner:** ${card.owner}\n- **Release decision:** ${card.releaseDecision}\n- **False positives:** ${card.falsePositiveNotes}`,
    `## Retest\n\n${fence(card.retest)}`,
    `[Rule documentation](${card.helpUri})`,
  ].join('\n\n');
  return { text, markdown };
}

function descriptor(card: RuleCard): SarifReportingDescriptor {
  return {
    id: card.id,
    name: pascalCase(card.title),
    shortDescription: { text: card.title },
    fullDescription: { text: card.description },
    help: helpFor(card),
    helpUri: card.helpUri,
    defaultConfiguration: { level: LEVEL[card.severity] },
    properties: {
      tags: ['security', card.category, cweTag(card.cwe), owaspId(card.owaspLlm)],
      'security-severity': SECURITY_SEVERITY[card.severity],
      precision: PRECISION[card.fpRisk],
      cwe: card.cwe,
      owaspLlm: card.owaspLlm,
      owner: card.owner,
      releaseDecision: card.releaseDecision,
      category: card.category,
    },
  };
}

/**
 * A finding whose rule is not in the catalog (a custom rules folder at scan time) still needs a rule
 * entry: its own rule metadata fills one, with the catalog-only texts left at what the finding knows.
 */
function cardFromFinding(f: Finding): RuleCard {
  return {
    id: f.ruleId,
    category: f.category,
    severity: f.severity,
    title: f.title,
    cwe: f.cwe,
    owaspLlm: f.owaspLlm,
    fpRisk: 'MEDIUM',
    owner: f.owner,
    releaseDecision: f.releaseDecision,
    fixHint: f.fixHint,
    description: f.title,
    whyItMatters: f.title,
    whenItFires: f.title,
    evidenceFormat: f.title,
    falsePositiveNotes: 'See the rule documentation.',
    howToFix: f.fixHint,
    retest: f.retest,
    helpUri: f.helpUri,
    examples: { bad: '', good: '' },
  };
}

function message(f: Finding): string {
  const signal = f.evidence.signal.trim().replace(/[.\s]+$/, '');
  return `${f.title}: ${signal}. ${f.fixHint}`;
}

function suppression(f: Finding): SarifSuppression[] | undefined {
  // The decision is authoritative: a suppression that no longer applies (an expired allowlist entry) may
  // still be attached for the record, but the result must then show as open.
  if (f.decision !== 'suppressed') return undefined;
  const s = f.suppression;
  const out: SarifSuppression = {
    kind: s?.kind === 'inline' ? 'inSource' : 'external',
    status: 'accepted',
    justification: s?.reason || 'suppressed by policy',
  };
  if (s?.source !== undefined || s?.expires !== undefined) {
    out.properties = {};
    if (s.source !== undefined) out.properties.source = s.source;
    if (s.expires !== undefined) out.properties.expires = s.expires;
  }
  return [out];
}

function result(f: Finding, ruleIndex: number): SarifResult {
  const r: SarifResult = {
    ruleId: f.ruleId,
    ruleIndex,
    level: LEVEL[f.severity],
    message: { text: message(f) },
    locations: [
      {
        physicalLocation: {
          artifactLocation: artifactLocation(f.evidence.path),
          region: region(f.evidence, f.evidence.snippet),
        },
      },
    ],
    partialFingerprints: { [FINGERPRINT_KEY]: f.fingerprint },
    properties: {
      confidence: f.confidence,
      decision: f.decision,
      owner: f.owner,
      retest: f.retest,
      releaseDecision: f.releaseDecision,
    },
  };
  if (f.evidence.cell) r.properties.cell = { ...f.evidence.cell };
  if (f.evidence.cache) r.properties.cache = { ...f.evidence.cache };
  if (f.trace.length > 0) {
    r.codeFlows = [
      {
        threadFlows: [
          {
            locations: f.trace.map((step) => ({
              location: {
                physicalLocation: { artifactLocation: artifactLocation(step.path), region: region(step) },
                message: { text: step.note },
              },
              properties: { step: step.kind },
            })),
          },
        ],
      },
    ];
  }
  const suppressions = suppression(f);
  if (suppressions) r.suppressions = suppressions;
  if (f.baselineState) r.baselineState = f.baselineState;
  if (f.baselineState === 'absent') {
    r.kind = 'pass';
    r.level = 'none';
    delete r.suppressions;
  }
  return r;
}

/** A stable GUID (RFC 4122 layout) for the baseline, so two scans against the same baseline name it alike. */
function baselineGuid(b: NonNullable<ScanReport['baseline']>): string {
  const hex = createHash('sha256').update(`${b.kind}\0${b.source}\0${b.commit ?? ''}`).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function notification(w: ScanWarning): SarifNotification {
  const physicalLocation: SarifLocation['physicalLocation'] = { artifactLocation: artifactLocation(w.path) };
  if (w.line !== undefined) physicalLocation.region = { startLine: w.line, startColumn: 1 };
  return {
    level: 'warning',
    message: { text: `${w.path}: ${w.message}` },
    descriptor: { id: w.code },
    locations: [{ physicalLocation }],
  };
}

/** The report as a SARIF log; `catalog` supplies the rule texts (help, examples, FP risk) that findings do not carry. */
export function toSarif(report: ScanReport, catalog: Catalog, options: SarifOptions = {}): SarifLog {
  const absent = options.omitAbsent ? [] : (report.baseline?.absentFindings ?? []);
  const all = [...report.findings, ...absent];
  const ruleIds = [...report.rulesRun];
  for (const f of all) if (!ruleIds.includes(f.ruleId)) ruleIds.push(f.ruleId);
  const cards = ruleIds.map((id) => catalog.byId.get(id) ?? cardFromFinding(all.find((f) => f.ruleId === id)!));
  const ruleIndex = new Map(ruleIds.map((id, i) => [id, i]));
  const notifications = report.warnings.map(notification);
  const driver: SarifRun['tool']['driver'] = {
    name: 'Sentinel',
    version: report.tool.version,
    ...(isSemver(report.tool.version) ? { semanticVersion: report.tool.version } : {}),
    informationUri: SENTINEL_INFORMATION_URI,
    rules: cards.map(descriptor),
  };
  const run: SarifRun = {
    tool: { driver },
    originalUriBaseIds: {
      [SRCROOT]: { uri: baseUri(report.baseDir), description: { text: 'The folder that finding paths are relative to.' } },
    },
    invocations: [
      notifications.length > 0
        ? { executionSuccessful: true, toolExecutionNotifications: notifications }
        : { executionSuccessful: true },
    ],
    columnKind: 'utf16CodeUnits',
    ...(report.baseline ? { baselineGuid: baselineGuid(report.baseline) } : {}),
    results: all.map((f) => result(f, ruleIndex.get(f.ruleId)!)),
    properties: {
      releaseGate: report.summary.decision,
      summary: report.summary,
      filesScanned: report.filesScanned,
    },
  };
  if (report.policyPath !== undefined) run.properties.policyPath = report.policyPath;
  if (report.baseline) {
    const { kind, source, commit, new: fresh, unchanged, updated, absent: fixed } = report.baseline;
    run.properties.baseline = { kind, source, ...(commit ? { commit } : {}), new: fresh, unchanged, updated, absent: fixed };
  }
  if (report.policyRoots) run.properties.policyRoots = report.policyRoots;
  if (report.changes) run.properties.changes = report.changes;
  return { $schema: SARIF_SCHEMA, version: '2.1.0', runs: [run] };
}

export function toSarifString(report: ScanReport, catalog: Catalog, options: SarifOptions = {}): string {
  return `${JSON.stringify(toSarif(report, catalog, options), null, 2)}\n`;
}
