// The one record type every face of Sentinel reports: a finding with its rule metadata, evidence,
// trace, fingerprint and policy outcome, plus the scan report that collects findings and warnings.

import type { CacheEvidence, CacheTree } from './cacheTrees';

export type { CacheEvidence, CacheTree };

export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFO';
export const SEVERITIES: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'];

/** `high`: an external source reaches the sink (a trace is attached); `medium`: a non-literal value of unknown origin. */
export type Confidence = 'high' | 'medium' | 'low';

/** What the policy decided for one finding: block the release, open a ticket, report only, or suppressed. */
export type Decision = 'block' | 'ticket' | 'report' | 'suppressed';

export type LanguageId =
  | 'python'
  | 'javascript'
  | 'typescript'
  | 'tsx'
  | 'cuda'
  | 'shell'
  | 'dockerfile'
  | 'dotenv'
  | 'yaml'
  | 'notebook';

/**
 * A place in a scanned file. Lines and columns are 1-based; columns count UTF-16 code units (what
 * JavaScript strings, LSP's default and SARIF's default `columnKind` use). `startOffset`/`endOffset`
 * are 0-based UTF-16 offsets into the decoded text. Conversion to other encodings happens in the faces.
 */
export interface Span {
  startLine: number;
  startColumn: number;
  endLine: number;
  endColumn: number;
  startOffset: number;
  endOffset: number;
}

/** For notebooks: which code cell (0-based among all cells) and the 1-based line inside it. */
export interface CellRef {
  cell: number;
  line: number;
  column: number;
}

export interface TraceStep extends Span {
  path: string;
  /** What happens at this step: "request data read here", "assigned to `kernel`", "reaches compile()". */
  note: string;
  kind: 'source' | 'step' | 'sink';
}

export interface Evidence extends Span {
  /** Path relative to the scan root, with forward slashes. */
  path: string;
  /** The tree-sitter node type of the sink or assignment (`call`, `call_expression`, `env_instruction`…). */
  nodeType: string;
  /** The source text of the flagged construct (first 300 characters, whole lines trimmed). */
  snippet: string;
  /** The observed signal in words: "eval() called with `expr`, a parameter". */
  signal: string;
  /** The dynamic API that was matched, fully qualified where imports allow (`builtins.eval`, `cupy.RawKernel`). */
  api?: string;
  /** Cache findings: the variable and the value it is set to. */
  variable?: string;
  value?: string;
  /** Directory findings: the directory and its permission bits (octal string such as "0777") and owner. */
  directory?: string;
  mode?: string;
  owner?: string;
  cell?: CellRef;
  /** Findings inside a compiled cache: which cache, entry, archive member, opcode and byte offset. */
  cache?: CacheEvidence;
}

export interface Suppression {
  kind: 'inline' | 'policy';
  reason: string;
  /** For policy entries: where the entry lives (`sentinel-policy.yml`, index) and when it expires. */
  source?: string;
  expires?: string;
}

/** Rule metadata copied onto every finding so that a finding is an actionable record on its own. */
export interface RuleSummary {
  ruleId: string;
  category: string;
  severity: Severity;
  title: string;
  cwe: string;
  owaspLlm: string;
  owner: string;
  releaseDecision: string;
  fixHint: string;
  helpUri: string;
}

export interface Finding extends RuleSummary {
  confidence: Confidence;
  evidence: Evidence;
  /** Source-to-sink steps, empty when no external source is known. */
  trace: TraceStep[];
  /**
   * Stable identity: hash of rule ID, enclosing scope name, normalised snippet and occurrence index. It
   * ignores line numbers and the path, so adding lines above or moving the file keeps it.
   */
  fingerprint: string;
  retest: string;
  decision: Decision;
  suppression?: Suppression;
  /** What a quick fix needs, filled by the check (e.g. `{ fix: 'operator-map' }`). */
  fix?: { kind: string; [key: string]: unknown };
  /** Set only when the scan was compared with a baseline (`--baseline`, `--baseline-ref`); only `new` gates. */
  baselineState?: BaselineState;
}

