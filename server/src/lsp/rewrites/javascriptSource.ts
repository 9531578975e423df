// A small JavaScript/TypeScript tokenizer for code actions (which answer synchronously, without
// tree-sitter): the tokens of one call, template literal parts, where imports and helpers go and which
// Node modules a file already binds. Anything it cannot follow makes it return undefined.

export type JsTokenKind = 'name' | 'number' | 'string' | 'template' | 'regex' | 'punct' | 'comment';

export interface JsToken {
  kind: JsTokenKind;
  start: number;
  end: number;
  text: string;
}

const NAME_START = /[A-Za-z_$\u00c0-\uffff]/;
const NAME_PART = /[\w$\u00c0-\uffff]/;
const PUNCTUATORS = [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '**', '<<', '>>',
];
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/** End of the quoted string starting at `i`, or -1. */
function scanQuoted(text: string, i: number): number {
  const q = text[i];
  let j = i + 1;
  while (j < text.length) {
    const c = text[j];
    if (c === '\\') j += 2;
    else if (c === q) return j + 1;
    else if (c === '\n') return -1;
    else j++;
  }
  return -1;
}

/** End of the template literal starting at the backtick `i`, following `${…}` with nested code; or -1. */
function scanTemplate(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length) {
    const c = text[j];
    if (c === '\\') j += 2;
    else if (c === '`') return j + 1;
    else if (c === '$' && text[j + 1] === '{') {
      const end = scanCodeUntilBrace(text, j + 2);
      if (end < 0) return -1;
      j = end;
    } else j++;
  }
  return -1;
}

/** From inside `${` to just past its matching `}`. */
function scanCodeUntilBrace(text: string, i: number): number {
  const tokens = tokenizeJs(text, i, text.length, { untilBrace: true });
  if (!tokens) return -1;
  const last = tokens[tokens.length - 1];
  return last && last.text === '}' ? last.end : -1;
}

/**
 * Tokens of `text` between `start` and `end`. With `untilBrace`, stops after the `}` that closes an
 * already-open `${`. Undefined when a literal does not terminate, unless `partial` asks for the tokens
 * read up to there.
 */
export function tokenizeJs(text: string, start: number, end: number, options: { untilBrace?: boolean; partial?: boolean } = {}): JsToken[] | undefined {
  const { untilBrace = false, partial = false } = options;
  const out: JsToken[] = [];
  const fail = (): JsToken[] | undefined => (partial ? out : undefined);
  let depth = 0;
  let i = start;
  const significant = (): JsToken | undefined => {
    for (let k = out.length - 1; k >= 0; k--) if (out[k].kind !== 'comment') return out[k];
    return undefined;
  };
  const push = (kind: JsTokenKind, s: number, e: number): void => {
    out.push({ kind, start: s, end: e, text: text.slice(s, e) });
  };
  while (i < end) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const nl = text.indexOf('\n', i);
      const e = nl === -1 ? end : Math.min(nl, end);
      push('comment', i, e);
      i = e;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close === -1) return fail();
      push('comment', i, close + 2);
      i = close + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      const e = scanQuoted(text, i);
      if (e < 0) return fail();
      push('string', i, e);
      i = e;
      continue;
    }
    if (c === '`') {
      const e = scanTemplate(text, i);
      if (e < 0) return fail();
      push('template', i, e);
      i = e;
      continue;
    }
    if (NAME_START.test(c)) {
      let j = i + 1;
      while (j < end && NAME_PART.test(text[j])) j++;
      push('name', i, j);
      i = j;
      continue;
    }
    if (/\d/.test(c) || (c === '.' && /\d/.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < end && /[\w.]/.test(text[j])) j++;
      push('number', i, j);
      i = j;
      continue;
    }
    if (c === '/') {
      const prev = significant();
      const regexAllowed = !prev || (prev.kind === 'punct' && !/^[)\]}]$/.test(prev.text)) || (prev.kind === 'name' && REGEX_AFTER_WORD.has(prev.text));
      if (regexAllowed) {
        let j = i + 1;
        let inClass = false;
        while (j < end && text[j] !== '\n') {
          if (text[j] === '\\') j += 2;
          else if (text[j] === '/' && !inClass) break;
          else {
            if (text[j] === '[') inClass = true;
            if (text[j] === ']') inClass = false;
            j++;
          }
        }
        if (text[j] !== '/') return fail();
        j++;
        while (j < end && /[a-z]/i.test(text[j])) j++;
        push('regex', i, j);
        i = j;
        continue;
      }
    }
    const p = PUNCTUATORS.find((x) => text.startsWith(x, i)) ?? c;
    if (p === '{' || p === '(' || p === '[') depth++;
    if (p === '}' || p === ')' || p === ']') depth--;
    push('punct', i, i + p.length);
    i += p.length;
    if (untilBrace && depth < 0) return out;
  }
  return untilBrace ? fail() : out;
}

