// A small Python tokenizer for code actions, which must answer synchronously and so cannot wait for
// tree-sitter: tokens, logical lines, f-string parts, where imports go and which modules a file imports.
// It reads only what the rewrites need and reports `ok: false` on anything it cannot follow.

export type PyTokenKind = 'name' | 'number' | 'string' | 'op' | 'comment';

export interface PyToken {
  kind: PyTokenKind;
  start: number;
  end: number;
  text: string;
}

/** One logical line: the tokens of one statement line, across brackets and backslash continuations. */
export interface PyLine {
  start: number;
  end: number;
  /** Column of the first token on its physical line. */
  indent: number;
  tokens: PyToken[];
}

export interface PySource {
  text: string;
  /** False when a string is unterminated or brackets do not balance: rewrites then stand down. */
  ok: boolean;
  tokens: PyToken[];
  lines: PyLine[];
}

const STRING_PREFIXES = new Set(['r', 'u', 'f', 'b', 't', 'br', 'rb', 'fr', 'rf', 'tr', 'rt']);
const NAME_START = /[A-Za-z_\u00c0-\uffff]/;
const NAME_PART = /[\w\u00c0-\uffff]/;
const NUMBER = /0[xXoObB][\da-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?[jJ]?/y;
const OPERATORS = ['**=', '//=', '>>=', '<<=', '...', '->', ':=', '**', '//', '<<', '>>', '<=', '>=', '==', '!=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '@='];

function isQuote(c: string | undefined): boolean {
  return c === '"' || c === "'";
}

/** If a string literal (with its prefix) starts at `i`, the length of the prefix; else -1. */
function stringPrefixAt(text: string, i: number): number {
  if (isQuote(text[i])) return 0;
  let j = i;
  while (j < text.length && j - i < 2 && /[A-Za-z]/.test(text[j])) j++;
  if (j > i && isQuote(text[j]) && STRING_PREFIXES.has(text.slice(i, j).toLowerCase())) {
    // `rb"..."` only when the prefix is not the tail of a longer name.
    if (i > 0 && NAME_PART.test(text[i - 1])) return -1;
    return j - i;
  }
  return -1;
}

/** End offset of the string literal starting at `i` (prefix included), or -1 when it is unterminated. */
function scanPyString(text: string, i: number): number {
  const prefixLength = stringPrefixAt(text, i);
  if (prefixLength < 0) return -1;
  const prefix = text.slice(i, i + prefixLength).toLowerCase();
  const q = text[i + prefixLength];
  const triple = text.startsWith(q.repeat(3), i + prefixLength);
  const closer = triple ? q.repeat(3) : q;
  const formatted = prefix.includes('f') || prefix.includes('t');
  const raw = prefix.includes('r');
  let j = i + prefixLength + closer.length;
  while (j < text.length) {
    if (text.startsWith(closer, j)) return j + closer.length;
    const c = text[j];
    if (c === '\\') {
      if (formatted && !raw && text[j + 1] === 'N' && text[j + 2] === '{') {
        const close = text.indexOf('}', j + 3);
        if (close === -1) return -1;
        j = close + 1;
        continue;
      }
      j += text[j + 1] === '\r' && text[j + 2] === '\n' ? 3 : 2;
      continue;
    }
    if (!triple && (c === '\n' || c === '\r')) return -1;
    if (formatted && c === '{') {
      if (text[j + 1] === '{') {
        j += 2;
        continue;
      }
      const end = scanReplacementField(text, j + 1);
      if (end < 0) return -1;
      j = end;
      continue;
    }
    j++;
  }
  return -1;
}

/** From just inside `{` of an f-string replacement field to just past its `}`; -1 if it does not close. */
function scanReplacementField(text: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < text.length) {
    const c = text[j];
    if (isQuote(c) || (NAME_START.test(c) && stringPrefixAt(text, j) > 0)) {
      const end = scanPyString(text, j);
      if (end < 0) return -1;
      j = end;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === '}') {
      if (depth === 0) return j + 1;
      depth--;
    } else if (c === ':' && depth === 0) {
      // The format spec: text with nested replacement fields, up to the field's closing brace.
      j++;
      while (j < text.length && text[j] !== '}') {
        if (text[j] === '{') {
          const end = scanReplacementField(text, j + 1);
          if (end < 0) return -1;
          j = end;
        } else j++;
      }
      return j < text.length ? j + 1 : -1;
    }
    j++;
  }
  return -1;
}

// fix-all asks once per finding for the same text: keep the last result.
let lastSource: PySource | undefined;

export function tokenizePython(text: string): PySource {
  if (lastSource?.text === text) return lastSource;
  lastSource = scanPython(text);
  return lastSource;
}

function scanPython(text: string): PySource {
  const tokens: PyToken[] = [];
  const lines: PyLine[] = [];
  let ok = true;
  let depth = 0;
  let current: PyToken[] = [];
  const lineStartOf = (offset: number): number => text.lastIndexOf('\n', offset - 1) + 1;
  const endLine = (): void => {
    if (current.length === 0) return;
    const first = current[0];
    lines.push({ start: first.start, end: current[current.length - 1].end, indent: first.start - lineStartOf(first.start), tokens: current });
    current = [];
  };
  const push = (kind: PyTokenKind, start: number, end: number): void => {
    const token = { kind, start, end, text: text.slice(start, end) };
    tokens.push(token);
    if (kind !== 'comment') current.push(token);
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n' || c === '\r') {
      if (depth === 0) endLine();
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\f') {
      i++;
      continue;
    }
    if (c === '\\' && (text[i + 1] === '\n' || text[i + 1] === '\r')) {
      i += text[i + 1] === '\r' && text[i + 2] === '\n' ? 3 : 2;
      continue;
    }
    if (c === '#') {
      let j = i;
      while (j < text.length && text[j] !== '\n' && text[j] !== '\r') j++;
      push('comment', i, j);
      i = j;
      continue;
    }
    if (isQuote(c) || (NAME_START.test(c) && stringPrefixAt(text, i) > 0)) {
      const end = scanPyString(text, i);
      if (end < 0) {
        ok = false;
        break;
      }
      push('string', i, end);
      i = end;
      continue;
    }
    if (NAME_START.test(c)) {
      let j = i + 1;
      while (j < text.length && NAME_PART.test(text[j])) j++;
      push('name', i, j);
      i = j;
      continue;
    }
    if (/\d/.test(c) || (c === '.' && /\d/.test(text[i + 1] ?? ''))) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      const end = m && m.index === i ? i + m[0].length : i + 1;
      push('number', i, end);
      i = end;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i)) ?? c;
    if (op === '(' || op === '[' || op === '{') depth++;
    if (op === ')' || op === ']' || op === '}') depth--;
    if (depth < 0) {
      ok = false;
      break;
    }
    push('op', i, i + op.length);
    i += op.length;
  }
  if (depth !== 0) ok = false;
  endLine();
  return { text, ok, tokens, lines };
}

