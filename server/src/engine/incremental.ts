// A document whose syntax tree follows its edits: each change is applied to the tree with `tree.edit` and
// the next parse reuses the old tree, so a keystroke costs a reparse of what changed. Offsets and columns
// are UTF-16 code units, as web-tree-sitter counts them for JavaScript strings. The line starts follow the
// edits too, so that positions in a large file cost a binary search rather than a scan of the text.
import { Edit, type Point, type Tree } from 'web-tree-sitter';
import type { LanguageId } from './finding';
import { EditableLineStarts, type LineIndex } from './lines';
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

export class SyntaxDocument {
  private tree: Tree | undefined;
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
    this.text = text;
    this.lineStarts = new EditableLineStarts(text);
    this.lines = undefined;
    this.stale = true;
  }

  /** The tree for the current text, reparsed incrementally when edits are pending; undefined without a grammar. */
  async syntaxTree(): Promise<Tree | undefined> {
    if (!hasGrammar(this.lang)) return undefined;
    while (this.stale || !this.tree) {
      const text = this.text;
      const next = await parseText(this.lang, text, this.tree);
      if (this.text !== text) {
        // An edit arrived while the grammar was loading: `next` is for the old text and was not edited with it.
        next.delete();
        this.tree?.delete();
        this.tree = undefined;
        continue;
      }
      this.tree?.delete();
      this.tree = next;
      this.stale = false;
    }
    return this.tree;
  }

  dispose(): void {
    this.tree?.delete();
    this.tree = undefined;
  }
}
