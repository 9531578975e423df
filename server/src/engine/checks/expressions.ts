// Language-neutral reasoning about expressions: is a value constant, what literal text does it carry,
// does it come from an external source (and by which steps). Each language supplies an adapter that
// classifies its own node types and finds the bindings of a name; this module does the rest.
import type { Node } from 'web-tree-sitter';

export type Binding =
  | { kind: 'assign'; name: string; node: Node; value: Node }
  /** `x += value`: constant only if the earlier value and this one are. */
  | { kind: 'augassign'; name: string; node: Node; value: Node }
  | { kind: 'param'; name: string; node: Node; owner: string }
  | { kind: 'import'; name: string; node: Node; qualified: string }
  | { kind: 'def'; name: string; node: Node }
  /** Loop variables, `with … as`, unpacking, `except … as`: a value Sentinel does not follow. */
  | { kind: 'other'; name: string; node: Node; why: string };

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

export interface LanguageAdapter {
  shape(node: Node): ExprShape;
  /** Bindings of the identifier `node` in the innermost scope that binds it; empty if none is visible. */
  bindingsOf(node: Node): Binding[];
  /** The external source `node` reads directly, if any (a call to `input()`, `request.args[...]`). */
  sourceAt(node: Node): SourceHit | undefined;
  /** Literal text that `node` contributes itself (string contents), without following names. */
  ownLiteralText(node: Node): string | undefined;
}

export interface TraceHop {
  node: Node;
  note: string;
  kind: 'source' | 'step';
}

const MAX_DEPTH = 40;

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
    switch (shape.kind) {
      case 'literal':
        result = true;
        break;
      case 'compose':
        result = shape.parts.every((p) => this.isConstant(p, depth + 1, seen));
        break;
      case 'name': {
        const bindings = this.adapter.bindingsOf(shape.node);
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
   * The path from an external source to `node`, source first, or undefined when none is known. Follows
   * names to their assignments and values into the expressions built from them.
   */
  traceSource(node: Node, depth = 0, seen = new Set<number>()): TraceHop[] | undefined {
    if (depth > MAX_DEPTH || seen.has(node.id)) return undefined;
    seen.add(node.id);
    const hit = this.adapter.sourceAt(node);
    if (hit) return [{ node, note: `${hit.note} read by \`${hit.api}\``, kind: 'source' }];
    const shape = this.adapter.shape(node);
    const children = shape.kind === 'compose' ? shape.parts : shape.kind === 'opaque' ? shape.inputs : [];
    for (const child of children) {
      const inner = this.traceSource(child, depth + 1, seen);
      if (inner) return inner;
    }
    if (shape.kind === 'name') {
      for (const b of this.adapter.bindingsOf(shape.node)) {
        if (b.kind !== 'assign' && b.kind !== 'augassign') continue;
        const inner = this.traceSource(b.value, depth + 1, seen);
        if (inner) return [...inner, { node: b.node, note: `flows into \`${b.name}\``, kind: 'step' }];
      }
    }
    return undefined;
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
    if (shape.kind === 'name') {
      const bindings = this.adapter.bindingsOf(shape.node);
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