// ---- f-strings ----------------------------------------------------------------------------------------

export type FStringPart =
  | { kind: 'text'; value: string }
  | { kind: 'expr'; expr: string; start: number; end: number; conversion: boolean; spec: boolean };

/** The literal text and replacement fields of one f-string token; undefined for other strings or escapes in the text. */
export function parseFString(token: PyToken): { parts: FStringPart[] } | undefined {
  const text = token.text;
  const prefixLength = stringPrefixAt(text, 0);
  const prefix = text.slice(0, prefixLength).toLowerCase();
  if (!prefix.includes('f') || prefix.includes('b') || prefix.includes('t')) return undefined;
  const q = text[prefixLength];
  const quoteLength = text.startsWith(q.repeat(3), prefixLength) ? 3 : 1;
  const body = text.slice(prefixLength + quoteLength, text.length - quoteLength);
  const bodyOffset = token.start + prefixLength + quoteLength;
  const parts: FStringPart[] = [];
  let literal = '';
  let i = 0;
  while (i < body.length) {
    const c = body[i];
    if (c === '\\') return undefined;
    if (c === '{' && body[i + 1] === '{') {
      literal += '{';
      i += 2;
      continue;
    }
    if (c === '}' && body[i + 1] === '}') {
      literal += '}';
      i += 2;
      continue;
    }
    if (c === '{') {
      const end = scanReplacementField(body, i + 1);
      if (end < 0) return undefined;
      if (literal) parts.push({ kind: 'text', value: literal });
      literal = '';
      const inner = body.slice(i + 1, end - 1);
      // Split off `!r` and `:spec` at the top level of the field.
      let depth = 0;
      let cut = inner.length;
      let conversion = false;
      let spec = false;
      for (let k = 0; k < inner.length; k++) {
        const d = inner[k];
        if (isQuote(d)) {
          const e = scanPyString(inner, k);
          if (e < 0) return undefined;
          k = e - 1;
          continue;
        }
        if ('([{'.includes(d)) depth++;
        else if (')]}'.includes(d)) depth--;
        else if (depth === 0 && d === '!' && inner[k + 1] !== '=') {
          conversion = true;
          cut = k;
          break;
        } else if (depth === 0 && d === ':') {
          spec = true;
          cut = k;
          break;
        }
      }
      const expr = inner.slice(0, cut);
      const lead = expr.length - expr.trimStart().length;
      parts.push({
        kind: 'expr',
        expr: expr.trim(),
        start: bodyOffset + i + 1 + lead,
        end: bodyOffset + i + 1 + lead + expr.trim().length,
        conversion,
        spec,
      });
      i = end;
      continue;
    }
    literal += c;
    i++;
  }
  if (literal) parts.push({ kind: 'text', value: literal });
  return { parts };
}

