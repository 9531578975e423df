// The "Allow with reason…" edit: a `sentinel: allow RULE -- <reason>` comment on its own line above the
// finding (what suppressions.ts honours), merged into an allow comment already there, or kept on the
// finding's own line where a line of its own would break the code (continuations, multi-line literals).
import * as yaml from 'js-yaml';
import type { Finding, LanguageId } from '../../engine/finding';
import { tokenizeCpp } from './cuda';
import { applyOffsetEdits, eolOf, lineStartAt, type OffsetEdit } from './edits';
import { tokenizeJs } from './javascriptSource';
import { tokenizePython } from './pythonSource';

/** What the inserted comment says in place of a reason: visibly a placeholder, still a complete comment. */
export const ALLOW_REASON_PLACEHOLDER = '<reason: why this is safe>';

const HASH_LANGUAGES = new Set<LanguageId>(['python', 'shell', 'dockerfile', 'dotenv', 'yaml']);
const SLASH_LANGUAGES = new Set<LanguageId>(['javascript', 'typescript', 'tsx', 'cuda']);
const EXISTING = /^([ \t]*)(#|\/\/)[ \t]*sentinel:[ \t]*allow\b(.*?)(\r?)$/;

function lineEndAt(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  const end = nl === -1 ? text.length : nl;
  return text[end - 1] === '\r' ? end - 1 : end;
}

/** True when `offset` lies inside a string, template or comment token rather than between tokens. */
function insideLiteral(text: string, lang: LanguageId, offset: number): boolean | undefined {
  if (lang === 'python') {
    const src = tokenizePython(text);
    if (!src.ok) return undefined;
    return src.tokens.some((t) => t.start < offset && offset < t.end && t.kind === 'string');
  }
  if (lang === 'cuda') {
    const tokens = tokenizeCpp(text);
    if (!tokens) return undefined;
    return tokens.some((t) => t.start < offset && offset < t.end && (t.kind === 'string' || t.kind === 'comment'));
  }
  if (SLASH_LANGUAGES.has(lang)) {
    const tokens = tokenizeJs(text, 0, offset, { partial: true });
    return !!tokens?.some((t) => t.start < offset && offset < t.end);
  }
  return false;
}

/** The edit that adds (or extends) an inline allow comment for `finding`; undefined when none can be placed. */
export function allowCommentEdit(text: string, lang: LanguageId, finding: Finding): OffsetEdit | undefined {
  const token = HASH_LANGUAGES.has(lang) ? '#' : SLASH_LANGUAGES.has(lang) ? '//' : undefined;
  if (!token) return undefined;
  const rule = finding.ruleId;
  const lineStart = lineStartAt(text, finding.evidence.startOffset);
  const indent = /^[ \t]*/.exec(text.slice(lineStart))![0];
  const eol = eolOf(text);
  const previousStart = lineStart > 0 ? lineStartAt(text, lineStart - 1) : -1;
  const previous = previousStart >= 0 ? text.slice(previousStart, lineStart).replace(/\n$/, '') : undefined;

  // An allow comment right above speaks for this line already: add the rule to it instead of pushing it away.
  const existing = previous !== undefined ? EXISTING.exec(previous) : null;
  if (existing && existing[2] === token) {
    const [rules, ...reasonParts] = existing[3].split('--');
    const listed = rules.split(/[\s,]+/).filter(Boolean);
    const reason = reasonParts.join('--').trim();
    if (listed.some((r) => r.toUpperCase() === rule || r.toUpperCase() === finding.category) && reason) return undefined;
    const names = listed.some((r) => r.toUpperCase() === rule) ? listed : [...listed, rule];
    const merged = reason ? `${reason}; ${rule}: ${ALLOW_REASON_PLACEHOLDER}` : ALLOW_REASON_PLACEHOLDER;
    const start = previousStart + existing[1].length;
    return { start, end: previousStart + previous!.length - existing[4].length, newText: `${token} sentinel: allow ${names.join(', ')} -- ${merged}` };
  }

  const comment = `${token} sentinel: allow ${rule} -- ${ALLOW_REASON_PLACEHOLDER}`;
  const continued = previous !== undefined && /\\\r?$/.test(previous) && !/^\s*(#|\/\/)/.test(previous);
  const inLiteral = insideLiteral(text, lang, lineStart);
  if (inLiteral === undefined) return undefined;
  if (continued || inLiteral) {
    // A comment line here would end a continued line or land inside a literal: use the finding's own line.
    if (SLASH_LANGUAGES.has(lang)) {
      return { start: finding.evidence.startOffset, end: finding.evidence.startOffset, newText: `/* sentinel: allow ${rule} -- ${ALLOW_REASON_PLACEHOLDER} */ ` };
    }
    const end = lineEndAt(text, finding.evidence.startOffset);
    if (/\\$/.test(text.slice(lineStart, end)) || insideLiteral(text, lang, end)) return undefined;
    return { start: end, end, newText: `  ${comment}` };
  }
  const edit = { start: lineStart, end: lineStart, newText: `${indent}${comment}${eol}` };
  if (lang === 'yaml' && !yamlUnchanged(text, edit)) return undefined;
  return edit;
}

/** A YAML comment must not change the document's data (it would inside a block scalar). */
function yamlUnchanged(text: string, edit: OffsetEdit): boolean {
  try {
    const before = JSON.stringify(yaml.loadAll(text, { schema: yaml.CORE_SCHEMA }));
    const after = JSON.stringify(yaml.loadAll(applyOffsetEdits(text, [edit]), { schema: yaml.CORE_SCHEMA }));
    return before === after;
  } catch {
    return false;
  }
}
