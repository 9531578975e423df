// Python quick fixes: eval() → operator map / map of module functions / arithmetic-only evaluator /
// ast.literal_eval; kernel compiler calls → a table of precompiled kernels behind an allowlist guard; a
// JIT cache variable → a per-user folder created with mode 0700.
import { cacheFolderName } from './cacheDir';
import { cacheValueIn, eolOf, type Insertion, type Rewrite, type RewriteContext } from './edits';
import {
  type FStringPart,
  importsName,
  lineAt,
  parseFString,
  type PyArgument,
  type PyCall,
  type PySource,
  type PyToken,
  pythonInsertionPoint,
  pythonModuleName,
  readPyCall,
  tokenizePython,
} from './pythonSource';

/** The operators `eval(f"{a} {op} {b}")` may use after the fix, each mapped to its `operator` function. */
const BINARY_OPERATORS: [string, string][] = [
  ['+', 'add'],
  ['-', 'sub'],
  ['*', 'mul'],
  ['/', 'truediv'],
  ['//', 'floordiv'],
  ['%', 'mod'],
  // No `**`: in `eval("-3 ** 2")` the power binds tighter than the sign (-9) but pow(-3, 2) is 9.
];

/** Functions a `eval(f"torch.{op}(x)")` call may pick after the fix, per module the template names. */
export const MODULE_FUNCTIONS: Record<string, string[]> = {
  torch: ['sum', 'mean', 'max', 'min', 'prod'],
  numpy: ['sum', 'mean', 'max', 'min', 'prod'],
  np: ['sum', 'mean', 'max', 'min', 'prod'],
  math: ['fsum', 'prod', 'sqrt', 'exp', 'log', 'floor', 'ceil'],
};

export const PY_TITLES = {
  operatorMap: 'Replace eval() with an explicit operator map (+ - * / // %)',
  moduleMap: (module: string, names: string[]) => `Replace eval() with an explicit map of ${module} functions (${names.join(', ')})`,
  arithmetic: 'Evaluate with an inserted _sentinel_eval_arithmetic() (if the string only holds numbers and + - * / // % **)',
  literal: 'Use ast.literal_eval() (if the string only holds literal values)',
  kernel: (key: string) => `Use kernels precompiled from constant sources, chosen by an allowlisted \`${key}\` (fill in the variants)`,
  cache: (name: string) => `Use a per-user cache directory (~/.cache/${name}, created with mode 0700)`,
} as const;

const SIMPLE_OPERAND = /^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$/;
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else', 'for', 'lambda', 'await', 'None', 'True', 'False', 'yield']);

/** Imports and module-level helpers for one file, all placed where `pythonInsertionPoint` says. */
class PyInserter {
  readonly insertions: Insertion[] = [];
  private readonly offset: number;
  private readonly eol: string;

  constructor(private readonly src: PySource) {
    this.offset = pythonInsertionPoint(src);
    this.eol = eolOf(src.text);
  }

  /** The name to use for `module`, adding its import when the file lacks it. */
  module(module: string): string {
    const { name, importLine } = pythonModuleName(this.src, module);
    if (importLine) {
      const text = this.src.text;
      const lead = this.offset === text.length && text.length > 0 && !text.endsWith('\n') ? this.eol : '';
      this.insertions.push({ key: `python:import:${importLine}`, offset: this.offset, text: `${lead}${importLine}${this.eol}`, order: 0 });
    }
    return name;
  }

  /** A module-level helper (skipped when a helper of that name is already in the file). */
  helper(name: string, lines: string[]): void {
    if (new RegExp(`^(def\\s+${name}\\s*\\(|${name}\\s*=)`, 'm').test(this.src.text)) return;
    const text = this.src.text;
    const eol = this.eol;
    // PEP 8: two blank lines around a top-level definition, counting the blank lines already there.
    const blankAfter = /^(?:[ \t]*\r?\n)*/.exec(text.slice(this.offset))![0].split('\n').length - 1;
    const before = this.offset === 0 ? '' : `${eol}${eol}`;
    const after = eol + eol.repeat(Math.max(0, 2 - blankAfter));
    this.insertions.push({ key: `python:helper:${name}`, offset: this.offset, text: `${before}${lines.join(eol)}${after}`, order: 1 });
  }
}

