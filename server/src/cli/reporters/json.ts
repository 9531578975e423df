// Machine-readable CLI output: the whole ScanReport as JSON with a format tag and a fixed key order, so
// that two scans of the same tree give byte-identical files (rules/report.schema.json describes it).
import type { ScanReport } from '../../engine/finding';

/** Bumped when a consumer would have to change: a field removed, renamed or given another meaning. */
export const REPORT_FORMAT = 'sentinel-report/1';

export type JsonReport = { format: typeof REPORT_FORMAT } & ScanReport;

// Key orders follow the record types in engine/finding.ts: identity first, details after. Keys not listed
// (a new field, or the open-ended `fix` data) follow in code-unit order so the output stays deterministic.
const SPAN = ['startLine', 'startColumn', 'endLine', 'endColumn', 'startOffset', 'endOffset'];
const RULE_SUMMARY = ['ruleId', 'category', 'severity', 'title', 'cwe', 'owaspLlm', 'owner', 'releaseDecision', 'fixHint', 'helpUri'];

interface Shape {
  keys: string[];
  children?: Record<string, Shape>;
  /** For arrays of records: the shape of each element. */
  items?: Shape;
}

const TRACE_STEP: Shape = { keys: ['kind', 'path', ...SPAN, 'note'] };
const EVIDENCE: Shape = {
  keys: ['path', ...SPAN, 'nodeType', 'api', 'signal', 'snippet', 'variable', 'value', 'directory', 'mode', 'owner', 'cell', 'cache'],
  children: {
    cell: { keys: ['cell', 'line', 'column'] },
    cache: {
      keys: ['kind', 'root', 'entry', 'member', 'check', 'opcode', 'offset', 'import', 'call', 'line', 'uid', 'rootUid', 'target'],
      children: { call: { keys: ['opcode', 'offset'] } },
    },
  },
};
const FINDING: Shape = {
  keys: [...RULE_SUMMARY, 'confidence', 'decision', 'baselineState', 'suppression', 'fingerprint', 'evidence', 'trace', 'retest', 'fix'],
  children: {
    evidence: EVIDENCE,
    trace: { keys: [], items: TRACE_STEP },
    suppression: { keys: ['kind', 'reason', 'source', 'expires'] },
    fix: { keys: ['kind'] },
  },
};
const SUMMARY: Shape = {
  keys: ['decision', 'blocking', 'tickets', 'suppressed', 'bySeverity', 'retest'],
  children: { bySeverity: { keys: ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'] } },
};
const REPORT: Shape = {
  keys: [
    'format', 'tool', 'roots', 'baseDir', 'policyPath', 'rulesRun', 'filesScanned', 'cancelled', 'cacheTrees', 'changes', 'summary', 'baseline',
    'policyRoots', 'findings', 'warnings',
  ],
  children: {
    tool: { keys: ['name', 'version'] },
    summary: SUMMARY,
    baseline: {
      keys: ['kind', 'source', 'commit', 'new', 'unchanged', 'updated', 'absent', 'absentFindings'],
      children: { absentFindings: { keys: [], items: FINDING } },
    },
    policyRoots: { keys: [], items: { keys: ['root', 'policyPath', 'summary'], children: { summary: SUMMARY } } },
    cacheTrees: { keys: [], items: { keys: ['path', 'kind', 'title', 'entries'] } },
    changes: { keys: ['since', 'commit', 'scanned', 'deleted', 'renamed'], children: { renamed: { keys: [], items: { keys: ['from', 'to'] } } } },
    findings: { keys: [], items: FINDING },
    warnings: { keys: [], items: { keys: ['code', 'path', 'line', 'message'] } },
  },
};

const UNKNOWN: Shape = { keys: [] };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Rebuilds `value` with its keys inserted in the shape's order; JSON.stringify keeps insertion order. */
function ordered(value: unknown, shape: Shape): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v, shape.items ?? UNKNOWN));
  if (!isRecord(value)) return value;
  const known = shape.keys.filter((k) => k in value);
  const rest = Object.keys(value)
    .filter((k) => !shape.keys.includes(k))
    .sort();
  const out: Record<string, unknown> = {};
  for (const key of [...known, ...rest]) out[key] = ordered(value[key], shape.children?.[key] ?? UNKNOWN);
  return out;
}

/** The report as a plain object in output order, for callers that embed it rather than print it. */
export function toJsonReport(report: ScanReport): JsonReport {
  return ordered({ format: REPORT_FORMAT, ...report }, REPORT) as JsonReport;
}

export function toJson(report: ScanReport): string {
  return `${JSON.stringify(toJsonReport(report), null, 2)}\n`;
}
