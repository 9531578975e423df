// JavaScript/TypeScript quick fixes: `new Function("a", "b", "return a " + op + " b")` and
// eval(`${a} ${op} ${b}`) → an inserted operator-map helper that throws on unknown operators;
// eval(s) → JSON.parse(s); a JIT cache variable → a per-user folder created with mode 0700.
import { cacheFolderName } from './cacheDir';
import { cacheValueIn, eolOf, type Insertion, type Rewrite, type RewriteContext } from './edits';
import { boundModule, javascriptInsertionPoint, type JsToken, readJsCall, stringValue, templateParts, tokenizeJs, usesEsm } from './javascriptSource';

export const JS_TITLES = {
  operatorFunction: 'Replace Function() with an explicit operator map (+ - * / % **)',
  operatorEval: 'Replace eval() with an explicit operator map (+ - * / % **)',
  json: 'Use JSON.parse() (if the string only holds JSON literal values)',
  cache: (name: string) => `Use a per-user cache directory (~/.cache/${name}, created with mode 0700)`,
} as const;

const SIMPLE_OPERAND = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/;
const OPERATORS = ['+', '-', '*', '/', '%', '**'];

type Segment = { kind: 'text'; value: string } | { kind: 'expr'; expr: string };

/** Inserted imports and helpers for one file, at the point after its imports. */
class JsInserter {
  readonly insertions: Insertion[] = [];
  readonly offset: number | undefined;
  private readonly eol: string;

  constructor(private readonly ctx: RewriteContext) {
    this.offset = javascriptInsertionPoint(ctx.text);
    this.eol = eolOf(ctx.text);
  }

  get typed(): boolean {
    return this.ctx.lang === 'typescript' || this.ctx.lang === 'tsx';
  }

  /** The identifier bound to Node module `module`, adding an import when the file has none. */
  module(module: string): string {
    const text = this.ctx.text;
    const bound = boundModule(text, module);
    if (bound) return bound;
    const cap = module[0].toUpperCase() + module.slice(1);
    const name = [module, `node${cap}`, `sentinel${cap}`].find((n) => !new RegExp(`(^|[^\\w$.])${n.replace('$', '\\$')}($|[^\\w$])`).test(text))!;
    const specifier = /['"](?:os|fs|path|child_process|crypto|util|url|http|https|events|stream)['"]/.test(text) && !/['"]node:/.test(text) ? module : `node:${module}`;
    const line = usesEsm(text, this.ctx.uri) ? `import * as ${name} from '${specifier}';` : `const ${name} = require('${specifier}');`;
    if (this.offset !== undefined) {
      const lead = this.offset === text.length && text.length > 0 && !text.endsWith('\n') ? this.eol : '';
      this.insertions.push({ key: `js:import:${module}`, offset: this.offset, text: `${lead}${line}${this.eol}`, order: 0 });
    }
    return name;
  }

  helper(name: string, lines: string[]): void {
    if (this.offset === undefined || new RegExp(`function\\s+${name}\\s*\\(`).test(this.ctx.text)) return;
    const text = this.ctx.text;
    const eol = this.eol;
    const nl = text.indexOf('\n', this.offset);
    const following = text.slice(this.offset, nl === -1 ? text.length : nl);
    const before = this.offset === 0 ? '' : eol;
    const after = this.offset === 0 || !/^[ \t]*\r?$/.test(following) ? `${eol}${eol}` : eol;
    this.insertions.push({ key: `js:helper:${name}`, offset: this.offset, text: `${before}${lines.join(eol)}${after}`, order: 1 });
  }
}

export function javascriptRewrites(ctx: RewriteContext): Rewrite[] {
  const { finding } = ctx;
  const kind = finding.fix?.kind ?? (finding.ruleId === 'JIT-CACHE-POISONING' ? 'per-user-cache' : 'operator-map');
  if (kind === 'per-user-cache') return cacheRewrites(ctx);
  if (kind !== 'operator-map') return [];
  const call = readJsCall(ctx.text, finding.evidence.startOffset, finding.evidence.endOffset);
  if (!call) return [];
  const api = finding.evidence.api;
  if (api === 'Function') return functionRewrites(ctx, call.args.map((a) => a.tokens));
  if (api === 'eval' && call.args.length === 1) return evalRewrites(ctx, call.args[0].tokens, ctx.text.slice(call.args[0].start, call.args[0].end));
  return [];
}