export function pythonRewrites(ctx: RewriteContext): Rewrite[] {
  const src = tokenizePython(ctx.text);
  if (!src.ok) return [];
  const { finding } = ctx;
  // Every check records the fix kind on the finding (finding.fix), so no rule ID is needed here.
  const kind = finding.fix?.kind;
  if (!kind) return [];
  if (kind === 'per-user-cache') return cacheRewrites(ctx, src);
  const call = readPyCall(src, finding.evidence.startOffset, finding.evidence.endOffset);
  if (!call) return [];
  const api = finding.evidence.api ?? '';
  if (kind === 'precompiled-kernel') return api.startsWith('builtins.') ? [] : kernelRewrites(ctx, src, call);
  if (api === 'builtins.eval') return evalRewrites(src, call);
  return [];
}

// ---- eval() -------------------------------------------------------------------------------------------

function evalRewrites(src: PySource, call: PyCall): Rewrite[] {
  const [expression, ...rest] = call.args;
  if (!expression || expression.keyword || expression.star || rest.some((a) => a.star || a.keyword) || rest.length > 2) return [];
  const text = src.text;
  const fstring = expression.tokens.length === 1 ? parseFString(expression.tokens[0]) : undefined;

  if (fstring) {
    const binary = binaryShape(fstring.parts);
    if (binary) {
      // The operands reach eval() as text and are read back as code, so globals/locals passed to eval() play
      // no part. For numbers that reading gives the numbers back and the map computes the same result; for
      // text ("3" from input().split()) it does not (eval gives 7, operator.add gives "34"), so the rewrite
      // is safe only where the function declares both operands numeric.
      const inserter = new PyInserter(src);
      const op = inserter.module('operator');
      const map = BINARY_OPERATORS.map(([symbol, fn]) => `"${symbol}": ${op}.${fn}`).join(', ');
      const annotations = parameterAnnotations(src, call.start);
      const numeric = [binary.left, binary.right].every((name) => NUMERIC_ANNOTATION.test(annotations.get(name) ?? ''));
      return [{
        title: PY_TITLES.operatorMap,
        safe: numeric,
        preferred: true,
        edits: [{ start: call.start, end: call.end, newText: `{${map}}[${binary.op}](${binary.left}, ${binary.right})` }],
        insertions: inserter.insertions,
      }];
    }
    const chosen = moduleFunctionShape(fstring.parts);
    // Names inside the template resolve in eval()'s globals/locals when they are given; only the
    // one-argument form resolves them where the rewritten call does.
    if (chosen && rest.length === 0 && importsName(src, chosen.module)) {
      const names = MODULE_FUNCTIONS[chosen.module];
      const map = names.map((n) => `"${n}": ${chosen.module}.${n}`).join(', ');
      return [{
        title: PY_TITLES.moduleMap(chosen.module, names),
        safe: true,
        preferred: true,
        edits: [{ start: call.start, end: call.end, newText: `{${map}}[${chosen.name}](${chosen.args})` }],
        insertions: [],
      }];
    }
  }

  const argument = text.slice(expression.start, expression.end);
  const builtFromText = expression.tokens.some((t) => t.kind === 'string');
  const arithmeticFirst = builtFromText || /expr|formula|calc|arith|math/i.test(argument);
  const out: Rewrite[] = [];

  const arithmetic = new PyInserter(src);
  const astName = arithmetic.module('ast');
  const opName = arithmetic.module('operator');
  arithmetic.helper('_sentinel_eval_arithmetic', arithmeticHelper(astName, opName));
  out.push({
    title: PY_TITLES.arithmetic,
    safe: false,
    preferred: arithmeticFirst,
    edits: [{ start: call.start, end: call.end, newText: `_sentinel_eval_arithmetic(${argument})` }],
    insertions: arithmetic.insertions,
  });

  // A string assembled from literal text is code by construction: literal_eval() could only reject it.
  if (!builtFromText) {
    const literal = new PyInserter(src);
    const name = literal.module('ast');
    out.push({
      title: PY_TITLES.literal,
      safe: false,
      preferred: !arithmeticFirst,
      edits: [{ start: call.start, end: call.end, newText: `${name}.literal_eval(${argument})` }],
      insertions: literal.insertions,
    });
  }
  return out.sort((a, b) => Number(b.preferred) - Number(a.preferred));
}

const NUMERIC_ANNOTATION = /^(?:int|float)(?:\s*\|\s*(?:int|float))*$/;

