// The one place that converts between the engine's positions (UTF-16 offsets, 1-based lines and columns)
// and LSP positions in the negotiated encoding (UTF-16 by default, UTF-8 when the client offers it).
import type { Position, Range } from 'vscode-languageserver';
import { LineIndex } from '../engine/lines';

export type PositionEncoding = 'utf-16' | 'utf-8';

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The UTF-16 length of the longest prefix of `s` that fits in `bytes` UTF-8 bytes. */
function utf16FromUtf8(s: string, bytes: number): number {
  let used = 0;
  let i = 0;
  while (i < s.length) {
    const code = s.codePointAt(i)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (used + size > bytes) break;
    used += size;
    i += code > 0xffff ? 2 : 1;
  }
  return i;
}

export class PositionConverter {
  private readonly index: LineIndex;

  /** `index` (an open document's, kept up to date with its edits) saves a scan of `text`. */
  constructor(
    readonly text: string,
    readonly encoding: PositionEncoding,
    index?: LineIndex,
  ) {
    this.index = index && index.text === text ? index : new LineIndex(text);
  }

  /** LSP position of a 0-based UTF-16 offset. */
  positionAt(offset: number): Position {
    const { line, column } = this.index.position(offset);
    return this.fromLineColumn(line, column);
  }

  /** LSP position of a 1-based line and 1-based UTF-16 column. */
  fromLineColumn(line: number, column: number): Position {
    if (this.encoding === 'utf-16') return { line: line - 1, character: column - 1 };
    const text = this.index.lineText(line);
    return { line: line - 1, character: utf8Length(text.slice(0, column - 1)) };
  }

  /** 0-based UTF-16 offset of an LSP position; positions past a line's end clamp to the end. */
  offsetAt(position: Position): number {
    const line = Math.max(0, Math.min(position.line, this.index.lineCount - 1)) + 1;
    const text = this.index.lineText(line);
    const column = this.encoding === 'utf-16' ? Math.min(Math.max(0, position.character), text.length) : utf16FromUtf8(text, Math.max(0, position.character));
    if (position.line >= this.index.lineCount) return this.text.length;
    return this.index.lineStart(line) + column;
  }

  rangeOf(startOffset: number, endOffset: number): Range {
    return { start: this.positionAt(startOffset), end: this.positionAt(endOffset) };
  }
}
