// Sentinel's own messages between the language server and its clients, declared once so that both sides
// import the same names and payload types. Everything else is standard LSP.
import type { Severity } from '../../server/src/engine/finding';

/** Server → client after every change that alters the workspace's release decision. */
export const POLICY_STATUS_NOTIFICATION = 'sentinel/policyStatus';

export interface GatingFinding {
  ruleId: string;
  severity: Severity;
  title: string;
  uri: string;
  /** 0-based LSP range start, in the negotiated position encoding. */
  line: number;
  character: number;
  decision: 'block' | 'ticket';
  fingerprint: string;
}

export interface PolicyStatus {
  decision: 'blocked' | 'tickets' | 'clean';
  bySeverity: Record<Severity, number>;
  blocking: number;
  tickets: number;
  suppressed: number;
  /** The gating and ticket findings, gating first. */
  findings: GatingFinding[];
  retest: string;
  /** The policy file in force, or undefined for the built-in default. */
  policyUri?: string;
  /** A problem with the policy file (broken YAML…): the default policy applies meanwhile. */
  policyError?: string;
}

/** Commands the server executes through `workspace/executeCommand`. */
export const Commands = {
  scanWorkspace: 'sentinel.scanWorkspace',
  retest: 'sentinel.retest',
  showRule: 'sentinel.showRule',
} as const;

/** What `sentinel.retest` returns: the same decision the CLI gate would print, plus its exit code. */
export interface RetestResult {
  command: string;
  decision: 'blocked' | 'tickets' | 'clean';
  exitCode: number;
  blocking: number;
  tickets: number;
  suppressed: number;
  filesScanned: number;
}

/** What `sentinel.showRule` returns: the rule card as Markdown, for a client to show. */
export interface ShowRuleResult {
  ruleId: string;
  markdown: string;
  helpUri: string;
}

/** The shape of `Diagnostic.data` on Sentinel diagnostics: what code actions need without re-analysing. */
export interface DiagnosticData {
  fingerprint: string;
  ruleId: string;
  fix?: { kind: string; [key: string]: unknown };
  suppressed: boolean;
}
