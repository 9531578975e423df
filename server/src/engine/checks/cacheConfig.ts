// JIT-CACHE-POISONING in configuration: a JIT cache variable (the rule card's `cacheVariables`) set to a
// shared temp place (`sharedPathPrefixes`, `sharedPathCalls`) in Python, JS/TS, shell, Dockerfiles, .env
// files and YAML (Kubernetes env lists, compose environment, GitHub Actions env).
import type { Node, Tree } from 'web-tree-sitter';
import { languageFamily } from '../languages';
import { parseText } from '../parser';
import type { RuleCard } from '../rules/catalog';
import { type CheckContext, scopeNames } from './context';
import type { LanguageAdapter } from './expressions';
import { JavaScriptFile } from './javascript';
import { PythonFile } from './python';

interface CacheRuleData {
  rule: RuleCard;
  variables: Set<string>;
  configKeys: Set<string>;
  prefixes: string[];
  calls: Set<string>;
}

function cacheRules(ctx: CheckContext): CacheRuleData[] {
  return [...ctx.enabled.values()]
    .filter((r) => (r.cacheVariables?.length ?? 0) > 0)
    .map((rule) => ({
      rule,
      variables: new Set(rule.cacheVariables),
      configKeys: new Set(rule.cacheConfigKeys ?? []),
      prefixes: rule.sharedPathPrefixes ?? [],
      calls: new Set(rule.sharedPathCalls ?? []),
    }));
}

function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) return t.slice(1, -1);
  return t;
}