export type TemplatePart = { kind: 'text'; value: string } | { kind: 'expr'; expr: string };

/** The text and `${}` parts of a template literal token; undefined when the text holds escapes. */
export function templateParts(token: JsToken): TemplatePart[] | undefined {
  const text = token.text;
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 1;
  while (i < text.length - 1) {
    const c = text[i];
    if (c === '\\') return undefined;
    if (c === '$' && text[i + 1] === '{') {
      const close = scanCodeUntilBrace(text, i + 2);
      if (close < 0) return undefined;
      if (literal) parts.push({ kind: 'text', value: literal });
      literal = '';
      parts.push({ kind: 'expr', expr: text.slice(i + 2, close - 1).trim() });
      i = close;
      continue;
    }
    literal += c;
    i++;
  }
  if (literal) parts.push({ kind: 'text', value: literal });
  return parts;
}

/** The value of a plain quoted string token without escapes; undefined otherwise. */
export function stringValue(token: JsToken | undefined): string | undefined {
  if (!token || token.kind !== 'string' || token.text.includes('\\')) return undefined;
  return token.text.slice(1, -1);
}

export interface JsCall {
  isNew: boolean;
  callee: string;
  args: { tokens: JsToken[]; start: number; end: number }[];
  start: number;
  end: number;
}

/** Reads `[new] dotted.name(args)` spanning exactly [start, end). */
export function readJsCall(text: string, start: number, end: number): JsCall | undefined {
  const toks = tokenizeJs(text, start, end)?.filter((t) => t.kind !== 'comment');
  if (!toks || toks.length < 3) return undefined;
  let k = 0;
  const isNew = toks[0].text === 'new';
  if (isNew) k++;
  if (toks[k]?.kind !== 'name') return undefined;
  const calleeStart = toks[k].start;
  k++;
  while (toks[k]?.text === '.' && toks[k + 1]?.kind === 'name') k += 2;
  const calleeEnd = toks[k - 1].end;
  if (toks[k]?.text !== '(' || toks[toks.length - 1].text !== ')' || toks[toks.length - 1].end !== end || toks[0].start !== start) return undefined;
  const inner = toks.slice(k + 1, -1);
  const args: JsCall['args'] = [];
  let depth = 0;
  let piece: JsToken[] = [];
  const flush = (): void => {
    if (piece.length) args.push({ tokens: piece, start: piece[0].start, end: piece[piece.length - 1].end });
    piece = [];
  };
  for (const t of inner) {
    if (t.kind === 'punct' && /^[([{]$/.test(t.text)) depth++;
    if (t.kind === 'punct' && /^[)\]}]$/.test(t.text)) depth--;
    if (depth === 0 && t.text === ',') flush();
    else piece.push(t);
  }
  flush();
  if (depth !== 0) return undefined;
  return { isNew, callee: text.slice(calleeStart, calleeEnd), args, start, end };
}

// ---- where new code goes ------------------------------------------------------------------------------

/**
 * Offset where imports and helpers go: after the leading `'use strict'`, import declarations and
 * `require()` bindings; else before the first statement (so a shebang and leading comments stay first).
 */