/** Parameter name → annotation text of the function that encloses `offset` (empty outside functions). */
function parameterAnnotations(src: PySource, offset: number): Map<string, string> {
  const out = new Map<string, string>();
  const here = lineAt(src, offset);
  if (!here) return out;
  for (let k = src.lines.indexOf(here) - 1; k >= 0; k--) {
    const line = src.lines[k];
    if (line.indent >= here.indent) continue;
    const t = line.tokens;
    const at = t[0]?.text === 'async' ? 1 : 0;
    if (t[at]?.text !== 'def') return out;
    const open = t.findIndex((x) => x.text === '(');
    if (open < 0) return out;
    const params: PyToken[][] = [[]];
    let depth = 0;
    for (const x of t.slice(open + 1, matchingClose(t, open))) {
      if ('([{'.includes(x.text) && x.kind === 'op') depth++;
      if (')]}'.includes(x.text) && x.kind === 'op') depth--;
      if (depth === 0 && x.text === ',') params.push([]);
      else params[params.length - 1].push(x);
    }
    for (const p of params) {
      if (p[0]?.kind !== 'name' || p[1]?.text !== ':') continue;
      const eq = p.findIndex((x) => x.text === '=');
      const annotation = p.slice(2, eq < 0 ? p.length : eq);
      if (annotation.length) out.set(p[0].text, src.text.slice(annotation[0].start, annotation[annotation.length - 1].end).replace(/\s+/g, ' '));
    }
    return out;
  }
  return out;
}

/** `{a} {op} {b}`: three simple names with nothing but whitespace between them. */
function binaryShape(parts: FStringPart[]): { left: string; op: string; right: string } | undefined {
  const fields = parts.filter((p) => p.kind === 'expr');
  if (fields.length !== 3 || parts[0]?.kind !== 'expr' || parts[parts.length - 1]?.kind !== 'expr') return undefined;
  if (parts.some((p) => p.kind === 'text' && !/^[ \t]*$/.test(p.value))) return undefined;
  if (fields.some((f) => f.kind !== 'expr' || f.conversion || f.spec || !SIMPLE_OPERAND.test(f.expr))) return undefined;
  const [left, op, right] = fields.map((f) => (f.kind === 'expr' ? f.expr : ''));
  return { left, op, right };
}

/** `torch.{op}(x, dim=1)`: a known module, one interpolated function name, plain call arguments. */
function moduleFunctionShape(parts: FStringPart[]): { module: string; name: string; args: string } | undefined {
  if (parts.length !== 3) return undefined;
  const [head, field, tail] = parts;
  if (head.kind !== 'text' || field.kind !== 'expr' || tail.kind !== 'text') return undefined;
  const module = /^([A-Za-z_]\w*)\.$/.exec(head.value)?.[1];
  const args = /^\(([\w\s.,=+-]*)\)$/.exec(tail.value)?.[1];
  if (!module || !MODULE_FUNCTIONS[module] || args === undefined || field.conversion || field.spec) return undefined;
  if (!SIMPLE_OPERAND.test(field.expr)) return undefined;
  return { module, name: field.expr, args: args.trim() };
}

function arithmeticHelper(ast: string, op: string): string[] {
  return [
    'def _sentinel_eval_arithmetic(expression):',
    '    """Evaluate numbers with + - * / // % ** and unary + -; anything else raises ValueError.',
    '',
    '    Inserted by Sentinel (JIT-EVAL-COMPILE) in place of eval(): the text is parsed, never executed.',
    '    """',
    `    binary = {${ast}.Add: ${op}.add, ${ast}.Sub: ${op}.sub, ${ast}.Mult: ${op}.mul, ${ast}.Div: ${op}.truediv,`,
    `              ${ast}.FloorDiv: ${op}.floordiv, ${ast}.Mod: ${op}.mod, ${ast}.Pow: ${op}.pow}`,
    `    unary = {${ast}.UAdd: ${op}.pos, ${ast}.USub: ${op}.neg}`,
    '',
    '    def value(node):',
    `        if isinstance(node, ${ast}.Constant) and type(node.value) in (int, float, complex):`,
    '            return node.value',
    `        if isinstance(node, ${ast}.BinOp) and type(node.op) in binary:`,
    '            left, right = value(node.left), value(node.right)',
    `            if isinstance(node.op, ${ast}.Pow) and abs(right) > 10000:`,
    '                raise ValueError("exponent too large")',
    '            return binary[type(node.op)](left, right)',
    `        if isinstance(node, ${ast}.UnaryOp) and type(node.op) in unary:`,
    '            return unary[type(node.op)](value(node.operand))',
    '        raise ValueError(f"not allowed in an arithmetic expression: {type(node).__name__}")',
    '',
    `    return value(${ast}.parse(expression, mode="eval").body)`,
  ];
}