/** The shared place a literal path value starts with, if any (`/tmp/triton` → `/tmp`). */
export function sharedPrefix(value: string, prefixes: string[]): string | undefined {
  const v = unquote(value).replace(/^file:\/\//, '');
  if (/^\$\{?TMPDIR\b/.test(v)) return '$TMPDIR';
  for (const p of prefixes) {
    if (v === p || v.startsWith(`${p}/`) || v.startsWith(`${p}\\`) || (p.endsWith('}') && v.startsWith(p))) return p;
  }
  return undefined;
}

interface Emit {
  (data: CacheRuleData, at: { start: number; end: number; nodeType: string; scope: string[] }, variable: string, value: string, place: string): void;
}

function makeEmitter(ctx: CheckContext): Emit {
  return (data, at, variable, value, place) => {
    ctx.emit({
      ruleId: data.rule.id,
      startOffset: at.start,
      endOffset: at.end,
      nodeType: at.nodeType,
      signal: `\`${variable}\` is set to \`${value}\`, under ${place}, which other users and processes can write`,
      confidence: 'high',
      scope: at.scope,
      variable,
      value,
      fix: { kind: 'per-user-cache', variable },
    });
  };
}

// ---- Python and JavaScript ---------------------------------------------------------------------------

/** Why a Python/JS expression names a shared place, or undefined. Follows names, joins and templates. */
function sharedValueOf(
  node: Node,
  file: LanguageAdapter & { qualifiedName(n: Node): string | undefined },
  data: CacheRuleData,
  depth = 0,
): string | undefined {
  if (depth > 12) return undefined;
  const shape = file.shape(node);
  if (node.type === 'call' || node.type === 'call_expression') {
    const fn = node.childForFieldName('function');
    const name = fn ? file.qualifiedName(fn) : undefined;
    if (name && data.calls.has(name)) return `${name}()`;
    // os.path.join(base, …), path.join(base, …), Path(base), str(base), f(base) in general: the leading argument decides.
    const first = node.childForFieldName('arguments')?.namedChildren.find((c) => c && c.type !== 'comment');
    if (name && /(^|\.)(join|resolve|Path|PurePath|PosixPath|str|String|fspath|abspath|realpath|expanduser)$/.test(name) && first) {
      return sharedValueOf(first, file, data, depth + 1);
    }
    return undefined;
  }
  if (node.type === 'binary_operator' || node.type === 'binary_expression') {
    const left = node.childForFieldName('left');
    return left ? sharedValueOf(left, file, data, depth + 1) : undefined;
  }
  if ((node.type === 'string' || node.type === 'template_string') && shape.kind === 'compose') {
    // f"{base}/triton" or `${base}/x`: a leading interpolation decides; otherwise the leading text did.
    const first = node.namedChildren.find((c) => c && !['string_start', 'string_end'].includes(c.type));
    if (first && (first.type === 'interpolation' || first.type === 'template_substitution')) {
      const inner = first.namedChildren[0];
      return inner ? sharedValueOf(inner, file, data, depth + 1) : undefined;
    }
    const text = (first?.text ?? '');
    return sharedPrefix(text, data.prefixes);
  }
  const own = file.ownLiteralText(node);
  if (own !== undefined) return sharedPrefix(own.split('\u0000')[0] ?? '', data.prefixes);
  if (shape.kind === 'compose' && shape.parts[0]) return sharedValueOf(shape.parts[0], file, data, depth + 1);
  if (shape.kind === 'name') {
    for (const b of file.bindingsOf(shape.node)) {
      if (b.kind !== 'assign') continue;
      const hit = sharedValueOf(b.value, file, data, depth + 1);
      if (hit) return hit;
    }
  }
  return undefined;
}

function constantKey(node: Node | null | undefined, file: LanguageAdapter): string | undefined {
  if (!node) return undefined;
  const own = file.ownLiteralText(node);
  if (own !== undefined && !own.includes('\u0000')) return own;
  if (node.type === 'property_identifier') return node.text;
  return undefined;
}

/** The last names of the Python calls that can set a cache variable or setting. */
const PY_CACHE_CALLS = new Set(['setdefault', 'putenv', '__setitem__', 'update']);

function checkPythonCache(ctx: CheckContext, tree: Tree, data: CacheRuleData[], emit: Emit): void {
  const file = PythonFile.of(tree, ctx.catalog.sources.python ?? { calls: [], attributes: [] });
  const report = (d: CacheRuleData, at: Node, variable: string, value: Node): void => {
    const place = sharedValueOf(value, file, d);
    if (place) emit(d, { start: at.startIndex, end: at.endIndex, nodeType: at.type, scope: scopeNames(at) }, variable, value.text, place);
  };
  const isEnviron = (n: Node | null | undefined): boolean => !!n && file.qualifiedName(n) === 'os.environ';
  // Document order matters for the order of findings only, which the scanner sorts anyway.
  for (const node of [...file.assignments, ...file.calls]) {
    if (node.type === 'assignment') {
      const left = node.childForFieldName('left');
      const right = node.childForFieldName('right');
      // Cheap text test first: resolving names walks scopes.
      if (left?.type !== 'subscript' || !right || !left.text.includes('environ') || !isEnviron(left.childForFieldName('value'))) continue;
      const key = constantKey(left.childForFieldName('subscript'), file);
      for (const d of data) if (key && d.variables.has(key)) report(d, node, key, right);
      continue;
    }
    const fn = node.childForFieldName('function');
    const last = fn?.type === 'attribute' ? fn.childForFieldName('attribute')?.text : fn?.text;
    if (!last || !PY_CACHE_CALLS.has(last)) continue;
    const api = fn ? file.qualifiedName(fn) : undefined;
    if (!api) continue;
    const args = file.positionalArgs(node);
    if (api === 'os.environ.setdefault' || api === 'os.putenv' || api === 'os.environ.__setitem__') {
      const key = constantKey(args[0], file);
      for (const d of data) if (key && d.variables.has(key) && args[1]) report(d, node, key, args[1]);
    } else if (api === 'os.environ.update') {
      const pairs: [string, Node][] = [];
      for (const a of node.childForFieldName('arguments')?.namedChildren ?? []) {
        if (a?.type === 'keyword_argument') {
          const name = a.childForFieldName('name')?.text;
          const v = a.childForFieldName('value');
          if (name && v) pairs.push([name, v]);
        } else if (a?.type === 'dictionary') {
          for (const p of a.namedChildren) {
            const key = constantKey(p?.childForFieldName('key'), file);
            const v = p?.childForFieldName('value');
            if (key && v) pairs.push([key, v]);
          }
        }
      }
      for (const [key, v] of pairs) for (const d of data) if (d.variables.has(key)) report(d, node, key, v);
    } else if (/(^|\.)config\.update$/.test(api) && api.startsWith('jax')) {
      const key = constantKey(args[0], file);
      for (const d of data) if (key && d.configKeys.has(key) && args[1]) report(d, node, key, args[1]);
    }
  }
}

function checkJavaScriptCache(ctx: CheckContext, tree: Tree, data: CacheRuleData[], emit: Emit): void {
  const file = new JavaScriptFile(tree, ctx.catalog.sources.javascript ?? { calls: [], attributes: [] });
  const isProcessEnv = (n: Node | null | undefined): boolean => !!n && file.qualifiedName(n) === 'process.env';
  for (const node of tree.rootNode.descendantsOfType('assignment_expression')) {
    const left = node?.childForFieldName('left');
    const right = node?.childForFieldName('right');
    if (!node || !left || !right || !left.text.includes('env') || !isProcessEnv(left.childForFieldName('object'))) continue;
    const key = left.type === 'member_expression' ? left.childForFieldName('property')?.text : constantKey(left.childForFieldName('index'), file);
    for (const d of data) {
      if (!key || !d.variables.has(key)) continue;
      const place = sharedValueOf(right, file, d);
      if (place) emit(d, { start: node.startIndex, end: node.endIndex, nodeType: node.type, scope: scopeNames(node) }, key, right.text, place);
    }
  }
}

// ---- shell, Dockerfile, .env, YAML -------------------------------------------------------------------

function checkShellTree(tree: Tree, base: number, data: CacheRuleData[], emit: Emit): void {
  for (const node of tree.rootNode.descendantsOfType('variable_assignment')) {
    const name = node?.childForFieldName('name')?.text;
    const value = node?.childForFieldName('value');
    if (!node || !name || !value) continue;
    for (const d of data) {
      if (!d.variables.has(name)) continue;
      const place = sharedPrefix(value.text, d.prefixes);
      const at = node.parent?.type === 'declaration_command' ? node.parent : node;
      if (place) emit(d, { start: base + at.startIndex, end: base + at.endIndex, nodeType: at.type, scope: [] }, name, unquote(value.text), place);
    }
  }
}

/** Dockerfile instructions, continuation lines joined, with the offset where each starts. */
function dockerInstructions(text: string): { keyword: string; args: string; argsOffset: number; start: number; end: number }[] {
  const out: { keyword: string; args: string; argsOffset: number; start: number; end: number }[] = [];
  const re = /^[ \t]*([A-Za-z]+)[ \t]+((?:[^\n]*\\\r?\n)*[^\n]*)/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[0].trimStart().startsWith('#')) continue;
    const argsOffset = m.index + m[0].indexOf(m[2], m[1].length + (m[0].length - m[0].trimStart().length));
    out.push({ keyword: m[1].toUpperCase(), args: m[2], argsOffset, start: m.index + (m[0].length - m[0].trimStart().length), end: m.index + m[0].length });
  }
  return out;
}