// ---- calls --------------------------------------------------------------------------------------------

export interface PyArgument {
  /** Keyword name for `name=value` arguments. */
  keyword?: string;
  /** `*args` or `**kwargs`. */
  star: boolean;
  /** The value's tokens and its span in the document. */
  tokens: PyToken[];
  start: number;
  end: number;
}

export interface PyCall {
  /** The dotted callee, e.g. `cp.RawKernel`. */
  callee: string;
  calleeStart: number;
  calleeEnd: number;
  args: PyArgument[];
  start: number;
  end: number;
}

/** Reads `dotted.name(args)` spanning exactly [start, end); undefined for any other shape. */
export function readPyCall(src: PySource, start: number, end: number): PyCall | undefined {
  if (!src.ok) return undefined;
  const toks = src.tokens.filter((t) => t.start >= start && t.end <= end && t.kind !== 'comment');
  let k = 0;
  if (toks[0]?.kind !== 'name' || toks[0].start !== start) return undefined;
  k = 1;
  while (toks[k]?.text === '.' && toks[k + 1]?.kind === 'name') k += 2;
  const open = toks[k];
  const close = toks[toks.length - 1];
  if (open?.text !== '(' || close?.text !== ')' || close.end !== end) return undefined;
  const inner = toks.slice(k + 1, toks.length - 1);
  const args: PyArgument[] = [];
  let depth = 0;
  let piece: PyToken[] = [];
  const flush = (): void => {
    if (piece.length === 0) return;
    const star = piece[0].text === '*' || piece[0].text === '**';
    const keyword = piece[0].kind === 'name' && piece[1]?.text === '=' ? piece[0].text : undefined;
    const value = keyword ? piece.slice(2) : star ? piece.slice(1) : piece;
    if (value.length > 0) {
      args.push({ ...(keyword ? { keyword } : {}), star, tokens: value, start: value[0].start, end: value[value.length - 1].end });
    }
    piece = [];
  };
  for (const t of inner) {
    if (t.kind === 'op' && '([{'.includes(t.text)) depth++;
    if (t.kind === 'op' && ')]}'.includes(t.text)) depth--;
    if (depth === 0 && t.text === ',') flush();
    else piece.push(t);
  }
  flush();
  return { callee: src.text.slice(start, toks[k - 1].end), calleeStart: start, calleeEnd: toks[k - 1].end, args, start, end };
}

/** The logical line that holds `offset`. */
export function lineAt(src: PySource, offset: number): PyLine | undefined {
  return src.lines.find((l) => l.start <= offset && offset <= l.end);
}

// ---- imports and where new code goes ------------------------------------------------------------------

export interface PyImport {
  /** The name the import binds. */
  name: string;
  /** The module (or `module.attribute` for from-imports) it binds. */
  target: string;
  topLevel: boolean;
  line: PyLine;
}