export function javascriptInsertionPoint(text: string): number | undefined {
  let from = 0;
  if (text.startsWith('#!')) from = text.indexOf('\n') + 1 || text.length;
  // Only the head of the file is read: headers are short, and a bound keeps this fast on large files.
  const limit = Math.min(text.length, from + 20000);
  const toks = tokenizeJs(text, from, limit, { partial: true });
  if (!toks) return undefined;
  const code = toks.filter((t) => t.kind !== 'comment');
  let k = 0;
  let after: number | undefined;
  const statementEnd = (idx: number): number => {
    // Optional semicolon after the last token of the statement.
    const next = code[idx + 1];
    return next?.text === ';' ? idx + 1 : idx;
  };
  while (k < code.length) {
    const t = code[k];
    if (t.kind === 'string' && /^['"]use strict['"]$/.test(t.text)) {
      k = statementEnd(k);
      after = code[k].end;
      k++;
      continue;
    }
    if (t.text === 'import' && code[k + 1]?.text !== '(' && code[k + 1]?.text !== '.') {
      // import 'x' | import … from 'x' | import x = require('x')
      let j = k + 1;
      while (j < code.length && !(code[j].kind === 'string' && (code[j - 1].text === 'from' || code[j - 1].text === 'import' || code[j - 1].text === '('))) j++;
      if (j >= code.length) break;
      if (code[j + 1]?.text === ')') j++;
      if ((code[j + 1]?.text === 'with' || code[j + 1]?.text === 'assert') && code[j + 2]?.text === '{') {
        let m = j + 2;
        while (m < code.length && code[m].text !== '}') m++;
        j = m;
      }
      k = statementEnd(j);
      after = code[k].end;
      k++;
      continue;
    }
    if ((t.text === 'const' || t.text === 'let' || t.text === 'var') && code[k + 1]) {
      let j = k + 1;
      let depth = 0;
      while (j < code.length && !(depth === 0 && code[j].text === '=')) {
        if (code[j].text === '{' || code[j].text === '[') depth++;
        if (code[j].text === '}' || code[j].text === ']') depth--;
        j++;
      }
      if (code[j + 1]?.text === 'require' && code[j + 2]?.text === '(' && code[j + 3]?.kind === 'string' && code[j + 4]?.text === ')') {
        j += 4;
        while (code[j + 1]?.text === '.' && code[j + 2]?.kind === 'name') j += 2;
        k = statementEnd(j);
        after = code[k].end;
        k++;
        continue;
      }
    }
    break;
  }
  if (after !== undefined) {
    const nl = text.indexOf('\n', after);
    return nl === -1 ? text.length : nl + 1;
  }
  const first = code[0];
  return first ? text.lastIndexOf('\n', first.start - 1) + 1 : from;
}

/** True when the file uses ES module syntax (then new imports are `import`, else `require`). */
export function usesEsm(text: string, uri: string): boolean {
  if (/^\s*(import\s+[\w*{'"]|import\s*\{|export\s)/m.test(text)) return true;
  if (/\brequire\s*\(/.test(text)) return false;
  return /\.(mjs|mts|ts|tsx)$/i.test(uri);
}

/** The identifier a file binds Node module `module` to as a whole (namespace, default or require). */
export function boundModule(text: string, module: string): string | undefined {
  const spec = `['"](?:node:)?${module}['"]`;
  const patterns = [
    new RegExp(`import\\s+\\*\\s+as\\s+([A-Za-z_$][\\w$]*)\\s+from\\s+${spec}`),
    new RegExp(`import\\s+([A-Za-z_$][\\w$]*)\\s*(?:,\\s*\\{[^}]*\\})?\\s+from\\s+${spec}`),
    new RegExp(`import\\s+([A-Za-z_$][\\w$]*)\\s*=\\s*require\\(\\s*${spec}\\s*\\)`),
    new RegExp(`(?:const|let|var)\\s+([A-Za-z_$][\\w$]*)\\s*=\\s*require\\(\\s*${spec}\\s*\\)\\s*[;\\n]`),
  ];
  for (const re of patterns) {
    const m = re.exec(text);
    if (m && m[1] !== 'type') return m[1];
  }
  return undefined;
}