/** The literal text and the expressions of a string built by a template literal or by `+` concatenation. */
function segments(text: string, tokens: JsToken[]): Segment[] | undefined {
  if (tokens.length === 1 && tokens[0].kind === 'template') return templateParts(tokens[0]);
  const terms: JsToken[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'punct' && /^[([{]$/.test(t.text)) depth++;
    if (t.kind === 'punct' && /^[)\]}]$/.test(t.text)) depth--;
    if (depth === 0 && t.text === '+') terms.push([]);
    else terms[terms.length - 1].push(t);
  }
  if (terms.length < 2 || terms.some((t) => t.length === 0)) return undefined;
  const out: Segment[] = [];
  for (const term of terms) {
    const value = term.length === 1 ? stringValue(term[0]) : undefined;
    if (value !== undefined) out.push({ kind: 'text', value });
    else if (term.length === 1 && term[0].kind === 'template') {
      const parts = templateParts(term[0]);
      if (!parts) return undefined;
      out.push(...parts);
    } else out.push({ kind: 'expr', expr: text.slice(term[0].start, term[term.length - 1].end) });
  }
  // Adjacent literal pieces read as one.
  return out.reduce<Segment[]>((acc, s) => {
    const last = acc[acc.length - 1];
    if (s.kind === 'text' && last?.kind === 'text') acc[acc.length - 1] = { kind: 'text', value: last.value + s.value };
    else acc.push(s);
    return acc;
  }, []);
}

function operatorHelper(typed: boolean): string[] {
  const fn = typed ? '(a: number, b: number) => number' : '';
  return [
    '// Sentinel (JIT-EVAL-COMPILE): an explicit operator map instead of compiled code; unknown operators throw.',
    typed ? `function sentinelBinaryOperation(operator: unknown): ${fn} {` : 'function sentinelBinaryOperation(operator) {',
    typed ? `  const operations: Record<string, ${fn}> = {` : '  const operations = {',
    ...OPERATORS.map((op) => `    '${op}': (a, b) => a ${op} b,`),
    '  };',
    "  const operation = typeof operator === 'string' && Object.prototype.hasOwnProperty.call(operations, operator) ? operations[operator] : undefined;",
    '  if (operation === undefined) {',
    "    throw new Error(`operator ${JSON.stringify(operator)} is not allowed (allowed: ${Object.keys(operations).join(' ')})`);",
    '  }',
    '  return operation;',
    '}',
  ];
}

/** `new Function("a", "b", "return a " + op + " b")`: a function that applies one operator to its two parameters. */
function functionRewrites(ctx: RewriteContext, args: JsToken[][]): Rewrite[] {
  let params: string[];
  let body: JsToken[];
  if (args.length === 3) {
    params = [stringValue(args[0].length === 1 ? args[0][0] : undefined) ?? '', stringValue(args[1].length === 1 ? args[1][0] : undefined) ?? ''];
    body = args[2];
  } else if (args.length === 2) {
    params = (stringValue(args[0].length === 1 ? args[0][0] : undefined) ?? '').split(',');
    body = args[1];
  } else return [];
  const [p1, p2] = params.map((p) => p.trim());
  if (params.length !== 2 || !/^[A-Za-z_$][\w$]*$/.test(p1) || !/^[A-Za-z_$][\w$]*$/.test(p2) || p1 === p2) return [];
  const parts = segments(ctx.text, body);
  if (!parts || parts.length !== 3) return [];
  const [head, op, tail] = parts;
  if (head.kind !== 'text' || op.kind !== 'expr' || tail.kind !== 'text' || !SIMPLE_OPERAND.test(op.expr)) return [];
  if (!new RegExp(`^\\s*return\\s+${p1.replace('$', '\\$')}\\s*$`).test(head.value)) return [];
  if (!new RegExp(`^\\s*${p2.replace('$', '\\$')}\\s*;?\\s*$`).test(tail.value)) return [];
  const inserter = new JsInserter(ctx);
  if (inserter.offset === undefined) return [];
  inserter.helper('sentinelBinaryOperation', operatorHelper(inserter.typed));
  const { startOffset, endOffset } = ctx.finding.evidence;
  return [{
    title: JS_TITLES.operatorFunction,
    safe: true,
    preferred: true,
    edits: [{ start: startOffset, end: endOffset, newText: `sentinelBinaryOperation(${op.expr})` }],
    insertions: inserter.insertions,
  }];
}

