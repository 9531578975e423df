// CUDA C++ quick fix for NVRTC: `nvrtcCreateProgram(&prog, src, …)` → `sentinelCreateProgram(&prog, key, …)`,
// an inserted function that compiles only constant kernel sources listed for allowlisted keys and throws
// for any other key. The key is the first runtime value the source was built from.
import { eolOf, type Insertion, type Rewrite, type RewriteContext } from './edits';

export const CUDA_TITLES = {
  kernel: (key: string) => `Compile only allowlisted constant kernel sources, chosen by \`${key}\` (fill in the variants)`,
} as const;

export interface CToken {
  kind: 'name' | 'number' | 'string' | 'char' | 'punct' | 'comment' | 'directive';
  start: number;
  end: number;
  text: string;
}

// fix-all and the allow action ask once per finding for the same text: keep the last result.
let last: { text: string; tokens: CToken[] | undefined } | undefined;

/** Tokens of C++ source; undefined on an unterminated literal or comment. */
export function tokenizeCpp(text: string): CToken[] | undefined {
  if (last?.text !== text) last = { text, tokens: scanCpp(text) };
  return last.tokens;
}

function scanCpp(text: string): CToken[] | undefined {
  const out: CToken[] = [];
  const push = (kind: CToken['kind'], s: number, e: number): void => {
    out.push({ kind, start: s, end: e, text: text.slice(s, e) });
  };
  let i = 0;
  let lineStart = true;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      lineStart = true;
      i++;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#' && lineStart) {
      // A preprocessor line, with its backslash continuations.
      let j = i;
      while (j < text.length && !(text[j] === '\n' && text[j - 1] !== '\\' && !(text[j - 1] === '\r' && text[j - 2] === '\\'))) j++;
      push('directive', i, j);
      i = j;
      continue;
    }
    lineStart = false;
    if (c === '/' && text[i + 1] === '/') {
      let j = i;
      while (j < text.length && !(text[j] === '\n' && text[j - 1] !== '\\')) j++;
      push('comment', i, j);
      i = j;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) return undefined;
      push('comment', i, close + 2);
      i = close + 2;
      continue;
    }
    const raw = /^(?:u8|u|U|L)?R"([^()\\\s]{0,16})\(/.exec(text.slice(i, i + 24));
    if (raw) {
      const close = text.indexOf(`)${raw[1]}"`, i + raw[0].length);
      if (close < 0) return undefined;
      push('string', i, close + raw[1].length + 2);
      i = close + raw[1].length + 2;
      continue;
    }
    const quoted = /^(?:u8|u|U|L)?(["'])/.exec(text.slice(i, i + 3));
    if (quoted && (i === 0 || !/[\w]/.test(text[i - 1]) || /^(u8|u|U|L)$/.test(text.slice(i, i + quoted[0].length - 1)))) {
      const q = quoted[1];
      let j = i + quoted[0].length;
      while (j < text.length && text[j] !== q) {
        if (text[j] === '\n') return undefined;
        j += text[j] === '\\' ? 2 : 1;
      }
      if (j >= text.length) return undefined;
      push(q === '"' ? 'string' : 'char', i, j + 1);
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /\w/.test(text[j])) j++;
      push('name', i, j);
      i = j;
      continue;
    }
    if (/\d/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[\w.']/.test(text[j])) j++;
      push('number', i, j);
      i = j;
      continue;
    }
    const p = ['::', '->', '++', '--', '==', '!=', '<=', '>=', '&&', '||', '+=', '-='].find((x) => text.startsWith(x, i)) ?? c;
    push('punct', i, i + p.length);
    i += p.length;
  }
  return out;
}

function splitTop(tokens: CToken[], separator: string): CToken[][] {
  const out: CToken[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'punct' && '([{'.includes(t.text)) depth++;
    if (t.kind === 'punct' && ')]}'.includes(t.text)) depth--;
    if (depth === 0 && t.text === separator) out.push([]);
    else out[out.length - 1].push(t);
  }
  return out;
}

/** The first term of a `+` concatenation that is a runtime value rather than string literal text. */
function firstRuntimeTerm(text: string, tokens: CToken[]): string | undefined {
  for (const term of splitTop(tokens, '+')) {
    if (term.length === 0) continue;
    if (term.every((t) => t.kind === 'string')) continue;
    // std::string("…") wrapping literal text is still literal text.
    const names = term.filter((t) => t.kind === 'name').map((t) => t.text);
    if (term.some((t) => t.kind === 'string') && names.every((n) => n === 'std' || n === 'string')) continue;
    if (term.every((t) => t.kind === 'name' || t.kind === 'number' || (t.kind === 'punct' && /^(::|\.|->|\[|\]|\(|\))$/.test(t.text)))) {
      return text.slice(term[0].start, term[term.length - 1].end).replace(/\.c_str\(\)$/, '');
    }
    return undefined;
  }
  return undefined;
}

/** Whether the `)` at `close` ends a function's parameter list (not an `if (…) {` or a loop header). */
function isFunctionBody(tokens: CToken[], close: number): boolean {
  let depth = 0;
  for (let k = close; k >= 0; k--) {
    if (tokens[k].text === ')') depth++;
    if (tokens[k].text === '(') depth--;
    if (depth === 0) return tokens[k - 1]?.kind === 'name' && !['if', 'for', 'while', 'switch', 'catch'].includes(tokens[k - 1].text);
  }
  return false;
}