// ---- kernel compilers ---------------------------------------------------------------------------------

function normalise(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** The argument that carries the dynamic kernel source, matched against what the check recorded. */
function dynamicArgument(src: PySource, call: PyCall, recorded: unknown): PyArgument | undefined {
  const want = typeof recorded === 'string' ? normalise(recorded).replace(/…$/, '') : undefined;
  if (want) {
    const hit = call.args.find((a) => normalise(src.text.slice(a.start, a.end)).startsWith(want));
    if (hit) return hit;
  }
  return call.args.find((a) => !a.keyword && !a.star);
}

function matchingClose(tokens: PyToken[], open: number): number {
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    if ('([{'.includes(tokens[k].text) && tokens[k].kind === 'op') depth++;
    if (')]}'.includes(tokens[k].text) && tokens[k].kind === 'op') depth--;
    if (depth === 0) return k;
  }
  return tokens.length - 1;
}

/**
 * The first value in an expression that varies at run time: an f-string's first field, else the first
 * name (with its attribute and subscript accesses) that is not an ALL_CAPS constant, looking inside the
 * arguments of calls such as `TEMPLATE.replace("X", value)`.
 */
function firstDynamicValue(src: PySource, tokens: PyToken[]): string | undefined {
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.kind === 'string') {
      const field = parseFString(t)?.parts.find((p) => p.kind === 'expr');
      if (field && field.kind === 'expr' && field.expr) return normalise(field.expr);
      continue;
    }
    if (t.kind !== 'name' || KEYWORDS.has(t.text) || tokens[k - 1]?.text === '.') continue;
    let j = k + 1;
    let dotted = true;
    let callAt = -1;
    while (j < tokens.length) {
      if (tokens[j].text === '.' && tokens[j + 1]?.kind === 'name') {
        j += 2;
      } else if (tokens[j].text === '[') {
        dotted = false;
        j = matchingClose(tokens, j) + 1;
      } else if (tokens[j].text === '(') {
        if (dotted) {
          callAt = j;
          break;
        }
        j = matchingClose(tokens, j) + 1;
      } else break;
    }
    if (callAt >= 0) {
      // A function such as json.loads(...) or TEMPLATE.replace(...): the value is among its arguments.
      k = callAt;
      continue;
    }
    if (/^[A-Z][A-Z0-9_]*$/.test(t.text)) {
      k = j - 1;
      continue;
    }
    return normalise(src.text.slice(t.start, tokens[j - 1].end));
  }
  return undefined;
}

/** Follows a plain name back to its nearest assignment in the same function (or at module level). */
function assignedValue(src: PySource, name: string, before: number): PyToken[] | undefined {
  const callLine = lineAt(src, before);
  if (!callLine) return undefined;
  // Inside the call's function every line counts; once its `def` is passed, only module-level lines do.
  let inFunction = callLine.indent > 0;
  for (let k = src.lines.indexOf(callLine) - 1; k >= 0; k--) {
    const line = src.lines[k];
    const first = line.tokens[0]?.text;
    if (inFunction && line.indent < callLine.indent && (first === 'def' || first === 'async' || first === 'class')) inFunction = false;
    if (!inFunction && line.indent > 0) continue;
    const t = line.tokens;
    if (t[0]?.kind === 'name' && t[0].text === name) {
      // `name = v` or `name: T = v`; not `name.attr = v`, `name[i] = v` or `name += v`.
      const eq = t.findIndex((x, i) => i > 0 && x.kind === 'op' && x.text === '=');
      if (eq === 1 || (eq > 1 && t[1]?.text === ':')) return t.slice(eq + 1);
    }
  }
  return undefined;
}

function kernelKey(src: PySource, call: PyCall, arg: PyArgument): string {
  let tokens = arg.tokens;
  // `[src]` / `(src,)`: a one-element list of sources, as load_inline takes them.
  if (tokens.length >= 3 && (tokens[0].text === '[' || tokens[0].text === '(') && matchingClose(tokens, 0) === tokens.length - 1) {
    const inner = tokens.slice(1, -1).filter((t, i, all) => !(t.text === ',' && i === all.length - 1));
    if (inner.length === 1 && inner[0].kind === 'name') tokens = inner;
  }
  if (tokens.length === 1 && tokens[0].kind === 'name') {
    const value = assignedValue(src, tokens[0].text, call.start);
    const found = value && firstDynamicValue(src, value);
    return found ?? tokens[0].text;
  }
  return firstDynamicValue(src, tokens) ?? normalise(src.text.slice(arg.start, arg.end));
}

