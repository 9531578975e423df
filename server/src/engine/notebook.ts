// Jupyter notebooks as one Python program: code cells in order (so a value from one cell reaches a sink in
// a later one), IPython magics and shell escapes blanked so they do not break parsing, and a map from
// every program line back to its cell and to the line in the .ipynb JSON where that source line sits.
import { type Node as JsonNode, type ParseError, parseTree } from 'jsonc-parser';
import { LineIndex } from './lines';

export interface NotebookLine {
  cell: number;
  /** 1-based line inside the cell. */
  cellLine: number;
  /** 1-based line and column in the .ipynb file where this source line's text starts. */
  fileLine: number;
  fileColumn: number;
}

export interface NotebookProgram {
  /** The code cells as Python, magics blanked (see `blankMagics`). */
  text: string;
  /** The same cells as written (magics kept), for snippets; the same length and lines as `text`. */
  source: string;
  /** What IPython hands to a shell, at the same offsets (see `magicShell`); undefined when there is none. */
  shell?: string;
  /** Indexed by 0-based program line. */
  lines: NotebookLine[];
}

export class NotebookError extends Error {}

function sourceStrings(source: JsonNode | undefined): JsonNode[] {
  if (!source) return [];
  if (source.type === 'string') return [source];
  if (source.type === 'array') return (source.children ?? []).filter((c) => c.type === 'string');
  return [];
}

/** Replaces a line with spaces when IPython, not Python, reads it (`%pip`, `!ls`, `%%bash` cells). */
export function blankMagics(cellText: string): string {
  const lines = cellText.split('\n');
  if (/^\s*%%/.test(lines[0] ?? '') && !/^\s*%%(time|timeit|capture|prun)\b/.test(lines[0] ?? '')) {
    return lines.map((l) => ' '.repeat(l.length)).join('\n');
  }
  return lines.map((l) => (/^\s*[%!]/.test(l) || /^\s*\w+\s*=\s*[!%]/.test(l) ? ' '.repeat(l.length) : l)).join('\n');
}

const SHELL_CELL = /^\s*%%(?:bash|sh|script[ \t]+(?:ba)?sh)\b/;
const ENV_MAGIC = /^(\s*%(?:set_env|env)[ \t]+)([A-Za-z_]\w*)([ \t]*=[ \t]*|[ \t]+)(.*)$/;

/**
 * What IPython hands to a shell in a cell, as shell text of the cell's length with everything else blank, so
 * that a check's offsets are the cell's: `!cmd` lines, the body of `%%bash`/`%%sh` cells, and `%env NAME=value`
 * (`%set_env`) as the assignment `NAME=value`, which sets the variable for the processes the kernel starts.
 */
export function magicShell(cellText: string): string {
  const lines = cellText.split('\n');
  const blank = (l: string): string => ' '.repeat(l.length);
  if (SHELL_CELL.test(lines[0] ?? '')) return [blank(lines[0]!), ...lines.slice(1)].join('\n');
  if (/^\s*%%/.test(lines[0] ?? '') && !/^\s*%%(time|timeit|capture|prun)\b/.test(lines[0] ?? '')) return lines.map(blank).join('\n');
  return lines
    .map((l) => {
      const bang = /^(\s*)!(?!=)(.*)$/.exec(l);
      if (bang) return `${bang[1]} ${bang[2]}`;
      const env = ENV_MAGIC.exec(l);
      // `%env A = b` or `%env A b`: the separator becomes one `=`, the spaces it frees go before the name.
      if (env) return `${blank(env[1]!)}${' '.repeat(env[3]!.length - 1)}${env[2]}=${env[4]}`;
      return blank(l);
    })
    .join('\n');
}

export function notebookProgram(json: string): NotebookProgram {
  const errors: ParseError[] = [];
  let root: JsonNode | undefined;
  try {
    root = parseTree(json, errors, { allowTrailingComma: false, disallowComments: true });
  } catch (err) {
    // The JSON parser recurses per nesting level: arrays nested ~100,000 deep exhaust the stack.
    if (err instanceof RangeError) throw new NotebookError('nests its JSON too deeply to read (not a notebook)');
    throw err;
  }
  if (!root || errors.length > 0) {
    const at = errors[0] ? new LineIndex(json).position(errors[0].offset).line : 1;
    throw new NotebookError(`is not valid notebook JSON (error at line ${at})`);
  }
  const prop = (node: JsonNode | undefined, name: string): JsonNode | undefined =>
    node?.type === 'object' ? node.children?.find((p) => p.children?.[0]?.value === name)?.children?.[1] : undefined;
  // nbformat 4 keeps `cells` at the top with their code in `source`; nbformat 3 keeps them in
  // `worksheets[0].cells` with the code in `input`.
  let cells = prop(root, 'cells');
  let sourceKey = 'source';
  if (!cells && prop(root, 'worksheets')?.type === 'array') {
    cells = prop(prop(root, 'worksheets')!.children?.[0], 'cells');
    sourceKey = 'input';
  }
  if (!cells || cells.type !== 'array') throw new NotebookError('has no `cells` list (not an nbformat 3 or 4 notebook)');
  const index = new LineIndex(json);
  const parts: string[] = [];
  const sources: string[] = [];
  const shells: string[] = [];
  const lines: NotebookLine[] = [];
  (cells.children ?? []).forEach((cell, cellIndex) => {
    if (cell.type !== 'object') return;
    if (prop(cell, 'cell_type')?.value !== 'code') return;
    const strings = sourceStrings(prop(cell, sourceKey));
    let cellText = '';
    let cellLine = 1;
    for (const s of strings) {
      const value = String(s.value ?? '');
      const pos = index.position(s.offset + 1);
      const pieces = value.split('\n');
      pieces.forEach((piece, i) => {
        if (i === pieces.length - 1 && piece === '' && pieces.length > 1) return;
        // Lines inside one JSON string (a cell stored as a single string) share the string's JSON line.
        lines.push({ cell: cellIndex, cellLine, fileLine: pos.line, fileColumn: pos.column });
        cellLine++;
      });
      cellText += value;
    }
    if (strings.length === 0) return;
    const code = cellText.endsWith('\n') ? cellText.slice(0, -1) : cellText;
    parts.push(blankMagics(code));
    sources.push(code);
    shells.push(magicShell(code));
  });
  const shell = shells.join('\n');
  return { text: parts.join('\n'), source: sources.join('\n'), ...(/\S/.test(shell) ? { shell } : {}), lines };
}

export interface CellProgram {
  text: string;
  /** The cells as written and their shell magics, as in NotebookProgram. */
  source: string;
  shell?: string;
  /** Where each cell's text starts in `text` (UTF-16 offset) and on which 0-based program line. */
  cells: { start: number; line: number; length: number }[];
}

/**
 * Code cells' texts (in notebook order) as one Python program, magics blanked with their lengths kept, so
 * that an offset inside a cell maps back by subtracting the cell's start. Used by the language server,
 * which receives cells as separate documents.
 */
export function programFromCells(cellTexts: string[]): CellProgram {
  const cells: CellProgram['cells'] = [];
  let text = '';
  let source = '';
  let shell = '';
  let line = 0;
  for (const cellText of cellTexts) {
    if (cells.length > 0) {
      text += '\n';
      source += '\n';
      shell += '\n';
      line++;
    }
    cells.push({ start: text.length, line, length: cellText.length });
    text += blankMagics(cellText);
    source += cellText;
    shell += magicShell(cellText);
    line += cellText.split(/\r\n|\r|\n/).length - 1;
  }
  return { text, source, ...(/\S/.test(shell) ? { shell } : {}), cells };
}