/** Where the helper goes: after the last `#include` at the outermost conditional level that has includes. */
function includeInsertionPoint(text: string, tokens: CToken[]): { offset: number; includes: Set<string> } {
  let depth = 0;
  const includes: { depth: number; end: number; header: string }[] = [];
  for (const t of tokens) {
    if (t.kind !== 'directive') continue;
    const m = /^#\s*(\w+)\s*(.*)/.exec(t.text);
    const word = m?.[1] ?? '';
    if (/^if/.test(word)) depth++;
    else if (word === 'endif') depth--;
    else if (word === 'include') includes.push({ depth, end: t.end, header: (m?.[2] ?? '').trim() });
  }
  const headers = new Set(includes.map((i) => i.header));
  if (includes.length === 0) {
    const first = tokens.find((t) => t.kind !== 'comment');
    return { offset: first ? text.lastIndexOf('\n', first.start - 1) + 1 : 0, includes: headers };
  }
  const outer = Math.min(...includes.map((i) => i.depth));
  const last = includes.filter((i) => i.depth === outer).pop()!;
  const nl = text.indexOf('\n', last.end);
  return { offset: nl === -1 ? text.length : nl + 1, includes: headers };
}

export function cudaRewrites(ctx: RewriteContext): Rewrite[] {
  const { finding, text } = ctx;
  if (finding.evidence.api !== 'nvrtcCreateProgram') return [];
  const tokens = tokenizeCpp(text);
  if (!tokens) return [];
  const { startOffset: start, endOffset: end } = finding.evidence;
  const callTokens = tokens.filter((t) => t.start >= start && t.end <= end && t.kind !== 'comment');
  if (callTokens[0]?.text !== 'nvrtcCreateProgram' || callTokens[1]?.text !== '(' || callTokens[callTokens.length - 1]?.text !== ')') return [];
  const args = splitTop(callTokens.slice(2, -1), ',');
  if (args.length !== 6 || args.some((a) => a.length === 0)) return [];
  const source = args[1];
  const sourceText = text.slice(source[0].start, source[source.length - 1].end);

  // The key: for `src.c_str()` / `src`, the first runtime value `src` was built from; else the argument.
  let key = sourceText;
  const variable = /^([A-Za-z_]\w*)(?:\.c_str\(\)|\.data\(\))?$/.exec(sourceText)?.[1];
  if (variable) {
    // Without an assignment to follow (a parameter), the string itself is the key.
    if (sourceText.endsWith('.c_str()')) key = variable;
    const before = tokens.filter((t) => t.end <= start && t.kind !== 'comment' && t.kind !== 'directive');
    for (let k = before.length - 2; k >= 0; k--) {
      if (before[k].text === variable && before[k + 1].text === '=' && before[k - 1]?.text !== '.' && before[k - 1]?.text !== '->') {
        const semi = before.findIndex((t, idx) => idx > k + 1 && t.text === ';');
        const value = before.slice(k + 2, semi < 0 ? before.length : semi);
        key = firstRuntimeTerm(text, value) ?? sourceText;
        break;
      }
      if (before[k].text === '{' && before[k - 1]?.text === ')' && isFunctionBody(before, k - 1)) break;
    }
  }

  const eol = eolOf(text);
  const { offset, includes } = includeInsertionPoint(text, tokens);
  const insertions: Insertion[] = [];
  for (const header of ['<stdexcept>', '<string>']) {
    if (!includes.has(header)) insertions.push({ key: `cuda:include:${header}`, offset, text: `#include ${header}${eol}`, order: 0 });
  }
  if (!/\bsentinelCreateProgram\s*\(/.test(text)) {
    const helper = [
      '',
      '// Sentinel (JIT-DYNAMIC-KERNEL): NVRTC compiles only constant kernel sources, one per allowlisted key;',
      '// any other key throws before anything is compiled.',
      'static inline nvrtcResult sentinelCreateProgram(nvrtcProgram* prog, const std::string& key, const char* name,',
      '                                                int numHeaders, const char* const* headers,',
      '                                                const char* const* includeNames) {',
      '  // One line per allowed variant, each with a constant source, e.g.:',
      '  // if (key == "relu") return nvrtcCreateProgram(prog, kReluSource, name, numHeaders, headers, includeNames);',
      '  (void)prog;',
      '  (void)name;',
      '  (void)numHeaders;',
      '  (void)headers;',
      '  (void)includeNames;',
      '  throw std::invalid_argument("kernel variant \'" + key + "\' is not allowlisted");',
      '}',
      '',
      'static inline nvrtcResult sentinelCreateProgram(nvrtcProgram* prog, const char* key, const char* name, int numHeaders,',
      '                                                const char* const* headers, const char* const* includeNames) {',
      '  if (key == nullptr) throw std::invalid_argument("kernel variant is missing");',
      '  return sentinelCreateProgram(prog, std::string(key), name, numHeaders, headers, includeNames);',
      '}',
      '',
    ];
    insertions.push({ key: 'cuda:helper:sentinelCreateProgram', offset, text: helper.join(eol), order: 1 });
  }
  const rest = args.map((a) => text.slice(a[0].start, a[a.length - 1].end));
  rest[1] = key;
  return [{
    title: CUDA_TITLES.kernel(key),
    safe: false,
    preferred: true,
    edits: [{ start, end, newText: `sentinelCreateProgram(${rest.join(', ')})` }],
    insertions,
  }];
}
