// Offsets to 1-based lines and columns for one text. Columns count UTF-16 code units, the unit of
// JavaScript strings and of web-tree-sitter when it parses them; the faces convert from here if needed.

/** Whether a line starts at `offset` of `text`: after a LF, or after a CR that is not the first half of CRLF. */
function startsLine(text: string, offset: number): boolean {
  if (offset <= 0 || offset > text.length) return false;
  const before = text.charCodeAt(offset - 1);
  return before === 10 || (before === 13 && text.charCodeAt(offset) !== 10);
}

/**
 * `text` with every lone CR (an old Mac line break) turned into a LF; CRLF stays. The length is the same, so
 * offsets, columns and line numbers do not move. tree-sitter ends lines at LF only: its rows, and Python's
 * newline token, ignore a lone CR, so a CR-only file parsed as it is reads as one long line with syntax
 * errors. Parsed after this, its rows agree with `LineIndex`, which ends lines at LF, CRLF and lone CR.
 */
export function withLoneCrAsLf(text: string): string {
  return text.includes('\r') ? text.replace(/\r(?!\n)/g, '\n') : text;
}

/** The 0-based offsets where the lines of `text` start (the first is always 0). */
export function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13 && text.charCodeAt(i + 1) !== 10) starts.push(i + 1);
  }
  return starts;
}

/** The index of the last entry of the sorted `starts` that is at or before `offset`. */
function lineAt(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The line starts of a text that is edited in place (the language server's open documents): an edit
 * rescans only the text it inserted and shifts the starts after it, instead of rescanning the whole text.
 */
export class EditableLineStarts {
  private starts: number[];

  constructor(text: string) {
    this.starts = lineStartsOf(text);
  }

  /** The starts after `newText` = the old text with [start, end) replaced by `inserted`. */
  replace(newText: string, start: number, end: number, inserted: string): void {
    const old = this.starts;
    const delta = inserted.length - (end - start);
    // A start at p depends on the characters at p - 1 and p: those before `start` keep theirs, those from
    // the old `end + 1` on keep theirs shifted, and the ones between are rescanned in the new text.
    const keepBefore = lineAt(old, start - 1) + (start > 0 ? 1 : 0);
    let resumeAt = keepBefore;
    while (resumeAt < old.length && old[resumeAt] < end + 1) resumeAt++;
    const next = old.slice(0, Math.max(1, keepBefore));
    for (let p = Math.max(1, start); p <= start + inserted.length; p++) if (startsLine(newText, p)) next.push(p);
    for (let i = resumeAt; i < old.length; i++) next.push(old[i] + delta);
    this.starts = next;
  }

  /** A line index of `text`, which must be the text these starts were last brought up to date with. */
  index(text: string): LineIndex {
    return new LineIndex(text, this.starts);
  }
}

export class LineIndex {
  private readonly starts: readonly number[];

  /** `starts` (from `lineStartsOf(text)` or an `EditableLineStarts`) saves the scan of the text. */
  constructor(
    readonly text: string,
    starts?: readonly number[],
  ) {
    this.starts = starts ?? lineStartsOf(text);
  }

  get lineCount(): number {
    return this.starts.length;
  }

  /** 1-based line and column of a 0-based offset. */
  position(offset: number): { line: number; column: number } {
    const o = Math.max(0, Math.min(offset, this.text.length));
    const lo = lineAt(this.starts, o);
    return { line: lo + 1, column: o - this.starts[lo] + 1 };
  }

  /** 0-based offset of the start of a 1-based line. */
  lineStart(line: number): number {
    return this.starts[Math.max(0, Math.min(line - 1, this.starts.length - 1))];
  }

  /** The text of a 1-based line without its line break. */
  lineText(line: number): string {
    const start = this.lineStart(line);
    const end = line < this.starts.length ? this.starts[line] : this.text.length;
    return this.text.slice(start, end).replace(/\r?\n$|\r$/, '');
  }
}
