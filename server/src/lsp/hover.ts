// The rule card as Markdown: shown on hover over a finding and returned by `sentinel.showRule`.
import type { Finding } from '../engine/finding';
import type { RuleCard } from '../engine/rules/catalog';

function cweLink(cwe: string): string {
  const n = /^CWE-(\d+)$/.exec(cwe)?.[1];
  return n ? `[${cwe}](https://cwe.mitre.org/data/definitions/${n}.html)` : cwe;
}

/** Markdown for a rule, and for one finding of it when given (what was seen, decision, retest). */
export function ruleCardMarkdown(card: RuleCard, finding?: Finding): string {
  const lines: string[] = [];
  lines.push(`**${card.id}** · ${card.severity} · ${card.title}`, '');
  lines.push(`${cweLink(card.cwe)} · OWASP ${card.owaspLlm} · false-positive risk ${card.fpRisk}${finding ? ` · confidence ${finding.confidence}` : ''}`, '');
  if (finding) {
    lines.push(`**Seen:** ${finding.evidence.signal}`, '');
    if (finding.decision === 'suppressed' && finding.suppression) {
      lines.push(`**Suppressed:** ${finding.suppression.reason}${finding.suppression.source ? ` (${finding.suppression.source})` : ''}`, '');
    }
    if (finding.trace.length > 0) {
      lines.push('**Trace:**', ...finding.trace.map((s) => `- line ${s.startLine}: ${s.kind} — ${s.note}`), '');
    }
  }
  lines.push(`**Owner:** ${finding?.owner ?? card.owner}`, '');
  lines.push(`**Release decision:** ${card.releaseDecision}${finding ? ` (policy: ${finding.decision})` : ''}`, '');
  lines.push(`**Why it matters:** ${card.whyItMatters}`, '');
  lines.push(`**How to fix:** ${card.howToFix} ${card.fixHint}`, '');
  lines.push(`**Retest:** \`${finding?.retest ?? card.retest}\``, '');
  lines.push(`[Rule documentation](${card.helpUri})`);
  return lines.join('\n');
}