/**
 * How a finding compares with a baseline, as SARIF's `result.baselineState`: `new` (not in the baseline),
 * `unchanged` (same fingerprint, file and evidence), `updated` (same finding, but its file moved or its
 * evidence changed) and `absent` (in the baseline, gone now: fixed or deleted).
 */
export type BaselineState = 'new' | 'unchanged' | 'updated' | 'absent';

export type WarningCode =
  | 'unreadable'
  | 'binary'
  | 'too-large'
  | 'not-utf8'
  | 'parse-error'
  | 'symlink-outside-root'
  | 'symlink-loop'
  | 'not-regular-file'
  | 'bad-notebook'
  | 'policy-expired-allowlist'
  | 'incomplete-allow-comment'
  | 'internal-error'
  /** The result cache folder was refused (others could write it, a symlink, not ours) or unusable; its path is the folder. */
  | 'cache-refused';

/** A problem with one input that did not stop the scan. Always names the file and the reason. */
export interface ScanWarning {
  code: WarningCode;
  path: string;
  message: string;
  line?: number;
}

export interface ScanReport {
  tool: { name: 'sentinel'; version: string };
  /** Absolute roots that were scanned; finding paths are relative to `baseDir`. */
  roots: string[];
  baseDir: string;
  rulesRun: string[];
  policyPath?: string;
  findings: Finding[];
  warnings: ScanWarning[];
  filesScanned: number;
  /** Set when the scan was stopped before every file was read (the language server's cancel button). */
  cancelled?: boolean;
  /** Compiled caches recognised under the roots, with their kind, so a user sees what was looked at. */
  cacheTrees?: CacheTree[];
  /** The release gate. With a baseline it counts only `new` findings. */
  summary: ReportSummary;
  /** Set when findings were compared with a baseline: where it came from, the counts and the absent findings. */
  baseline?: BaselineSummary;
  /** One gate per policy file, when the scanned files fall under more than one (a monorepo). */
  policyRoots?: PolicyRootSummary[];
  /** Set by `--changed-since`: what changed since the ref, so deleted and renamed files are reported as such. */
  changes?: ChangeSet;
}

export interface BaselineSummary {
  /** `file`: a saved JSON or SARIF report; `git`: the tree at a ref, scanned from git objects. */
  kind: 'file' | 'git';
  /** The report file as given, or the ref as given. */
  source: string;
  /** For `git`: the commit whose tree was scanned (the merge base of the ref and HEAD). */
  commit?: string;
  new: number;
  unchanged: number;
  updated: number;
  absent: number;
  /** Baseline findings this scan no longer finds, with `baselineState: 'absent'`; they never gate. */
  absentFindings: Finding[];
}

export interface PolicyRootSummary {
  /** The policy file's folder relative to baseDir (`.` for baseDir itself), with forward slashes. */
  root: string;
  /** The policy file, as reports name it; absent for the built-in policy (files under no policy file). */
  policyPath?: string;
  summary: ReportSummary;
}

export interface ChangeSet {
  /** The ref as given, and the commit changes were counted from (the merge base of the ref and HEAD). */
  since: string;
  commit: string;
  /** Changed files that exist now and that Sentinel reads, relative to baseDir: what was scanned. */
  scanned: string[];
  /** Files deleted since the ref (not scanned, not an error). */
  deleted: string[];
  renamed: { from: string; to: string }[];
}

export interface ReportSummary {
  /** `blocked` when any unsuppressed finding is at a fail_on severity, else `tickets` if any at ticket_on, else `clean`. */
  decision: 'blocked' | 'tickets' | 'clean';
  bySeverity: Record<Severity, number>;
  blocking: number;
  tickets: number;
  suppressed: number;
  retest: string;
}
