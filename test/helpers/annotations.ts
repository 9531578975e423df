// Reads the ground truth out of fixture files: `expect: RULE-ID` / `ok: RULE-ID` comments that sit directly
// above the line a rule must (or must not) report. Notebooks are read per code cell.
import * as path from 'node:path';
import { type Node as JsonNode, findNodeAtLocation, getNodeValue, parseTree } from 'jsonc-parser';

export interface Annotation {
  rule: string;
  /** 1-based line the finding must start on: in the file, or for notebooks inside the cell. */
  line: number;
  /** Notebooks only: 0-based index of the cell among all cells. */
  cell?: number;
  /** Notebooks only: the 1-based line of the .ipynb file (the JSON text) where that source line sits. */
  fileLine?: number;
}

export interface Annotations {
  expects: Annotation[];
  oks: Annotation[];
}

/**
 * A whole-line comment (`#` or `//`) holding `expect:` or `ok:` and one or more rule IDs separated by
 * commas, optionally followed by a reason after a dash (`# ok: JIT-EVAL-COMPILE — a constant`).
 */
const ANNOTATION = /^\s*(?:#|\/\/)\s*(expect|ok):\s*(.*)$/;
const RULE_ID = /^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$/;

export class AnnotationError extends Error {
  constructor(file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'AnnotationError';
  }
}

interface RawAnnotation {
  kind: 'expect' | 'ok';
  rule: string;
  /** 1-based line the annotation points at, in the text it was read from. */
  target: number;
}

function parseIds(rest: string, where: string, line: number): string[] {
  // The rule list ends at the first character that cannot belong to it (the reason's dash or bracket).
  const list = /^([A-Z0-9,\s-]*?)\s*(?:(?:—|–|--|\(|:|;)\s*.*)?$/.exec(rest.trim());
  const ids = (list?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (ids.length === 0) throw new AnnotationError(where, line, `annotation without a rule ID: "${rest.trim()}"`);
  for (const id of ids) {
    if (!RULE_ID.test(id)) throw new AnnotationError(where, line, `"${id}" is not a rule ID`);
  }
  return ids;
}

/**
 * Annotations in a block of source lines. Consecutive annotation lines form a stack that applies to the
 * first line after it, so `expect: A` and `ok: B` can both point at the same sink.
 */
function annotationsInLines(lines: string[], where: string, lineLabel: (line: number) => string): RawAnnotation[] {
  const out: RawAnnotation[] = [];
  let pending: { kind: 'expect' | 'ok'; rule: string; at: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = ANNOTATION.exec(lines[i] ?? '');
    if (m) {
      for (const rule of parseIds(m[2] ?? '', where, i + 1)) {
        pending.push({ kind: m[1] as 'expect' | 'ok', rule, at: i + 1 });
      }
      continue;
    }
    if (pending.length === 0) continue;
    const target = i + 1;
    const first = pending[0]?.at ?? target;
    if ((lines[i] ?? '').trim() === '') {
      throw new AnnotationError(where, first, `annotation points at an empty line (${lineLabel(target)})`);
    }
    const seen = new Map<string, 'expect' | 'ok'>();
    for (const p of pending) {
      const before = seen.get(p.rule);
      if (before === p.kind) throw new AnnotationError(where, p.at, `${p.rule} annotated twice for ${lineLabel(target)}`);
      if (before) throw new AnnotationError(where, p.at, `${p.rule} is both expected and ok on ${lineLabel(target)}`);
      seen.set(p.rule, p.kind);
      out.push({ kind: p.kind, rule: p.rule, target });
    }
    pending = [];
  }
  const dangling = pending[0];
  if (dangling) throw new AnnotationError(where, dangling.at, 'annotation at the end of the text points at nothing');
  return out;
}

function split(raw: RawAnnotation[], extra: Partial<Annotation> = {}, fileLineOf?: (line: number) => number): Annotations {
  const result: Annotations = { expects: [], oks: [] };
  for (const a of raw) {
    const ann: Annotation = { rule: a.rule, line: a.target, ...extra };
    if (fileLineOf) ann.fileLine = fileLineOf(a.target);
    (a.kind === 'expect' ? result.expects : result.oks).push(ann);
  }
  return result;
}

/** 1-based line of a 0-based offset, by binary search over the offsets where lines start. */
function lineOfOffset(lineStarts: number[], offset: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((lineStarts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** For one cell's `source` node: the cell's lines and, for each, the line of the JSON text it sits on. */
function cellLines(lineStarts: number[], source: JsonNode): { lines: string[]; fileLines: number[] } {
  const pieces: JsonNode[] = source.type === 'array' ? (source.children ?? []) : [source];
  const lines: string[] = [];
  const fileLines: number[] = [];
  let current = '';
  let currentFileLine = -1;
  let lastPieceLine = -1;
  for (const piece of pieces) {
    const value = getNodeValue(piece) as unknown;
    if (typeof value !== 'string') throw new Error('a notebook source entry is not a string');
    const pieceLine = lineOfOffset(lineStarts, piece.offset);
    // A line may be split over two entries; it belongs to the JSON line where it starts.
    const parts = value.split('\n');
    parts.forEach((part, k) => {
      const endsLine = k < parts.length - 1;
      // The empty tail after a piece's final newline starts no line; the next piece's text does.
      if (currentFileLine < 0 && (part !== '' || endsLine)) currentFileLine = pieceLine;
      current += part;
      if (endsLine) {
        lines.push(current.replace(/\r$/, ''));
        fileLines.push(currentFileLine);
        current = '';
        currentFileLine = -1;
      }
    });
    lastPieceLine = pieceLine;
  }
  // Text after the last newline (or the empty last line of a source that ends with one).
  if (pieces.length > 0) {
    lines.push(current.replace(/\r$/, ''));
    fileLines.push(currentFileLine >= 0 ? currentFileLine : lastPieceLine);
  }
  return { lines, fileLines };
}

function notebookAnnotations(text: string, file: string): Annotations {
  const root = parseTree(text);
  const cells = root ? findNodeAtLocation(root, ['cells']) : undefined;
  if (!cells || cells.type !== 'array') throw new AnnotationError(file, 1, 'not a notebook: no "cells" array');
  const lineStarts = lineStartsOf(text);
  const result: Annotations = { expects: [], oks: [] };
  (cells.children ?? []).forEach((cellNode, cell) => {
    const kind = findNodeAtLocation(cellNode, ['cell_type']);
    if (!kind || getNodeValue(kind) !== 'code') return;
    const source = findNodeAtLocation(cellNode, ['source']);
    if (!source) return;
    const { lines, fileLines } = cellLines(lineStarts, source);
    const raw = annotationsInLines(lines, `${file} cell ${cell}`, (l) => `cell ${cell} line ${l}`);
    const found = split(raw, { cell }, (l) => fileLines[l - 1] ?? -1);
    result.expects.push(...found.expects);
    result.oks.push(...found.oks);
  });
  return result;
}

/**
 * The expectations a fixture states. `file` is only used for its extension (notebooks) and in messages.
 * Throws AnnotationError on a malformed annotation rather than silently dropping a case.
 */
export function annotationsIn(text: string, file: string): Annotations {
  if (path.extname(file).toLowerCase() === '.ipynb') return notebookAnnotations(text, file);
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  return split(annotationsInLines(lines, file, (l) => `line ${l}`));
}

/** `path:line` for files, `path cell N line M` for notebooks: how a case is named in test output. */
export function describeCase(file: string, a: Annotation): string {
  return a.cell === undefined ? `${file}:${a.line}` : `${file} cell ${a.cell} line ${a.line} (file line ${a.fileLine})`;
}
