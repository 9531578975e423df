// Notebook documents (LSP 3.17 notebook sync): code cells kept in notebook order, analysed together as one
// Python program (a value from one cell reaches a sink in a later one), and findings split back onto the
// cell where each one sits, with trace steps pointing at their own cells.
import type {
  DidChangeNotebookDocumentParams,
  DidOpenNotebookDocumentParams,
  NotebookCell,
  TextDocumentItem,
} from 'vscode-languageserver/node';
import type { Finding, TraceStep } from '../engine/finding';
import { type CellProgram, programFromCells } from '../engine/notebook';
import { PositionConverter, type PositionEncoding } from './positions';

const CODE_CELL = 2;

interface CellState {
  uri: string;
  kind: number;
  text: string;
  languageId: string;
}

export class NotebookState {
  cells: CellState[] = [];
  version: number;

  constructor(
    readonly uri: string,
    params: DidOpenNotebookDocumentParams,
  ) {
    this.version = params.notebookDocument.version;
    const texts = new Map(params.cellTextDocuments.map((d) => [d.uri, d]));
    this.cells = params.notebookDocument.cells.map((c) => this.cellFrom(c, texts.get(c.document)));
  }

  private cellFrom(cell: NotebookCell, doc: TextDocumentItem | undefined): CellState {
    return { uri: cell.document, kind: cell.kind, text: doc?.text ?? '', languageId: doc?.languageId ?? 'python' };
  }

  hasCell(uri: string): boolean {
    return this.cells.some((c) => c.uri === uri);
  }

  apply(params: DidChangeNotebookDocumentParams, encoding: PositionEncoding): void {
    this.version = params.notebookDocument.version;
    const change = params.change.cells;
    if (change?.structure) {
      const { start, deleteCount, cells } = change.structure.array;
      const opened = new Map((change.structure.didOpen ?? []).map((d) => [d.uri, d]));
      const added = (cells ?? []).map((c) => this.cellFrom(c, opened.get(c.document)));
      this.cells.splice(start, deleteCount, ...added);
    }
    for (const data of change?.data ?? []) {
      const cell = this.cells.find((c) => c.uri === data.document);
      if (cell) cell.kind = data.kind;
    }
    for (const content of change?.textContent ?? []) {
      const cell = this.cells.find((c) => c.uri === content.document.uri);
      if (!cell) continue;
      for (const ch of content.changes) {
        if ('range' in ch && ch.range) {
          const conv = new PositionConverter(cell.text, encoding);
          const s = conv.offsetAt(ch.range.start);
          const e = Math.max(s, conv.offsetAt(ch.range.end));
          cell.text = cell.text.slice(0, s) + ch.text + cell.text.slice(e);
        } else cell.text = ch.text;
      }
    }
  }

  codeCells(): CellState[] {
    return this.cells.filter((c) => c.kind === CODE_CELL && (c.languageId === 'python' || c.languageId === ''));
  }

  program(): { program: CellProgram; cells: CellState[] } {
    const cells = this.codeCells();
    return { program: programFromCells(cells.map((c) => c.text)), cells };
  }
}

/** Which code cell holds a program offset. */
function cellAt(program: CellProgram, offset: number): number {
  let index = 0;
  for (let i = 0; i < program.cells.length; i++) if (program.cells[i].start <= offset) index = i;
  return index;
}

export interface CellFinding {
  finding: Finding;
  /** Trace steps re-based on their own cells, with each step's cell URI. */
  stepUris: string[];
}

/**
 * Splits program findings onto cells: offsets become cell-relative, and the evidence's line/column the
 * cell's own. Returns findings by cell URI (every code cell present, empty when clean).
 */
export function findingsByCell(findings: Finding[], program: CellProgram, cells: CellState[]): Map<string, CellFinding[]> {
  const out = new Map<string, CellFinding[]>(cells.map((c) => [c.uri, []]));
  const rebase = <T extends { startOffset: number; endOffset: number; startLine: number; startColumn: number; endLine: number; endColumn: number }>(
    item: T,
  ): { item: T; cell: number } => {
    const cell = cellAt(program, item.startOffset);
    const base = program.cells[cell];
    const text = cells[cell].text;
    const conv = new PositionConverter(text, 'utf-16');
    const start = Math.max(0, item.startOffset - base.start);
    const end = Math.min(text.length, Math.max(start, item.endOffset - base.start));
    const s = conv.positionAt(start);
    const e = conv.positionAt(end);
    return {
      cell,
      item: { ...item, startOffset: start, endOffset: end, startLine: s.line + 1, startColumn: s.character + 1, endLine: e.line + 1, endColumn: e.character + 1 },
    };
  };
  for (const f of findings) {
    const { item: evidence, cell } = rebase(f.evidence);
    const steps: TraceStep[] = [];
    const stepUris: string[] = [];
    for (const step of f.trace) {
      const r = rebase(step);
      steps.push(r.item);
      stepUris.push(cells[r.cell].uri);
    }
    const uri = cells[cell].uri;
    out.get(uri)!.push({ finding: { ...f, evidence: { ...evidence, cell: { cell, line: evidence.startLine, column: evidence.startColumn } }, trace: steps }, stepUris });
  }
  return out;
}
