// Inline allow comments (`# sentinel: allow JIT-EVAL-COMPILE -- reason`) in scanned files: parsing them
// and deciding whether one suppresses a finding on its own line or on the line below it.
import type { Suppression } from './finding';

export interface InlineAllowance {
  /** Upper-cased rule IDs and categories the comment names. */
  rules: string[];
  reason: string;
  /** 1-based line of the comment. */
  line: number;
  /** True when the line holds only the comment, so it may speak for the line below it. */
  commentOnly: boolean;
}

/** An allow comment that suppresses nothing, so the scanner can warn instead of silently ignoring it. */
export interface IncompleteAllowance {
  line: number;
  rules: string[];
  problem: string;
}

// The marker must directly follow a comment token (`#`, `//`, `/*`, `<!--`, or the `*` that continues
// a block comment), which keeps ordinary string contents such as "sentinel: allow" from matching.
const ALLOW_COMMENT = /(^\s*\*|#|\/\/|\/\*|<!--)\s*sentinel:\s*allow\b(.*)$/;
const BLANK = /^\s*$/;
const RULE_TOKEN = /^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*$/;
/** Where each block comment ends; line comments (`#`, `//`) run to the end of the line. */
function blockCommentEnd(token: string): string | undefined {
  if (token === '<!--') return '-->';
  return token === '/*' || token.trim() === '*' ? '*/' : undefined;
}

interface ParsedAllowComment {
  line: number;
  rules: string[];
  /** Tokens between `allow` and `--` that cannot be rule IDs or categories. */
  badTokens: string[];
  reason: string;
  commentOnly: boolean;
}

/**
 * The 1-based lines that hold comments, when the caller parsed the file: then a marker that is not inside a
 * comment (a template string that builds an allow comment, a docstring quoting one) is not an allow comment.
 * Without a tree (Dockerfiles, .env files) the comment tokens alone decide.
 */
export type CommentLines = Set<number> | undefined;

function parseAllowComments(text: string, commentLines?: CommentLines): ParsedAllowComment[] {
  const parsed: ParsedAllowComment[] = [];
  // Nearly every scanned file has no allow comment; skip the per-line work for those.
  if (!text.includes('sentinel:')) return parsed;
  // Lines split on \n only, matching tree-sitter rows (which the findings' line numbers come from).
  text.split('\n').forEach((rawLine, i) => {
    const lineText = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const match = ALLOW_COMMENT.exec(lineText);
    if (!match) return;
    if (commentLines && !commentLines.has(i + 1)) return;
    const closer = blockCommentEnd(match[1]);
    const closeAt = closer === undefined ? -1 : match[2].indexOf(closer);
    const rest = closeAt === -1 ? match[2] : match[2].slice(0, closeAt);
    const after = closeAt === -1 ? '' : match[2].slice(closeAt + (closer ?? '').length);
    const separator = rest.indexOf('--');
    const ruleText = separator === -1 ? rest : rest.slice(0, separator);
    const reason = separator === -1 ? '' : rest.slice(separator + 2).trim();
    const tokens = ruleText.split(/[\s,]+/).filter(Boolean);
    const before = lineText.slice(0, match.index);
    parsed.push({
      line: i + 1,
      rules: tokens.filter((t) => RULE_TOKEN.test(t)).map((t) => t.toUpperCase()),
      badTokens: tokens.filter((t) => !RULE_TOKEN.test(t)),
      reason,
      commentOnly: BLANK.test(before) && BLANK.test(after),
    });
  });
  return parsed;
}

/** Complete allow comments (at least one rule and a reason), keyed by their 1-based line. */
export function inlineAllowances(text: string, commentLines?: CommentLines): Map<number, InlineAllowance> {
  const allowances = new Map<number, InlineAllowance>();
  for (const c of parseAllowComments(text, commentLines)) {
    if (c.rules.length === 0 || c.badTokens.length > 0 || c.reason === '') continue;
    allowances.set(c.line, { rules: c.rules, reason: c.reason, line: c.line, commentOnly: c.commentOnly });
  }
  return allowances;
}

/** Allow comments that suppress nothing because they lack a reason or a valid rule list. */
export function incompleteAllowances(text: string, commentLines?: CommentLines): IncompleteAllowance[] {
  const incomplete: IncompleteAllowance[] = [];
  for (const c of parseAllowComments(text, commentLines)) {
    let problem: string | undefined;
    if (c.badTokens.length > 0) {
      problem = `'${c.badTokens[0]}' is not a rule ID or category; write \`sentinel: allow RULE-ID -- reason\``;
    } else if (c.rules.length === 0) {
      problem = 'names no rule; write `sentinel: allow RULE-ID -- reason`';
    } else if (c.reason === '') {
      problem = `gives no reason, so it suppresses nothing; write \`sentinel: allow ${c.rules.join(', ')} -- <why this is safe>\``;
    }
    if (problem) incomplete.push({ line: c.line, rules: c.rules, problem });
  }
  return incomplete;
}

/**
 * The inline suppression for a finding: an allow comment naming the rule ID or its category on the
 * finding's line, or alone on the line directly above it (a trailing comment speaks only for its own line).
 */
export function inlineSuppressionFor(
  allowances: Map<number, InlineAllowance>,
  ruleId: string,
  category: string,
  findingLine: number,
): Suppression | undefined {
  const names = (a: InlineAllowance) => a.rules.includes(ruleId.toUpperCase()) || a.rules.includes(category.toUpperCase());
  const sameLine = allowances.get(findingLine);
  const lineAbove = allowances.get(findingLine - 1);
  const allowance =
    sameLine && names(sameLine) ? sameLine : lineAbove && lineAbove.commentOnly && names(lineAbove) ? lineAbove : undefined;
  if (!allowance) return undefined;
  // No `source`: the comment sits at the finding, and reporters already say "inline comment".
  return { kind: 'inline', reason: allowance.reason };
}