/** Every `import` / `from … import` binding in the file. */
export function pythonImports(src: PySource): PyImport[] {
  const out: PyImport[] = [];
  for (const line of src.lines) {
    const t = line.tokens;
    const words = t.map((x) => x.text);
    if (words[0] === 'import') {
      for (const clause of splitTop(t.slice(1))) {
        const dotted = readDotted(clause);
        if (!dotted) continue;
        const alias = clause[dotted.used]?.text === 'as' ? clause[dotted.used + 1]?.text : undefined;
        out.push({ name: alias ?? dotted.name.split('.')[0], target: alias ? dotted.name : dotted.name.split('.')[0], topLevel: line.indent === 0, line });
      }
    } else if (words[0] === 'from') {
      const at = words.indexOf('import');
      if (at < 0) continue;
      const module = words.slice(1, at).join('');
      for (const clause of splitTop(t.slice(at + 1).filter((x) => x.text !== '(' && x.text !== ')'))) {
        const name = clause[0]?.text;
        if (!name || name === '*') continue;
        const alias = clause[1]?.text === 'as' ? clause[2]?.text : undefined;
        out.push({ name: alias ?? name, target: `${module}.${name}`, topLevel: line.indent === 0, line });
      }
    }
  }
  return out;
}

function splitTop(tokens: PyToken[]): PyToken[][] {
  const out: PyToken[][] = [[]];
  for (const t of tokens) {
    if (t.text === ',') out.push([]);
    else out[out.length - 1].push(t);
  }
  return out.filter((c) => c.length > 0);
}

function readDotted(tokens: PyToken[]): { name: string; used: number } | undefined {
  if (tokens[0]?.kind !== 'name') return undefined;
  let name = tokens[0].text;
  let k = 1;
  while (tokens[k]?.text === '.' && tokens[k + 1]?.kind === 'name') {
    name += `.${tokens[k + 1].text}`;
    k += 2;
  }
  return { name, used: k };
}

function isDocstring(line: PyLine): boolean {
  return line.tokens.every((t) => t.kind === 'string');
}

function isImportLine(line: PyLine): boolean {
  const first = line.tokens[0]?.text;
  return line.indent === 0 && (first === 'import' || first === 'from') && !line.tokens.some((t) => t.text === ';');
}

/**
 * Where new imports and module-level helpers go: after the last import of the file's leading import block,
 * else after the module docstring, else before the first statement (so a shebang, an encoding line or a
 * licence comment stays first).
 */
export function pythonInsertionPoint(src: PySource): number {
  const text = src.text;
  let after: number | undefined;
  let k = 0;
  if (src.lines[0] && isDocstring(src.lines[0])) {
    after = src.lines[0].end;
    k = 1;
  }
  for (; k < src.lines.length && isImportLine(src.lines[k]); k++) after = src.lines[k].end;
  if (after !== undefined) {
    const nl = text.indexOf('\n', after);
    return nl === -1 ? text.length : nl + 1;
  }
  const first = src.lines[0];
  return first ? text.lastIndexOf('\n', first.start - 1) + 1 : text.length;
}

/**
 * The name under which module `module` can be used at module level, and the import to add if it is not
 * imported yet. When the plain name is used for something else in the file (a parameter called
 * `operator`), an alias is used instead.
 */
export function pythonModuleName(src: PySource, module: string): { name: string; importLine?: string } {
  const imports = pythonImports(src);
  const alias = `_${module}`;
  const plainImported = imports.some((i) => i.topLevel && i.name === module && i.target === module);
  const importLines = new Set(imports.filter((i) => i.name === module || i.name === alias).map((i) => i.line));
  const clash = src.tokens.some((t, idx) => {
    if (t.kind !== 'name' || t.text !== module) return false;
    const prev = src.tokens[idx - 1];
    const next = src.tokens[idx + 1];
    if (prev?.text === '.' || next?.text === '.') return false;
    return ![...importLines].some((l) => l.tokens.includes(t));
  });
  if (!clash) return plainImported ? { name: module } : { name: module, importLine: `import ${module}` };
  const aliased = imports.some((i) => i.topLevel && i.name === alias && i.target === module);
  return aliased ? { name: alias } : { name: alias, importLine: `import ${module} as ${alias}` };
}

/** True when `name` is bound by an import anywhere in the file (the module a template calls into). */
export function importsName(src: PySource, name: string): boolean {
  return pythonImports(src).some((i) => i.name === name);
}
