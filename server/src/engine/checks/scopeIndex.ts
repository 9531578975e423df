// Bindings per scope for a language adapter, built from one tree query: scopes are assigned by position
// (the innermost open scope around each collected node) instead of walking parents, since a tree-sitter
// parent lookup costs a descent from the root each. Language-neutral: the adapter decides which node types
// to collect, which of them open a scope, and what each one binds.
import type { Node } from 'web-tree-sitter';
import type { Binding } from './expressions';

export class ScopeIndex {
  /** Bindings per scope node id, the root included. */
  private readonly byScope = new Map<number, Map<string, Binding[]>>();
  /** Scopes that names are looked up in, in document order (the root excluded). */
  private readonly lookupScopes: Node[] = [];

  private constructor(readonly root: Node) {
    this.byScope.set(root.id, new Map());
  }

  /**
   * Collects every node of `types` under `root` in one query and calls `visit` on each, in document order,
   * with the innermost scope that contains it (a scope node itself gets its enclosing scope). A node for
   * which `scopeKind` answers `lookup` opens a scope that names are resolved in; `bindings-only` opens one
   * that holds bindings without being searched (Python class bodies); undefined opens none.
   */
  static build(
    root: Node,
    types: string[],
    scopeKind: (node: Node) => 'lookup' | 'bindings-only' | undefined,
    visit: (node: Node, owner: Node, index: ScopeIndex) => void,
  ): ScopeIndex {
    const index = new ScopeIndex(root);
    const open: Node[] = [];
    for (const node of root.descendantsOfType(types)) {
      if (!node) continue;
      while (open.length > 0 && open[open.length - 1].endIndex <= node.startIndex) open.pop();
      const owner = open[open.length - 1] ?? root;
      const kind = scopeKind(node);
      if (kind) {
        index.byScope.set(node.id, new Map());
        if (kind === 'lookup') index.lookupScopes.push(node);
      }
      visit(node, owner, index);
      if (kind) open.push(node);
    }
    return index;
  }

  add(scope: Node, binding: Binding): void {
    let map = this.byScope.get(scope.id);
    if (!map) {
      map = new Map();
      this.byScope.set(scope.id, map);
    }
    const list = map.get(binding.name);
    if (list) list.push(binding);
    else map.set(binding.name, [binding]);
  }

  /** The bindings recorded in one scope. */
  bindingsIn(scope: Node): ReadonlyMap<string, Binding[]> | undefined {
    return this.byScope.get(scope.id);
  }

  /** The innermost lookup scope strictly around [start, end) other than `self`, else the root. */
  scopeAround(start: number, end: number, self?: Node): Node {
    // Scopes are in document order, so the candidates are those starting at or before `start`.
    let lo = 0;
    let hi = this.lookupScopes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lookupScopes[mid].startIndex <= start) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0; i--) {
      const s = this.lookupScopes[i];
      if (s.startIndex <= start && end <= s.endIndex && (!self || s.id !== self.id)) return s;
    }
    return this.root;
  }

  /**
   * The bindings of `name` in the innermost scope around `at` that binds it, walking outwards. Compares
   * with the root by id: a file that does not parse has an ERROR root, not the language's top node type.
   */
  lookup(name: string, at: Node): Binding[] {
    let scope = this.scopeAround(at.startIndex, at.endIndex, at);
    for (;;) {
      const found = this.byScope.get(scope.id)?.get(name);
      if (found && found.length > 0) return found;
      if (scope.id === this.root.id) return [];
      scope = this.scopeAround(scope.startIndex, scope.endIndex, scope);
    }
  }
}
