// A document whose syntax tree follows its edits: each change is applied to the tree with `tree.edit` and
// the next parse reuses the old tree, so a keystroke costs a reparse of what changed. Offsets and columns
// are UTF-16 code units, as web-tree-sitter counts them for JavaScript strings. The line starts follow the
// edits too, so that positions in a large file cost a binary search rather than a scan of the text.
import { Edit, type Point, type Tree } from 'web-tree-sitter';
import type { LanguageId } from './finding';
import { EditableLineStarts, type LineIndex, withLoneCrAsLf } from './lines';
import { hasGrammar, parseText } from './parser';

function pointAfter(start: Point, inserted: string): Point {
  const lines = inserted.split(/\r\n|\r|\n/);
  if (lines.length === 1) return { row: start.row, column: start.column + inserted.length };
  return { row: start.row + lines.length - 1, column: lines[lines.length - 1].length };
}

function pointAt(index: LineIndex, offset: number): Point {
  const { line, column } = index.position(offset);
  return { row: line - 1, column: column - 1 };
}

/**
 * Where the text changed between two parsed versions, as one range: [start, oldEnd) of the older text became
 * [start, newEnd) of the newer one (the union of every edit in between).
 */
export interface ChangedRange {
  start: number;
  oldEnd: number;
  newEnd: number;
}

/** A parsed version of a document, unedited: its tree reads the text it was parsed from. */
export interface ParsedVersion {
  tree: Tree;
  text: string;
  /** Which parse of the document this was (1 for the first). */
  generation: number;
}

export class SyntaxDocument {
  /** The tree of the last parse, edited along with the text since (the base of the next incremental parse). */
  private tree: Tree | undefined;
  /** An unedited copy of the last parse's tree, and the parse before that one (with the change between them). */
  private current: ParsedVersion | undefined;
  private before: ParsedVersion | undefined;
  /** Edits applied since the last parse, as one range; then what changed between `before` and `current`. */
  private pending: ChangedRange | undefined;
  private lastChange: ChangedRange | undefined;
  private parses = 0;
  private stale = true;
  private lineStarts: EditableLineStarts;
  private lines: LineIndex | undefined;

  constructor(
    readonly lang: LanguageId,
    private text: string,
  ) {
    this.lineStarts = new EditableLineStarts(text);
  }

  get content(): string {
    return this.text;
  }

  /** The line index of the current text, kept up to date with the edits (no rescan of the text). */
  lineIndex(): LineIndex {
    this.lines ??= this.lineStarts.index(this.text);
    return this.lines;
  }

  /** Replaces [start, end) (UTF-16 offsets into the current text) with `inserted`, editing the tree to match. */
  applyChange(start: number, end: number, inserted: string): void {
    // The tree reads lone CRs as LFs: a CR just before the edit may stop or start being one (`\r` + `\n`
    // typed after it makes a CRLF), so the edit given to the tree starts at that CR.
    if (start > 0 && this.text.charCodeAt(start - 1) === 13) {
      start--;
      inserted = `\r${inserted}`;
    }
    const newEnd = start + inserted.length;
    const p = this.pending;
    if (!p) this.pending = { start, oldEnd: end, newEnd };
    else {
      // Compose with the edits before: positions after p.newEnd in the current text sit (newEnd - oldEnd) later than in the parsed one.
      const currentEnd = Math.max(p.newEnd, end);
      this.pending = { start: Math.min(p.start, start), oldEnd: currentEnd - (p.newEnd - p.oldEnd), newEnd: currentEnd + (newEnd - end) };
    }
    if (this.tree) {
      const before = this.lineIndex();
      const startPosition = pointAt(before, start);
      const oldEndPosition = pointAt(before, end);
      this.tree.edit(
        new Edit({
          startIndex: start,
          oldEndIndex: end,
          newEndIndex: start + inserted.length,
          startPosition,
          oldEndPosition,
          newEndPosition: pointAfter(startPosition, inserted),
        }),
      );
    }
    this.text = this.text.slice(0, start) + inserted + this.text.slice(end);
    this.lineStarts.replace(this.text, start, end, inserted);
    this.lines = undefined;
    this.stale = true;
  }

  /** Replaces the whole text (a full-sync change): the next parse starts from scratch. */
  replaceAll(text: string): void {
    this.tree?.delete();
    this.tree = undefined;
    this.dropVersions();
    this.text = text;
    this.lineStarts = new EditableLineStarts(text);
    this.lines = undefined;
    this.stale = true;
  }

  /** The tree for the current text, reparsed incrementally when edits are pending; undefined without a grammar. */
  async syntaxTree(): Promise<Tree | undefined> {
    if (!hasGrammar(this.lang)) return undefined;
    while (this.stale || !this.tree) {
      // Lone CRs parsed as LFs (same length): tree-sitter's rows then agree with the line index's.
      const text = withLoneCrAsLf(this.text);
      const typed = this.text;
      const next = await parseText(this.lang, text, this.tree);
      if (this.text !== typed) {
        // An edit arrived while the grammar was loading: `next` is for the old text and was not edited with it.
        next.delete();
        this.tree?.delete();
        this.tree = undefined;
        continue;
      }
      const incremental = this.tree !== undefined && this.current !== undefined && this.pending !== undefined;
      this.tree?.delete();
      this.tree = next;
      this.parses++;
      this.before?.tree.delete();
      this.before = incremental ? this.current : undefined;
      if (!incremental) this.current?.tree.delete();
      this.lastChange = incremental ? this.pending : undefined;
      this.pending = undefined;
      // A copy shares the tree's nodes; the edits of the next keystrokes go to `tree`, not to it.
      this.current = { tree: next.copy(), text, generation: this.parses };
      this.stale = false;
    }
    return this.tree;
  }

  /** The text the current tree was parsed from: the content with lone CRs as LFs (the same length). */
  get parsedText(): string {
    return this.current?.text ?? withLoneCrAsLf(this.text);
  }

  /** Which parse the current tree is (1 for the first). */
  get generation(): number {
    return this.parses;
  }

  /**
   * The parse before the current one and what changed since it (one range: [start, oldEnd) of its text
   * became [start, newEnd) of the current text); undefined while edits are pending, before the second
   * parse, or after a full replace. Valid until the next parse.
   */
  previous(): { version: ParsedVersion; change: ChangedRange } | undefined {
    if (this.stale || !this.before || !this.lastChange) return undefined;
    return { version: this.before, change: this.lastChange };
  }

  private dropVersions(): void {
    this.current?.tree.delete();
    this.before?.tree.delete();
    this.current = undefined;
    this.before = undefined;
    this.pending = undefined;
    this.lastChange = undefined;
  }

  dispose(): void {
    this.tree?.delete();
    this.tree = undefined;
    this.dropVersions();
  }
}
