// JIT-EVAL-COMPILE and JIT-DYNAMIC-KERNEL at the call site: a dynamic-code or kernel-compiler API (the
// `sinks` of the rule cards) whose code argument is not a constant. A non-constant eval/exec template that
// holds a kernel marker is reported once, under the rule that owns the markers.
import type { Node } from 'web-tree-sitter';
import type { LanguageId } from '../finding';
import type { RuleCard, SinkContext, SinkSpec } from '../rules/catalog';
import { languageFamily } from '../languages';
import { type CheckContext, rawTraceFrom, scopeNames } from './context';
import { CudaFile } from './cuda';
import { ExpressionReasoner, type LanguageAdapter, snippetOf } from './expressions';
import { JavaScriptFile } from './javascript';
import { matchesName, receiverPattern } from './models';
import { PythonFile } from './python';

interface SinkEntry {
  rule: RuleCard;
  spec: SinkSpec;
}

function markerPattern(markers: string[]): RegExp | undefined {
  if (markers.length === 0) return undefined;
  const escaped = markers.map((m) => `${/^\w/.test(m) ? '\\b' : ''}${m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
  return new RegExp(escaped.join('|'));
}

function sinkTables(ctx: CheckContext): { byApi: Map<string, SinkEntry[]>; byMethod: Map<string, SinkEntry[]> } {
  const byApi = new Map<string, SinkEntry[]>();
  const byMethod = new Map<string, SinkEntry[]>();
  // Every rule's sinks, not only the enabled ones: an eval of a kernel template belongs to the kernel rule,
  // which must see it even when the eval rule is not selected. Emission checks `enabled`.
  for (const rule of ctx.catalog.rules) {
    for (const spec of rule.sinks ?? []) {
      if (!spec.languages.includes(ctx.lang === 'notebook' ? 'python' : ctx.lang)) continue;
      const table = spec.api ? byApi : byMethod;
      const key = (spec.api ?? spec.method)!;
      table.set(key, [...(table.get(key) ?? []), { rule, spec }]);
    }
  }
  return { byApi, byMethod };
}

interface CallView {
  call: Node;
  api?: string;
  method?: string;
  /** The receiver of a method call (`df` in `df.query(…)`). */
  receiver?: Node;
  positional: Node[];
  keyword(name: string): Node | undefined;
  property(obj: Node, name: string): Node | undefined;
  stringish(node: Node): boolean;
}

/** The arguments of `call` that carry code under `spec`, each with a label for the message. */
function codeArguments(view: CallView, spec: SinkSpec): Node[] {
  const out: Node[] = [];
  const indices = spec.args === 'all' ? view.positional.map((_, i) => i) : spec.args;
  for (const i of indices) {
    let arg = view.positional[i];
    if (!arg) continue;
    if (arg.type === 'list_splat' || arg.type === 'spread_element' || arg.type === 'dictionary_splat') {
      out.push(arg);
      continue;
    }
    if (spec.property) {
      const prop = view.property(arg, spec.property);
      if (!prop) continue;
      arg = prop;
    }
    if (spec.stringOnly && !view.stringish(arg)) continue;
    out.push(arg);
  }
  for (const kw of spec.keywords ?? []) {
    const v = view.keyword(kw);
    if (v) out.push(v);
  }
  return out;
}

/** The sink-context entries (rules/sink-context.yml) that apply to `spec` in language `lang`. */
function contextsFor(contexts: SinkContext[], spec: SinkSpec, lang: string): SinkContext[] {
  return contexts.filter((c) => c.languages.includes(lang as SinkContext['languages'][number]) && ((spec.api && c.api === spec.api) || (spec.method && c.method === spec.method)));
}

/** Whether the call meets every condition of its sink contexts, apart from `codeFrom` (checked on the argument). */
function contextHolds(view: CallView, contexts: SinkContext[], file: PythonFile | JavaScriptFile | CudaFile): boolean {
  for (const c of contexts) {
    if (c.requiresImport?.length && !(file instanceof PythonFile && c.requiresImport.some((m) => file.importsModule(m)))) return false;
    if (c.receiverExclude && view.receiver && receiverPattern(c.receiverExclude)?.test(view.receiver.text)) return false;
    const origins = c.receiverFrom?.length && file instanceof PythonFile ? file.receiverOrigins(view.receiver) : [];
    const madeRight = origins.some((o) => c.receiverFrom!.some((r) => matchesName(o, r)));
    if (c.receiverInclude) {
      if (!madeRight && !(view.receiver && receiverPattern(c.receiverInclude)?.test(view.receiver.text))) return false;
    } else if (c.receiverFrom?.length && !madeRight) return false;
  }
  return true;
}

/**
 * The callee names worth resolving: the last segment of every sink, and any name the text binds to one
 * (`run = eval`, `from builtins import eval as e`, `{ runInNewContext: r } = require('vm')`). A superset is
 * fine; missing an alias would lose a finding.
 */
export function candidateNames(text: string, sinkKeys: string[]): Set<string> {
  const names = new Set(sinkKeys.map((k) => k.slice(k.lastIndexOf('.') + 1)));
  const segments = [...names].map((n) => n.replace(/[$]/g, '\\$&'));
  if (segments.length === 0) return names;
  const alt = segments.join('|');
  // `NAME = a.b.sink` (not called): the search starts at each `=`, far rarer than the first letter of a name,
  // and NAME is read backwards from it (a word that starts after any leading digits). Matching from the name
  // instead backtracked quadratically on long runs of word characters (a 1 MB minified line never finished).
  for (const m of text.matchAll(new RegExp(`=\\s*(?:[\\w$]+\\s*\\.\\s*)*(?:${alt})\\b(?!\\s*\\()`, 'g'))) {
    let end = m.index;
    while (end > 0 && /\s/.test(text[end - 1])) end--;
    let start = end;
    while (start > 0 && /[\w$]/.test(text[start - 1])) start--;
    while (start < end && /[0-9]/.test(text[start])) start++;
    if (start < end) names.add(text.slice(start, end));
  }
  const aliasPatterns = [
    new RegExp(`\\b(?:${alt})\\s+as\\s+([A-Za-z_$][\\w$]*)`, 'g'),
    new RegExp(`\\b(?:${alt})\\s*:\\s*([A-Za-z_$][\\w$]*)`, 'g'),
  ];
  for (const re of aliasPatterns) for (const m of text.matchAll(re)) names.add(m[1]);
  return names;
}

interface SinkHit {
  view: CallView;
  rule: RuleCard;
  spec: SinkSpec;
  /** The code argument that is not constant. */
  dynamic: Node;
}

interface SinkAnalysis {
  hits: SinkHit[];
  reasoner: ExpressionReasoner;
  adapter: PythonFile | JavaScriptFile | CudaFile;
}

export function checkDynamicCode(ctx: CheckContext): void {
  const analysis = findSinkHits(ctx);
  if (!analysis) return;
  const { hits, reasoner } = analysis;
  const kernelRule = ctx.catalog.rules.find((r) => (r.kernelMarkers?.length ?? 0) > 0);
  const markers = markerPattern(kernelRule?.kernelMarkers ?? []);
  const sinkCalls = new Set(hits.map((h) => h.view.call.id));
  for (const { view, rule, spec, dynamic } of hits) {
    let inner: Node | null = dynamic;
    while (inner && (inner.type === 'parenthesized_expression' || inner.type === 'await' || inner.type === 'await_expression')) inner = inner.namedChildren[0];
    if (inner && sinkCalls.has(inner.id)) continue;
    let reported = rule;
    if (kernelRule && markers && rule !== kernelRule && markers.test(reasoner.literalText(dynamic))) reported = kernelRule;
    if (!ctx.enabled.has(reported.id)) continue;
    const label = spec.api ?? `.${spec.method}`;
    const hops = reasoner.traceSource(dynamic);
    const why = reasoner.explain(dynamic);
    const kernelNote = reported !== rule ? ' (a kernel template)' : '';
    const signal = hops
      ? `\`${label}()\` receives ${why}${kernelNote}, derived from ${hops[0].note}`
      : `\`${label}()\` receives ${why}${kernelNote}`;
    ctx.emit({
      ruleId: reported.id,
      startOffset: view.call.startIndex,
      endOffset: view.call.endIndex,
      nodeType: view.call.type,
      signal,
      api: spec.api ?? spec.method,
      confidence: hops ? 'high' : 'medium',
      scope: scopeNames(view.call),
      trace: hops
        ? [...rawTraceFrom(hops), { startOffset: view.call.startIndex, endOffset: view.call.endIndex, note: `reaches \`${label}()\``, kind: 'sink' }]
        : [],
      fix: fixFor(reported, ctx.lang, dynamic),
    });
  }
}

/** The sink calls of a document whose code argument is not constant, with the reasoner that decided it. */
function findSinkHits(ctx: CheckContext): SinkAnalysis | undefined {
  const family = languageFamily(ctx.lang);
  if (!ctx.tree || family === 'config') return undefined;
  const { byApi, byMethod } = sinkTables(ctx);
  if (byApi.size === 0 && byMethod.size === 0) return undefined;
  const sources = ctx.catalog.sources[family] ?? { calls: [], attributes: [] };

  // Resolving every call's qualified name walks scopes and costs most of the analysis time on large files:
  // only calls whose callee ends in a sink's name, or in a name bound to one, are resolved.
  const candidates = candidateNames(ctx.text, [...byApi.keys(), ...byMethod.keys()]);
  const mayBeSink = (fn: Node, memberType: string, memberField: string): boolean => {
    if (fn.type === 'identifier') return candidates.has(fn.text);
    if (fn.type === memberType) return candidates.has(fn.childForFieldName(memberField)?.text ?? '');
    return true; // (0, eval)(x), calls of calls, subscripts: rare, so always resolved
  };
  let views: CallView[] = [];
  let reasoner: ExpressionReasoner;
  let adapter: PythonFile | JavaScriptFile | CudaFile;
  const root = ctx.tree.rootNode;
  if (family === 'python') {
    const file = PythonFile.of(ctx.tree, sources);
    adapter = file;
    reasoner = new ExpressionReasoner(file);
    // The same test as mayBeSink, on the callees the file looked up once: a name or an attribute whose last
    // name is a candidate, and every other callee.
    const infos = file.callInfos();
    const chosen = [...file.callsNamed(candidates, true), ...infos.filter((i) => i.fn && i.fnType !== 'identifier' && i.fnType !== 'attribute')].sort((a, b) => a.ord - b.ord);
    views = chosen.map(({ call, fn: callee }) => {
      const fn = callee!;
      return {
        call,
        api: file.qualifiedName(fn),
        method: fn.type === 'attribute' ? fn.childForFieldName('attribute')?.text : undefined,
        receiver: fn.type === 'attribute' ? (fn.childForFieldName('object') ?? undefined) : undefined,
        positional: file.positionalArgs(call),
        keyword: (name: string) => file.keywordArg(call, name),
        property: () => undefined,
        stringish: (n: Node) => file.isStringish(n),
      };
    });
  } else if (family === 'javascript') {
    const file = JavaScriptFile.of(ctx.tree, sources);
    adapter = file;
    reasoner = new ExpressionReasoner(file);
    // As for Python: mayBeSink's test on the callees the file looked up once.
    const infos = file.callInfos();
    const chosen = [...file.callsNamed(candidates, true), ...infos.filter((i) => i.fn && i.fnType !== 'identifier' && i.fnType !== 'member_expression')].sort((a, b) => a.ord - b.ord);
    views = chosen.map(({ call, fn: callee }) => {
      const fn = callee!;
      return {
        call,
        api: file.qualifiedName(fn),
        method: fn.type === 'member_expression' ? fn.childForFieldName('property')?.text : undefined,
        receiver: fn.type === 'member_expression' ? (fn.childForFieldName('object') ?? undefined) : undefined,
        positional: file.positionalArgs(call),
        keyword: () => undefined,
        property: (obj: Node, name: string) => file.propertyOf(obj, name),
        stringish: (n: Node) => file.isStringish(n),
      };
    });
  } else {
    const file = new CudaFile(ctx.tree, sources);
    adapter = file;
    reasoner = new ExpressionReasoner(file);
    views = root.descendantsOfType('call_expression').flatMap((call) => {
      const fn = call?.childForFieldName('function');
      if (!call || !fn || !mayBeSink(fn, 'field_expression', 'field')) return [];
      return [{
        call,
        api: file.calleeName(fn),
        positional: file.positionalArgs(call),
        keyword: () => undefined,
        property: () => undefined,
        stringish: () => true,
      }];
    });
  }

  // First pass: which calls are sinks with a dynamic code argument. An outer sink whose code argument is
  // itself such a call (`exec(compile(src, …))`) is not reported again: the inner call is the finding.
  const hits: { view: CallView; rule: RuleCard; spec: SinkSpec; dynamic: Node }[] = [];
  for (const view of views) {
    const entries = [
      ...(view.api ? (byApi.get(view.api) ?? []) : []),
      ...(view.method ? (byMethod.get(view.method) ?? []) : []),
    ];
    for (const { rule, spec } of entries) {
      const contexts = contextsFor(ctx.catalog.sinkContexts ?? [], spec, ctx.lang === 'notebook' ? 'python' : ctx.lang);
      if (contexts.length > 0 && !contextHolds(view, contexts, adapter)) continue;
      let dynamic = codeArguments(view, spec).find((arg) => !reasoner.isConstant(arg));
      const codeFrom = contexts.flatMap((c) => c.codeFrom ?? []);
      if (dynamic && codeFrom.length > 0) {
        // `types.FunctionType(f.__code__, …)` copies a function: only code compiled here, or external data, counts.
        const made = (n: Node): boolean => {
          if (n.type !== 'call') return false;
          const fn = n.childForFieldName('function');
          const q = fn && adapter instanceof PythonFile ? (adapter.qualifiedName(fn) ?? fn.text) : fn?.text;
          return codeFrom.some((c) => matchesName(q, c));
        };
        if (!reasoner.derivesFromCall(dynamic, made) && !reasoner.traceSource(dynamic)) dynamic = undefined;
      }
      if (!dynamic) continue;
      hits.push({ view, rule, spec, dynamic });
      break;
    }
  }
  return { hits, reasoner, adapter };
}

/**
 * A function's taint summary, as plain data keyed by its name in the file (`Class.method`, `helper`), so that
 * summaries of several files can be joined through imports: which parameters reach a sink inside it, and
 * which parameters (or which source) its return value carries.
 */
export interface FunctionSummary {
  name: string;
  line: number;
  params: string[];
  sinks: { param: string; api: string; line: number }[];
  returnsParams: string[];
  returnsSource?: string;
}

const FUNCTION_NODES: Record<string, string[]> = {
  python: ['function_definition', 'lambda'],
  javascript: ['function_declaration', 'function_expression', 'function', 'arrow_function', 'method_definition', 'generator_function_declaration', 'generator_function'],
};

/** Summaries of every function in the document, computed on request (scans do not need them). */
export function summarizeFunctions(ctx: CheckContext): FunctionSummary[] {
  const family = languageFamily(ctx.lang);
  const types = FUNCTION_NODES[family];
  if (!ctx.tree || !types) return [];
  const analysis = findSinkHits(ctx);
  const sources = ctx.catalog.sources[family] ?? { calls: [], attributes: [] };
  const adapter: LanguageAdapter = analysis?.adapter ?? (family === 'python' ? PythonFile.of(ctx.tree, sources) : JavaScriptFile.of(ctx.tree, sources));
  const reasoner = analysis?.reasoner ?? new ExpressionReasoner(adapter);
  const out: FunctionSummary[] = [];
  for (const fn of ctx.tree.rootNode.descendantsOfType(types)) {
    if (!fn) continue;
    const params = (fn.childForFieldName('parameters')?.namedChildren ?? [])
      .map((p) => (p?.type === 'identifier' ? p : (p?.childForFieldName('name') ?? p?.childForFieldName('pattern') ?? p?.namedChildren.find((c) => c?.type === 'identifier'))))
      .filter((p): p is Node => !!p)
      .map((p) => p.text);
    const sinks: FunctionSummary['sinks'] = [];
    for (const hit of analysis?.hits ?? []) {
      if (hit.view.call.startIndex < fn.startIndex || hit.view.call.endIndex > fn.endIndex) continue;
      for (const p of reasoner.parametersReaching(hit.dynamic, fn)) {
        sinks.push({ param: p.name, api: hit.spec.api ?? `.${hit.spec.method}`, line: hit.view.call.startPosition.row + 1 });
      }
    }
    const returns = adapter.returnsOf?.(fn) ?? [];
    const returnsParams = [...new Set(returns.flatMap((r) => reasoner.parametersReaching(r, fn).map((p) => p.name)))];
    // A source inside the function, not one that reaches it through its own parameters from a caller.
    const paramsNode = fn.childForFieldName('parameters');
    const throughParams = (hops: { node: Node }[]): boolean =>
      !!paramsNode && hops.some((h) => h.node.startIndex >= paramsNode.startIndex && h.node.endIndex <= paramsNode.endIndex);
    const returnSource = returns.map((r) => reasoner.traceSource(r)).find((h) => h && h[0].kind === 'source' && !throughParams(h));
    out.push({
      name: reasoner.functionName(fn),
      line: fn.startPosition.row + 1,
      params,
      sinks,
      returnsParams,
      ...(returnSource ? { returnsSource: returnSource[0].note } : {}),
    });
  }
  return out;
}

/** What a quick fix needs to know, computed now so that code actions do not re-analyse. */
function fixFor(rule: RuleCard, lang: LanguageId, arg: Node): { kind: string; [key: string]: unknown } {
  const kind = rule.kernelMarkers?.length ? 'precompiled-kernel' : 'operator-map';
  return { kind, argument: snippetOf(arg, 120), language: lang };
}
