// Language-neutral reasoning about expressions: is a value constant, what literal text does it carry,
// does it come from an external source (and by which steps). Each language supplies an adapter that
// classifies its own node types and finds the bindings of a name; this module does the rest.
import type { Node } from 'web-tree-sitter';

export type Binding =
  | { kind: 'assign'; name: string; node: Node; value: Node }
  /** `x += value`: constant only if the earlier value and this one are. */
  | { kind: 'augassign'; name: string; node: Node; value: Node }
  /** `scope` is the function (or lambda) whose parameter this is; `index` its position among the parameters. */
  | { kind: 'param'; name: string; node: Node; owner: string; scope?: Node; index?: number }
  | { kind: 'import'; name: string; node: Node; qualified: string }
  | { kind: 'def'; name: string; node: Node }
  /**
   * Loop variables, `with … as`, unpacking, `except … as`: never constant. `from` is the value it is taken out
   * of (the iterable, the context manager, the unpacked value), which taint follows.
   */
  | { kind: 'other'; name: string; node: Node; why: string; from?: Node };

export type ExprShape =
  | { kind: 'literal' }
  /** A value built only from `parts` (string concatenation, interpolation, parentheses, format). */
  | { kind: 'compose'; parts: Node[]; label: string }
  | { kind: 'name'; node: Node }
  /** Anything else: a call result, an attribute, a subscript. `inputs` are the values it is derived from. */
  | { kind: 'opaque'; inputs: Node[] };

export interface SourceHit {
  api: string;
  note: string;
}

/** Why a value cannot carry attacker-chosen code. `safe`: it is effectively constant (quiet); else only untainted. */
export interface SanitizerHit {
  note: string;
  safe: boolean;
}

export interface LanguageAdapter {
  shape(node: Node): ExprShape;
  /** Bindings of the identifier `node` in the innermost scope that binds it; empty if none is visible. */
  bindingsOf(node: Node): Binding[];
  /** The external source `node` reads directly, if any (a call to `input()`, `request.args[...]`). */
  sourceAt(node: Node): SourceHit | undefined;
  /** Literal text that `node` contributes itself (string contents), without following names. */
  ownLiteralText(node: Node): string | undefined;
  // The rest is optional: an adapter without it gets first-level tracing only (cuda.ts).
  /** The function or lambda defined in this file that `call` invokes. */
  calleeFunction?(call: Node): Node | undefined;
  /** The expressions `fn` returns (a lambda's body). */
  returnsOf?(fn: Node): Node[];
  /** The calls of `fn` in this file, each with the argument that binds `param` there. */
  callArguments?(fn: Node, param: Extract<Binding, { kind: 'param' }>): { call: Node; arg: Node }[];
  /** Values stored in the attribute `node` reads (`self.x = …` in the class's methods, `this.x = …`). */
  attributeValues?(node: Node): { node: Node; value: Node }[];
  /** The source a parameter is (a route handler's or an agent tool's). */
  parameterSource?(b: Extract<Binding, { kind: 'param' }>): SourceHit | undefined;
  /** A sanitizer at `node`: a cast, or a guard around a name's use (python.ts and javascript.ts find them with sanitizers.ts). */
  sanitizerAt?(node: Node): SanitizerHit | undefined;
  /** A readable name of a function node, for trace notes and summaries (`Calc.run`). */
  functionName?(fn: Node): string;
}

export interface TraceHop {
  node: Node;
  note: string;
  kind: 'source' | 'step';
}

const MAX_DEPTH = 40;
/** Trace steps one sink's search may take before it gives up (the finding then stays `medium`). */
const MAX_TRACE_STEPS = 20_000;

/** A call being returned from while tracing: its function's parameters are bound to this call's arguments. */
interface CallFrame {
  fn: Node;
  call: Node;
}

export class ExpressionReasoner {
  private readonly constCache = new Map<number, boolean>();

  constructor(readonly adapter: LanguageAdapter) {}

