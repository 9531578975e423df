// What a rewrite is (offset edits on one document plus shared insertions such as imports and helpers) and
// how several rewrites are combined into one conflict-free edit list, for a quick fix or for fix-all.
import type { Finding, LanguageId } from '../../engine/finding';

/** A replacement of `text.slice(start, end)` by `newText`; offsets are 0-based UTF-16, like the engine's. */
export interface OffsetEdit {
  start: number;
  end: number;
  newText: string;
}

/**
 * Text a rewrite needs somewhere else in the file (an import, a helper function). Insertions with the same
 * key are written once, so fix-all adds one `import operator` however many findings need it.
 */
export interface Insertion {
  key: string;
  offset: number;
  text: string;
  /** Insertions at one offset are written in this order: imports (0) before helpers (1). */
  order: number;
}

export interface Rewrite {
  title: string;
  /** True only when the rewrite keeps behaviour for every input it accepts: such rewrites join source.fixAll. */
  safe: boolean;
  preferred: boolean;
  edits: OffsetEdit[];
  insertions: Insertion[];
}

function overlaps(a: OffsetEdit, b: OffsetEdit): boolean {
  // Two inserts at one point, or an insert at the edge of a replacement, are ordered by merging, not conflicts.
  if (a.start === a.end || b.start === b.end) {
    const point = a.start === a.end ? a : b;
    const other = point === a ? b : a;
    return point.start > other.start && point.start < other.end;
  }
  return a.start < b.end && b.start < a.end;
}

/**
 * Combines rewrites into one edit list for a single document: insertions deduplicated by key, inserts at
 * one offset joined into one edit (imports first), and an insert at the start of a replacement folded into
 * it, so that no two edits share a start and clients cannot order them differently. A rewrite whose edits
 * collide with an earlier one is left out; `accepted` says which rewrites made it.
 */
export function combineRewrites(rewrites: Rewrite[]): { edits: OffsetEdit[]; accepted: Rewrite[] } {
  const replacements: OffsetEdit[] = [];
  const insertions = new Map<string, Insertion & { seq: number }>();
  const accepted: Rewrite[] = [];
  let seq = 0;
  for (const rewrite of rewrites) {
    const fresh = rewrite.insertions.filter((i) => !insertions.has(i.key));
    const candidates = [...rewrite.edits, ...fresh.map((i) => ({ start: i.offset, end: i.offset, newText: i.text }))];
    const existing = [...replacements, ...[...insertions.values()].map((i) => ({ start: i.offset, end: i.offset, newText: i.text }))];
    const own = rewrite.edits;
    const selfClash = own.some((e, i) => own.some((f, j) => i < j && overlaps(e, f)));
    if (selfClash || candidates.some((c) => existing.some((e) => overlaps(c, e)))) continue;
    replacements.push(...own);
    for (const i of fresh) insertions.set(i.key, { ...i, seq: seq++ });
    accepted.push(rewrite);
  }
  const byOffset = new Map<number, (Insertion & { seq: number })[]>();
  for (const i of insertions.values()) byOffset.set(i.offset, [...(byOffset.get(i.offset) ?? []), i]);
  const edits: OffsetEdit[] = [];
  const pending = new Map<number, string>();
  for (const [offset, list] of byOffset) {
    list.sort((a, b) => a.order - b.order || a.seq - b.seq);
    pending.set(offset, list.map((i) => i.text).join(''));
  }
  for (const r of replacements.sort((a, b) => a.start - b.start)) {
    const before = pending.get(r.start);
    if (before !== undefined) pending.delete(r.start);
    edits.push({ start: r.start, end: r.end, newText: (before ?? '') + r.newText });
  }
  for (const [offset, text] of pending) edits.push({ start: offset, end: offset, newText: text });
  edits.sort((a, b) => a.start - b.start);
  return { edits, accepted };
}

/** Applies non-overlapping offset edits to `text` (used to check a rewrite before it is offered). */
export function applyOffsetEdits(text: string, edits: OffsetEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start || b.end - a.end)) out = out.slice(0, e.start) + e.newText + out.slice(e.end);
  return out;
}

/** The line break a file uses, so inserted lines match it. */
export function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** Offset of the start of the line holding `offset`. */
export function lineStartAt(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Offset just past the line break ending the line that holds `offset` (or the end of the text). */
export function nextLineStart(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  return nl === -1 ? text.length : nl + 1;
}

/** What every language's rewrites receive: the document and one finding in it, as the engine reported it. */
export interface RewriteContext {
  uri: string;
  text: string;
  lang: LanguageId;
  finding: Finding;
}

/**
 * Where a cache finding's value sits in the text: after the variable's name inside the flagged span
 * (`os.environ["X"] = v`, `setdefault("X", v)`, `process.env.X = v`, `X=v`). Undefined when not found.
 */
export function cacheValueIn(finding: Finding, text: string): { variable: string; value: string; valueStart: number } | undefined {
  const variable = finding.evidence.variable ?? (finding.fix?.variable as string | undefined);
  const value = finding.evidence.value;
  if (!variable || !value) return undefined;
  const { startOffset: start, endOffset: end } = finding.evidence;
  const span = text.slice(start, end);
  const afterName = span.indexOf(variable);
  const at = span.indexOf(value, afterName < 0 ? 0 : afterName + variable.length);
  return at < 0 ? undefined : { variable, value, valueStart: start + at };
}