function evalRewrites(ctx: RewriteContext, tokens: JsToken[], argument: string): Rewrite[] {
  const { startOffset, endOffset } = ctx.finding.evidence;
  const parts = segments(ctx.text, tokens);
  if (parts) {
    const exprs = parts.filter((p): p is Extract<Segment, { kind: 'expr' }> => p.kind === 'expr');
    const exact =
      exprs.length === 3 &&
      parts[0].kind === 'expr' &&
      parts[parts.length - 1].kind === 'expr' &&
      parts.every((p) => (p.kind === 'text' ? /^[ \t]*$/.test(p.value) : SIMPLE_OPERAND.test(p.expr)));
    if (exact) {
      const [left, op, right] = exprs.map((e) => e.expr);
      const inserter = new JsInserter(ctx);
      if (inserter.offset === undefined) return [];
      inserter.helper('sentinelBinaryOperation', operatorHelper(inserter.typed));
      // The operands reach eval() as text and are read back as numbers: Number() reads most of them the same
      // way, but not all ("010", arrays), so this is an explicit quick fix, not part of fix-all.
      return [{
        title: JS_TITLES.operatorEval,
        safe: false,
        preferred: true,
        edits: [{ start: startOffset, end: endOffset, newText: `sentinelBinaryOperation(${op})(Number(${left}), Number(${right}))` }],
        insertions: inserter.insertions,
      }];
    }
  }
  // A string assembled from literal code text is not data: JSON.parse() could only reject it.
  if (tokens.some((t) => t.kind === 'string' || t.kind === 'template')) return [];
  return [{ title: JS_TITLES.json, safe: false, preferred: true, edits: [{ start: startOffset, end: endOffset, newText: `JSON.parse(${argument})` }], insertions: [] }];
}

function cacheRewrites(ctx: RewriteContext): Rewrite[] {
  const { finding, text } = ctx;
  const located = cacheValueIn(finding, text);
  const { endOffset: end } = finding.evidence;
  if (!located || located.valueStart + located.value.length !== end) return [];
  const { variable, valueStart } = located;
  // The value must be one whole expression of the assignment: the tokens it covers end exactly at the span's end.
  if (!tokenizeJs(text, valueStart, end)) return [];
  const inserter = new JsInserter(ctx);
  if (inserter.offset === undefined) return [];
  const os = inserter.module('os');
  const path = inserter.module('path');
  const fs = inserter.module('fs');
  const typed = inserter.typed;
  inserter.helper('sentinelPrivateCacheDir', [
    '// Sentinel (JIT-CACHE-POISONING): a per-user JIT cache folder, ~/.cache/<name>, that only its owner can write.',
    typed ? 'function sentinelPrivateCacheDir(name: string): string {' : 'function sentinelPrivateCacheDir(name) {',
    `  const dir = ${path}.join(${os}.homedir(), '.cache', name);`,
    `  ${fs}.mkdirSync(dir, { recursive: true, mode: 0o700 });`,
    `  ${fs}.chmodSync(dir, 0o700);`,
    '  return dir;',
    '}',
  ]);
  const name = cacheFolderName(variable);
  return [{
    title: JS_TITLES.cache(name),
    safe: false,
    preferred: true,
    edits: [{ start: valueStart, end, newText: `sentinelPrivateCacheDir('${name}')` }],
    insertions: inserter.insertions,
  }];
}