async function checkDockerfile(ctx: CheckContext, data: CacheRuleData[], emit: Emit): Promise<void> {
  for (const ins of dockerInstructions(ctx.text)) {
    if (ins.keyword === 'ENV') {
      const body = ins.args.replace(/\\\r?\n/g, ' ');
      const pairs: [string, string][] = [];
      const eq = [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)];
      if (eq.length > 0) eq.forEach((m) => pairs.push([m[1], m[2]]));
      else {
        const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$/.exec(body.trim());
        if (legacy) pairs.push([legacy[1], legacy[2].trim()]);
      }
      for (const [name, value] of pairs) {
        for (const d of data) {
          const place = d.variables.has(name) ? sharedPrefix(value, d.prefixes) : undefined;
          if (place) emit(d, { start: ins.start, end: ins.end, nodeType: 'env_instruction', scope: [] }, name, unquote(value), place);
        }
      }
    } else if (ins.keyword === 'RUN') {
      const tree = await parseText('shell', ins.args);
      try {
        checkShellTree(tree, ins.argsOffset, data, emit);
      } finally {
        tree.delete();
      }
    }
  }
}

function checkDotenv(ctx: CheckContext, data: CacheRuleData[], emit: Emit): void {
  const re = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*?)[ \t]*\r?$/gm;
  for (let m = re.exec(ctx.text); m; m = re.exec(ctx.text)) {
    for (const d of data) {
      const place = d.variables.has(m[1]) ? sharedPrefix(m[2].replace(/\s+#.*$/, ''), d.prefixes) : undefined;
      const start = m.index + (m[0].length - m[0].trimStart().length);
      if (place) emit(d, { start, end: m.index + m[0].trimEnd().length, nodeType: 'dotenv_assignment', scope: [] }, m[1], unquote(m[2]), place);
    }
  }
}

function yamlScalar(node: Node | null | undefined): string | undefined {
  if (!node) return undefined;
  let cur: Node | null | undefined = node;
  while (cur && (cur.type === 'flow_node' || cur.type === 'block_node') && cur.namedChildCount === 1) cur = cur.namedChildren[0];
  if (!cur || !/scalar$/.test(cur.type)) return undefined;
  return unquote(cur.text);
}

function checkYaml(tree: Tree, data: CacheRuleData[], emit: Emit): void {
  const at = (n: Node) => ({ start: n.startIndex, end: n.endIndex, nodeType: n.type, scope: [] as string[] });
  for (const mapping of tree.rootNode.descendantsOfType(['block_mapping', 'flow_mapping'])) {
    if (!mapping) continue;
    const pairs = mapping.namedChildren.filter((p): p is Node => p?.type === 'block_mapping_pair' || p?.type === 'flow_pair');
    const byKey = new Map<string, Node>();
    for (const p of pairs) {
      const key = yamlScalar(p.childForFieldName('key'));
      if (key !== undefined) byKey.set(key, p);
    }
    for (const d of data) {
      // KEY: value (compose `environment`, GitHub Actions `env`).
      for (const [key, pair] of byKey) {
        if (!d.variables.has(key)) continue;
        const value = yamlScalar(pair.childForFieldName('value'));
        const place = value !== undefined ? sharedPrefix(value, d.prefixes) : undefined;
        if (place) emit(d, at(pair), key, value!, place);
      }
      // - name: KEY / value: … (Kubernetes container env).
      const nameText = yamlScalar(byKey.get('name')?.childForFieldName('value'));
      const valuePair = byKey.get('value');
      if (nameText && d.variables.has(nameText) && valuePair) {
        const value = yamlScalar(valuePair.childForFieldName('value'));
        const place = value !== undefined ? sharedPrefix(value, d.prefixes) : undefined;
        if (place) emit(d, at(byKey.get('name')!), nameText, value!, place);
      }
    }
  }
  // - KEY=value (compose `environment` as a list).
  for (const item of tree.rootNode.descendantsOfType(['block_sequence_item', 'flow_sequence'])) {
    if (!item) continue;
    const scalars = item.type === 'flow_sequence' ? item.namedChildren : [item.namedChildren[0]];
    for (const s of scalars) {
      const text = yamlScalar(s);
      const m = text && /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(text);
      if (!m || !s) continue;
      for (const d of data) {
        const place = d.variables.has(m[1]) ? sharedPrefix(m[2], d.prefixes) : undefined;
        if (place) emit(d, at(s), m[1], m[2], place);
      }
    }
  }
}

export async function checkCacheConfig(ctx: CheckContext): Promise<void> {
  const data = cacheRules(ctx);
  if (data.length === 0) return;
  const emit = makeEmitter(ctx);
  const family = languageFamily(ctx.lang);
  if (family === 'python' && ctx.tree) checkPythonCache(ctx, ctx.tree, data, emit);
  else if (family === 'javascript' && ctx.tree) checkJavaScriptCache(ctx, ctx.tree, data, emit);
  else if (ctx.lang === 'shell' && ctx.tree) checkShellTree(ctx.tree, 0, data, emit);
  else if (ctx.lang === 'yaml' && ctx.tree) checkYaml(ctx.tree, data, emit);
  else if (ctx.lang === 'dockerfile') await checkDockerfile(ctx, data, emit);
  else if (ctx.lang === 'dotenv') checkDotenv(ctx, data, emit);
}