function kernelLabel(src: PySource, call: PyCall, key: string): string {
  const plain = (a: PyArgument): string | undefined => {
    if (a.tokens.length !== 1 || a.tokens[0].kind !== 'string') return undefined;
    const m = /^(['"])([A-Za-z_]\w*)\1$/.exec(a.tokens[0].text);
    return m?.[2];
  };
  const named = call.args.find((a) => a.keyword === 'name');
  const fromCall = (named && plain(named)) ?? [...call.args].reverse().map(plain).find((n) => n !== undefined);
  const words = (fromCall ?? key.match(/[A-Za-z_]\w*/g)?.pop() ?? 'kernel').toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  const base = words.slice(0, 30) || 'kernel';
  let label = base;
  for (let n = 2; src.text.includes(`_sentinel_${label}_kernel`) || src.text.includes(`_SENTINEL_${label.toUpperCase()}_KERNELS`); n++) label = `${base}_${n}`;
  return label;
}

function kernelRewrites(ctx: RewriteContext, src: PySource, call: PyCall): Rewrite[] {
  const arg = dynamicArgument(src, call, ctx.finding.fix?.argument);
  if (!arg || arg.star) return [];
  const key = kernelKey(src, call, arg);
  const label = kernelLabel(src, call, key);
  const table = `_SENTINEL_${label.toUpperCase()}_KERNELS`;
  const guard = `_sentinel_${label}_kernel`;
  const example = call.args
    .map((a) => `${a.keyword ? `${a.keyword}=` : ''}${a === arg ? '<constant source>' : normalise(src.text.slice(a.start, a.end))}`)
    .join(', ');
  const inserter = new PyInserter(src);
  inserter.helper(guard, [
    `# Sentinel (JIT-DYNAMIC-KERNEL): kernels compiled once from constant sources, one per allowed value of`,
    `# \`${key.replace(/`/g, "'")}\`; nothing else is ever compiled.`,
    `${table} = {`,
    `    # "<variant>": ${normalise(call.callee)}(${example}),`,
    '}',
    '',
    '',
    `def ${guard}(key):`,
    `    """The precompiled kernel for an allowlisted key; any other key raises ValueError (Sentinel JIT-DYNAMIC-KERNEL)."""`,
    '    try:',
    `        return ${table}[key]`,
    '    except (KeyError, TypeError):',
    `        allowed = ", ".join(map(repr, ${table})) or "none yet"`,
    '        raise ValueError(f"kernel variant {key!r} is not allowlisted (allowed: {allowed})") from None',
  ]);
  return [{
    title: PY_TITLES.kernel(key),
    safe: false,
    preferred: true,
    edits: [{ start: call.start, end: call.end, newText: `${guard}(${key})` }],
    insertions: inserter.insertions,
  }];
}

// ---- JIT caches ---------------------------------------------------------------------------------------

function cacheRewrites(ctx: RewriteContext, src: PySource): Rewrite[] {
  const located = cacheValueIn(ctx.finding, ctx.text);
  if (!located) return [];
  const { variable, value, valueStart } = located;
  // Only replace a whole expression: the value must be exactly a run of tokens.
  const tokens = src.tokens.filter((t) => t.start >= valueStart && t.end <= valueStart + value.length);
  if (tokens[0]?.start !== valueStart || tokens[tokens.length - 1]?.end !== valueStart + value.length) return [];
  const name = cacheFolderName(variable);
  const inserter = new PyInserter(src);
  const os = inserter.module('os');
  inserter.helper('_sentinel_private_cache_dir', [
    'def _sentinel_private_cache_dir(name):',
    '    """A per-user JIT cache folder, ~/.cache/<name>, that only its owner can write (Sentinel JIT-CACHE-POISONING)."""',
    `    path = ${os}.path.join(${os}.path.expanduser("~"), ".cache", name)`,
    `    ${os}.makedirs(path, mode=0o700, exist_ok=True)`,
    `    ${os}.chmod(path, 0o700)`,
    '    return path',
  ]);
  return [{
    title: PY_TITLES.cache(name),
    safe: false,
    preferred: true,
    edits: [{ start: valueStart, end: valueStart + value.length, newText: `_sentinel_private_cache_dir("${name}")` }],
    insertions: inserter.insertions,
  }];
}