  /** True when `node` can only ever hold a value written in the program text. */
  isConstant(node: Node, depth = 0, seen = new Set<number>()): boolean {
    const cached = this.constCache.get(node.id);
    if (cached !== undefined) return cached;
    if (depth > MAX_DEPTH || seen.has(node.id)) return false;
    seen.add(node.id);
    const shape = this.adapter.shape(node);
    let result: boolean;
    const sanitized = this.adapter.sanitizerAt?.(node);
    const callee = !sanitized && shape.kind === 'opaque' ? this.adapter.calleeFunction?.(node) : undefined;
    if (sanitized) result = sanitized.safe;
    else if (callee) {
      // A helper that only ever returns constants (`def pick(op): return OPS[op]`) gives a constant.
      const returns = this.adapter.returnsOf?.(callee) ?? [];
      if (seen.has(callee.id)) result = false;
      else {
        seen.add(callee.id);
        result = returns.length > 0 && returns.every((r) => this.isConstant(r, depth + 1, seen));
        seen.delete(callee.id);
      }
    } else switch (shape.kind) {
      case 'literal':
        result = true;
        break;
      case 'compose':
        result = shape.parts.every((p) => this.isConstant(p, depth + 1, seen));
        break;
      case 'name': {
        const bindings = reachingFirst(this.adapter.bindingsOf(shape.node), shape.node);
        result =
          bindings.length > 0 &&
          bindings.every((b) => (b.kind === 'assign' || b.kind === 'augassign') && this.isConstant(b.value, depth + 1, seen));
        break;
      }
      default:
        result = false;
    }
    seen.delete(node.id);
    if (depth === 0) this.constCache.set(node.id, result);
    return result;
  }

  /** All literal text `node` may carry, following names to their assigned values. */
  literalText(node: Node, depth = 0, seen = new Set<number>()): string {
    if (depth > MAX_DEPTH || seen.has(node.id)) return '';
    seen.add(node.id);
    const own = this.adapter.ownLiteralText(node);
    if (own !== undefined) return own;
    const shape = this.adapter.shape(node);
    if (shape.kind === 'compose') return shape.parts.map((p) => this.literalText(p, depth + 1, seen)).join('');
    if (shape.kind === 'name') {
      return this.adapter
        .bindingsOf(shape.node)
        .map((b) => (b.kind === 'assign' || b.kind === 'augassign' ? this.literalText(b.value, depth + 1, seen) : ''))
        .join('\n');
    }
    return '';
  }

  /**
   * The path from an external source to `node`, source first, or undefined when none is known. Follows names
   * to their assignments, values into the expressions built from them, attributes to what the class stores in
   * them, calls of functions in this file to what they return, and parameters to the arguments of every call
   * in this file (or of the one call being returned from).
   */
  traceSource(node: Node): TraceHop[] | undefined {
    this.queryMemo = new Map();
    this.budget = MAX_TRACE_STEPS;
    return this.trace(node, 0, new Set(), []);
  }

  private readonly traceMemo = new Map<number, TraceHop[] | null>();
  /** Bumped whenever a walk is cut short (a cycle or the depth limit), so incomplete misses are not memoised. */
  private cuts = 0;
  /** Bumped when a walk stops at the depth limit or the step budget: then a miss is not even memoised per query. */
  private hardCuts = 0;
  /**
   * Results within one traceSource query, keyed by node and call frames. A miss cut short by a cycle is kept
   * here: the node closing the cycle is still being explored further up the path, and any source behind it
   * is found there, so the query's answer stays the same. Without this, callers-of-callers searches on files
   * with many mutually calling helpers grow exponentially.
   */
  private queryMemo = new Map<string, TraceHop[] | null>();
  /** Steps left in this query: a pathological file degrades to `medium` (no trace), never to a hang. */
  private budget = MAX_TRACE_STEPS;

