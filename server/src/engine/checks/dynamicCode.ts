// JIT-EVAL-COMPILE and JIT-DYNAMIC-KERNEL at the call site: a dynamic-code or kernel-compiler API (the
// `sinks` of the rule cards) whose code argument is not a constant. A non-constant eval/exec template that
// holds a kernel marker is reported once, under the rule that owns the markers.
import type { Node } from 'web-tree-sitter';
import type { LanguageId } from '../finding';
import type { RuleCard, SinkSpec } from '../rules/catalog';
import { languageFamily } from '../languages';
import { type CheckContext, rawTraceFrom, scopeNames } from './context';
import { CudaFile } from './cuda';
import { ExpressionReasoner, snippetOf } from './expressions';
import { JavaScriptFile } from './javascript';
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
  const aliasPatterns = [
    new RegExp(`([A-Za-z_$][\\w$]*)\\s*=\\s*(?:[\\w$]+\\s*\\.\\s*)*(?:${alt})\\b(?!\\s*\\()`, 'g'),
    new RegExp(`\\b(?:${alt})\\s+as\\s+([A-Za-z_$][\\w$]*)`, 'g'),
    new RegExp(`\\b(?:${alt})\\s*:\\s*([A-Za-z_$][\\w$]*)`, 'g'),
  ];
  for (const re of aliasPatterns) for (const m of text.matchAll(re)) names.add(m[1]);
  return names;
}

export function checkDynamicCode(ctx: CheckContext): void {
  const family = languageFamily(ctx.lang);
  if (!ctx.tree || family === 'config') return;
  const { byApi, byMethod } = sinkTables(ctx);
  if (byApi.size === 0 && byMethod.size === 0) return;
  const sources = ctx.catalog.sources[family] ?? { calls: [], attributes: [] };
  const kernelRule = ctx.catalog.rules.find((r) => (r.kernelMarkers?.length ?? 0) > 0);
  const markers = markerPattern(kernelRule?.kernelMarkers ?? []);

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
  const root = ctx.tree.rootNode;
  if (family === 'python') {
    const file = PythonFile.of(ctx.tree, sources);
    reasoner = new ExpressionReasoner(file);
    views = file.calls.flatMap((call) => {
      const fn = call?.childForFieldName('function');
      if (!call || !fn || !mayBeSink(fn, 'attribute', 'attribute')) return [];
      return [{
        call,
        api: file.qualifiedName(fn),
        method: fn.type === 'attribute' ? fn.childForFieldName('attribute')?.text : undefined,
        positional: file.positionalArgs(call),
        keyword: (name: string) => file.keywordArg(call, name),
        property: () => undefined,
        stringish: () => true,
      }];
    });
  } else if (family === 'javascript') {
    const file = new JavaScriptFile(ctx.tree, sources);
    reasoner = new ExpressionReasoner(file);
    views = root.descendantsOfType(['call_expression', 'new_expression']).flatMap((call) => {
      const fn = call?.childForFieldName(call.type === 'new_expression' ? 'constructor' : 'function');
      if (!call || !fn || !mayBeSink(fn, 'member_expression', 'property')) return [];
      return [{
        call,
        api: file.qualifiedName(fn),
        method: fn.type === 'member_expression' ? fn.childForFieldName('property')?.text : undefined,
        positional: file.positionalArgs(call),
        keyword: () => undefined,
        property: (obj: Node, name: string) => file.propertyOf(obj, name),
        stringish: (n: Node) => file.isStringish(n),
      }];
    });
  } else {
    const file = new CudaFile(ctx.tree, sources);
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
      const dynamic = codeArguments(view, spec).find((arg) => !reasoner.isConstant(arg));
      if (!dynamic) continue;
      hits.push({ view, rule, spec, dynamic });
      break;
    }
  }
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

/** What a quick fix needs to know, computed now so that code actions do not re-analyse. */
function fixFor(rule: RuleCard, lang: LanguageId, arg: Node): { kind: string; [key: string]: unknown } {
  const kind = rule.kernelMarkers?.length ? 'precompiled-kernel' : 'operator-map';
  return { kind, argument: snippetOf(arg, 120), language: lang };
}
