// Finding → LSP Diagnostic: rule ID as code with a link to its documentation, severity from the rule
// (suppressed findings as hints that say why), the source-to-sink trace as related information, and in
// `data` what the code actions need so they do not re-analyse.
import { type Diagnostic, DiagnosticSeverity, DiagnosticTag, type Location } from 'vscode-languageserver/node';
import type { DiagnosticData } from '../../../shared/src/protocol';
import type { Finding } from '../engine/finding';
import type { PositionConverter } from './positions';

export const DIAGNOSTIC_SOURCE = 'sentinel';

export function severityFor(finding: Finding): DiagnosticSeverity {
  if (finding.decision === 'suppressed') return DiagnosticSeverity.Hint;
  switch (finding.severity) {
    case 'CRITICAL':
    case 'HIGH':
      return DiagnosticSeverity.Error;
    case 'MEDIUM':
      return DiagnosticSeverity.Warning;
    default:
      return DiagnosticSeverity.Information;
  }
}

export function messageFor(finding: Finding): string {
  const base = `${finding.title}: ${finding.evidence.signal}. ${finding.fixHint}`;
  if (finding.decision === 'suppressed' && finding.suppression) {
    const where = finding.suppression.kind === 'inline' ? 'allow comment' : `policy ${finding.suppression.source ?? ''}`.trim();
    return `Suppressed (${where}): ${finding.suppression.reason}. ${base}`;
  }
  return base;
}

/** Where trace step `index` of `finding` is, when it is not in the finding's own document (notebook cells). */
export type StepLocator = (finding: Finding, index: number) => Location | undefined;

export function toDiagnostic(finding: Finding, converter: PositionConverter, uri: string, locateStep?: StepLocator): Diagnostic {
  const data: DiagnosticData = {
    fingerprint: finding.fingerprint,
    ruleId: finding.ruleId,
    suppressed: finding.decision === 'suppressed',
    ...(finding.fix ? { fix: finding.fix } : {}),
  };
  const diagnostic: Diagnostic = {
    range: converter.rangeOf(finding.evidence.startOffset, finding.evidence.endOffset),
    severity: severityFor(finding),
    code: finding.ruleId,
    codeDescription: { href: finding.helpUri },
    source: DIAGNOSTIC_SOURCE,
    message: messageFor(finding),
    data,
  };
  if (finding.decision === 'suppressed') diagnostic.tags = [DiagnosticTag.Unnecessary];
  if (finding.trace.length > 0) {
    diagnostic.relatedInformation = finding.trace.map((step, i) => ({
      location: locateStep?.(finding, i) ?? { uri, range: converter.rangeOf(step.startOffset, step.endOffset) },
      message: `${step.kind}: ${step.note}`,
    }));
  }
  return diagnostic;
}