  private trace(node: Node, depth: number, onPath: Set<number>, frames: CallFrame[]): TraceHop[] | undefined {
    const memoable = frames.length === 0;
    if (memoable) {
      const memo = this.traceMemo.get(node.id);
      if (memo !== undefined) return memo ?? undefined;
    }
    const key = memoable ? `${node.id}` : `${node.id}|${frames.map((f) => f.call.id).join(',')}`;
    const seen = this.queryMemo.get(key);
    if (seen !== undefined) return seen ?? undefined;
    if (onPath.has(node.id)) {
      this.cuts++;
      return undefined;
    }
    if (depth > MAX_DEPTH || this.budget <= 0) {
      this.cuts++;
      this.hardCuts++;
      return undefined;
    }
    this.budget--;
    onPath.add(node.id);
    const cutsBefore = this.cuts;
    const hardCutsBefore = this.hardCuts;
    const result = this.traceStep(node, depth, onPath, frames);
    onPath.delete(node.id);
    if (memoable && (result || this.cuts === cutsBefore)) this.traceMemo.set(node.id, result ?? null);
    if (result || this.hardCuts === hardCutsBefore) this.queryMemo.set(key, result ?? null);
    return result;
  }

  private traceStep(node: Node, depth: number, onPath: Set<number>, frames: CallFrame[]): TraceHop[] | undefined {
    const a = this.adapter;
    if (a.sanitizerAt?.(node)) return undefined; // a sanitized value is not tainted
    const hit = a.sourceAt(node);
    if (hit) return [{ node, note: `${hit.note} read by \`${hit.api}\``, kind: 'source' }];
    const stored = a.attributeValues?.(node) ?? [];
    for (const s of stored) {
      const inner = this.trace(s.value, depth + 1, onPath, []);
      if (inner) return [...inner, { node: s.node, note: `stored in \`${snippetOf(s.node, 40)}\``, kind: 'step' }];
    }
    const shape = a.shape(node);
    const callee = shape.kind === 'opaque' ? a.calleeFunction?.(node) : undefined;
    if (callee) {
      // A helper in this file: what it returns, with its parameters bound to this call's arguments.
      const name = this.functionName(callee);
      if (!frames.some((f) => f.fn.id === callee.id)) {
        for (const r of a.returnsOf?.(callee) ?? []) {
          const inner = this.trace(r, depth + 1, onPath, [...frames, { fn: callee, call: node }]);
          if (inner) return [...inner, { node: r, note: `returned by \`${name}()\``, kind: 'step' }, { node, note: `result of \`${name}()\``, kind: 'step' }];
        }
      }
      return undefined;
    }
    const children = shape.kind === 'compose' ? shape.parts : shape.kind === 'opaque' ? shape.inputs : [];
    for (const child of children) {
      const inner = this.trace(child, depth + 1, onPath, frames);
      if (inner) return inner;
    }
    if (shape.kind !== 'name') return undefined;
    for (const b of reachingFirst(a.bindingsOf(shape.node), shape.node)) {
      if (b.kind === 'assign' || b.kind === 'augassign') {
        const inner = this.trace(b.value, depth + 1, onPath, frames);
        if (inner) return [...inner, { node: b.node, note: `flows into \`${b.name}\``, kind: 'step' }];
      } else if (b.kind === 'other' && b.from) {
        const inner = this.trace(b.from, depth + 1, onPath, frames);
        if (inner) return [...inner, { node: b.node, note: `flows into \`${b.name}\` (${b.why})`, kind: 'step' }];
      } else if (b.kind === 'param') {
        const inner = this.traceParameter(b, depth, onPath, frames);
        if (inner) return inner;
      }
    }
    return undefined;
  }

  /** A parameter: the argument of the call being returned from, else a source parameter, else every caller's argument. */
  private traceParameter(b: Extract<Binding, { kind: 'param' }>, depth: number, onPath: Set<number>, frames: CallFrame[]): TraceHop[] | undefined {
    const a = this.adapter;
    const paramHop = (fn: string): TraceHop => ({ node: b.node, note: `parameter \`${b.name}\` of \`${fn}()\``, kind: 'step' });
    const own = a.parameterSource?.(b);
    if (own) return [{ node: b.node, note: `${own.note}: parameter \`${b.name}\` of \`${own.api}\``, kind: 'source' }];
    if (!b.scope || !a.callArguments) return undefined;
    const fn = b.scope;
    const name = this.functionName(fn);
    const frameAt = frames.map((f) => f.fn.id).lastIndexOf(fn.id);
    const sites = frameAt >= 0 ? a.callArguments(fn, b).filter((s) => s.call.id === frames[frameAt].call.id) : a.callArguments(fn, b);
    const outer = frameAt >= 0 ? frames.slice(0, frameAt) : [];
    for (const site of sites) {
      const inner = this.trace(site.arg, depth + 1, onPath, outer);
      if (inner) return [...inner, { node: site.arg, note: `passed to \`${name}()\` as \`${b.name}\``, kind: 'step' }, paramHop(name)];
    }
    return undefined;
  }

  functionName(fn: Node): string {
    return this.adapter.functionName?.(fn) ?? fn.childForFieldName('name')?.text ?? 'lambda';
  }

  /**
   * The parameters of `fn` whose value reaches `node` inside `fn` (through names, compositions and stored
   * attributes, not through callers): the edge of a function summary.
   */
  parametersReaching(node: Node, fn: Node, depth = 0, seen = new Set<number>(), out = new Map<string, Extract<Binding, { kind: 'param' }>>()): Extract<Binding, { kind: 'param' }>[] {
    if (depth > MAX_DEPTH || seen.has(node.id)) return [...out.values()];
    seen.add(node.id);
    const a = this.adapter;
    if (a.sanitizerAt?.(node)) return [...out.values()];
    const shape = a.shape(node);
    let children = shape.kind === 'compose' ? shape.parts : shape.kind === 'opaque' ? shape.inputs : [];
    // A helper in this file (`self._evaluate(x)`): its arguments flow, its receiver is only how it is reached.
    const callee = shape.kind === 'opaque' ? a.calleeFunction?.(node) : undefined;
    const fnField = callee ? node.childForFieldName('function') : null;
    if (fnField) children = children.filter((c) => c.id !== fnField.id);
    for (const c of children) this.parametersReaching(c, fn, depth + 1, seen, out);
    if (shape.kind === 'name') {
      for (const b of reachingFirst(a.bindingsOf(shape.node), shape.node)) {
        if (b.kind === 'param' && b.scope?.id === fn.id) out.set(b.name, b);
        else if (b.kind === 'assign' || b.kind === 'augassign') this.parametersReaching(b.value, fn, depth + 1, seen, out);
        else if (b.kind === 'other' && b.from) this.parametersReaching(b.from, fn, depth + 1, seen, out);
      }
    }
    return [...out.values()];
  }

  /**
   * Whether `node` derives from a call whose qualified name `matches` (through names, compositions and
   * helper returns), as `types.FunctionType` needs its code object to come from `compile()`.
   */
  derivesFromCall(node: Node, matches: (call: Node) => boolean, depth = 0, seen = new Set<number>()): boolean {
    if (depth > MAX_DEPTH || seen.has(node.id)) return false;
    seen.add(node.id);
    if (matches(node)) return true;
    const shape = this.adapter.shape(node);
    const children = shape.kind === 'compose' ? shape.parts : shape.kind === 'opaque' ? shape.inputs : [];
    if (children.some((c) => this.derivesFromCall(c, matches, depth + 1, seen))) return true;
    const callee = shape.kind === 'opaque' ? this.adapter.calleeFunction?.(node) : undefined;
    if (callee && (this.adapter.returnsOf?.(callee) ?? []).some((r) => this.derivesFromCall(r, matches, depth + 1, seen))) return true;
    if (shape.kind !== 'name') return false;
    return reachingFirst(this.adapter.bindingsOf(shape.node), shape.node).some(
      (b) => ((b.kind === 'assign' || b.kind === 'augassign') && this.derivesFromCall(b.value, matches, depth + 1, seen)) || (b.kind === 'other' && !!b.from && this.derivesFromCall(b.from, matches, depth + 1, seen)),
    );
  }

  /** The operands of nested compositions (`a + b + c` → a, b, c), for messages. */
  private leaves(node: Node, depth = 0): Node[] {
    const shape = this.adapter.shape(node);
    if (shape.kind !== 'compose' || depth > 20) return [node];
    return shape.parts.flatMap((p) => this.leaves(p, depth + 1));
  }

  /** Words for why `node` is not constant, for the finding's signal. */
  explain(node: Node): string {
    const shape = this.adapter.shape(node);
    const text = snippetOf(node, 60);
    const sanitized = this.adapter.sanitizerAt?.(node);
    if (sanitized) return `\`${text}\`, checked by ${sanitized.note}`;
    if (shape.kind === 'name') {
      const bindings = reachingFirst(this.adapter.bindingsOf(shape.node), shape.node);
      const param = bindings.find((b) => b.kind === 'param');
      if (param && param.kind === 'param') return `\`${text}\`, a parameter of \`${param.owner}\``;
      const other = bindings.find((b) => b.kind === 'other');
      if (other && other.kind === 'other') return `\`${text}\`, ${other.why}`;
      const imp = bindings.find((b) => b.kind === 'import');
      if (imp && imp.kind === 'import') return `\`${text}\`, imported from \`${imp.qualified}\``;
      const assigned = bindings.find(
        (b) => (b.kind === 'assign' || b.kind === 'augassign') && !this.isConstant(b.value),
      );
      if (assigned && (assigned.kind === 'assign' || assigned.kind === 'augassign')) {
        return `\`${text}\`, built from \`${snippetOf(assigned.value, 60)}\` (line ${assigned.node.startPosition.row + 1})`;
      }
      if (bindings.length === 0) return `\`${text}\`, a name not bound in this file`;
      return `\`${text}\``;
    }
    if (shape.kind === 'compose') {
      const dynamic = this.leaves(node)
        .filter((p) => !this.isConstant(p))
        .map((p) => `\`${snippetOf(p, 40)}\``);
      return `${shape.label} with ${dynamic.length ? dynamic.join(', ') : 'non-literal parts'} interpolated`;
    }
    return `\`${text}\``;
  }
}

/** One line of source text for messages: whitespace folded, cut at `max` characters. */
export function snippetOf(node: Node, max = 300): string {
  const folded = node.text.replace(/\s+/g, ' ').trim();
  return folded.length > max ? `${folded.slice(0, max - 1)}…` : folded;
}

/** Statements that always bind when they run: an assignment or a declaration, not a branch or a loop. */
const PLAIN_STATEMENTS = new Set(['expression_statement', 'lexical_declaration', 'variable_declaration']);

/**
 * A name's bindings as they can reach `use`: those before it, the nearest first, then those after it
 * (reached through a loop). A plain assignment that always runs on the way to `use` (a statement of a block
 * around it, not inside a branch) replaces every binding before it, which is then left out: the trace names
 * the source of the value the use sees, and a checked value that was replaced no longer counts.
 */
function reachingFirst(bindings: Binding[], use: Node): Binding[] {
  if (bindings.length < 2) return bindings;
  const before = bindings.filter((b) => b.node.endIndex <= use.startIndex || (b.kind !== 'param' && b.node.startIndex < use.startIndex)).sort((x, y) => y.node.startIndex - x.node.startIndex);
  const after = bindings.filter((b) => !before.includes(b));
  // Only `x = value` (the name and the value are the two sides of one assignment) replaces: `x += y`, a buffer
  // filled in place (`s.append(y)`, `fread(x, …)`) or an unpacking keeps the earlier bindings.
  const replaces = (b: Binding): boolean => b.kind === 'assign' && !!b.node.parent && b.node.parent.id === b.value.parent?.id;
  let around: Set<number> | undefined;
  const killer = before.find((b) => {
    if (!replaces(b)) return false;
    // The nodes around `use`, walked once (each parent step is a descent from the root in web-tree-sitter).
    if (!around) {
      around = new Set<number>();
      for (let p = use.parent; p; p = p.parent) around.add(p.id);
    }
    return alwaysRunsBefore(b.node, use, around);
  });
  const kept = killer ? before.filter((b) => b.node.startIndex >= killer.node.startIndex) : before;
  return [...kept, ...after];
}

/** Whether the statement holding `binding` is a plain statement of a block around `use` (`around`: its ancestors), ending before it. */
function alwaysRunsBefore(binding: Node, use: Node, around: Set<number>): boolean {
  let stmt: Node | null = binding;
  while (stmt?.parent && !around.has(stmt.parent.id)) stmt = stmt.parent;
  return !!stmt && PLAIN_STATEMENTS.has(stmt.type) && stmt.endIndex <= use.startIndex;
}
