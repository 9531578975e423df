// Python's side of the analysis: import aliases, scopes and bindings, qualified names of callees, the
// shapes of expressions, and the external sources of rules/sources.yml. Used by the dynamic-code and cache
// checks; notebooks arrive here as one Python program.
import type { Node, Tree } from 'web-tree-sitter';
import type { SourceModel } from '../rules/catalog';
import type { Binding, ExprShape, LanguageAdapter, SourceHit } from './expressions';

const PYTHON_BUILTINS = new Set([
  'eval', 'exec', 'compile', 'input', 'open', 'getattr', '__import__', 'print', 'str', 'int', 'float', 'bool',
  'len', 'repr', 'format', 'dict', 'list', 'tuple', 'set', 'bytes', 'globals', 'locals', 'vars',
]);
const CONSTANT_STRING_METHODS = new Set([
  'format', 'join', 'strip', 'lstrip', 'rstrip', 'replace', 'lower', 'upper', 'encode', 'decode', 'dedent', 'format_map',
]);

function nameOfParam(p: Node): Node | undefined {
  if (p.type === 'identifier') return p;
  const named = p.childForFieldName('name');
  if (named?.type === 'identifier') return named;
  return p.namedChildren.find((c): c is Node => c?.type === 'identifier') ?? undefined;
}

/** Node types gathered in one tree query: scopes, bindings and calls. */
const COLLECTED = [
  'function_definition', 'lambda', 'class_definition', 'import_statement', 'import_from_statement', 'assignment',
  'augmented_assignment', 'for_statement', 'for_in_clause', 'as_pattern', 'named_expression', 'except_clause',
  'global_statement', 'call',
];
const UNPACK_TARGETS = new Set(['pattern_list', 'tuple_pattern', 'list_pattern', 'as_pattern_target', 'list_splat_pattern', 'parenthesized_expression']);
const files = new WeakMap<Tree, PythonFile>();

export class PythonFile implements LanguageAdapter {
  /** Local name → fully qualified module path, from every import in the file. */
  private readonly imports = new Map<string, string>();
  /** Bindings per scope node id (module, functions, lambdas, and classes, whose names are not looked up). */
  private readonly scopeBindings = new Map<number, Map<string, Binding[]>>();
  /** Function and lambda scopes in document order, for finding the scope around an offset. */
  private readonly functionScopes: Node[] = [];
  /** Every call in the file, in document order. */
  readonly calls: Node[] = [];
  /** Every assignment statement, in document order. */
  readonly assignments: Node[] = [];

  /** One analysis per tree, shared by the checks that run on it. */
  static of(tree: Tree, sources: SourceModel): PythonFile {
    let file = files.get(tree);
    if (!file) {
      file = new PythonFile(tree, sources);
      files.set(tree, file);
    }
    return file;
  }

  constructor(
    readonly tree: Tree,
    private readonly sources: SourceModel,
  ) {
    // One query in wasm instead of walking the tree from JavaScript: scopes are then assigned by position,
    // since tree-sitter's parent lookups cost a descent from the root each.
    const root = tree.rootNode;
    this.scopeBindings.set(root.id, new Map());
    const open: Node[] = [];
    const globals: { stmt: Node; owner: Node }[] = [];
    for (const node of root.descendantsOfType(COLLECTED)) {
      if (!node) continue;
      while (open.length > 0 && open[open.length - 1].endIndex <= node.startIndex) open.pop();
      const owner = open[open.length - 1] ?? root;
      const add = (b: Binding): void => this.addBinding(owner, b);
      switch (node.type) {
        case 'function_definition':
        case 'lambda':
        case 'class_definition': {
          const name = node.type === 'lambda' ? undefined : node.childForFieldName('name');
          if (name) add({ kind: 'def', name: name.text, node: name });
          this.scopeBindings.set(node.id, new Map());
          if (node.type !== 'class_definition') {
            this.functionScopes.push(node);
            this.addParameters(node);
          }
          open.push(node);
          break;
        }
        case 'call':
          this.calls.push(node);
          break;
        case 'import_statement':
        case 'import_from_statement':
          this.recordImport(node);
          for (const [local, qualified] of this.importsOf(node)) add({ kind: 'import', name: local, node, qualified });
          break;
        case 'assignment': {
          this.assignments.push(node);
          const left = node.childForFieldName('left');
          let right = node.childForFieldName('right');
          // a = b = value: every target gets the innermost value.
          while (right?.type === 'assignment') right = right.childForFieldName('right');
          if (left?.type === 'identifier') {
            if (right) this.addTargets(owner, left, right, '');
            // an annotation alone (`x: int`) binds nothing
          } else if (left) this.addTargets(owner, left, undefined, 'assigned by unpacking');
          break;
        }
        case 'augmented_assignment': {
          const left = node.childForFieldName('left');
          const right = node.childForFieldName('right');
          if (left?.type === 'identifier' && right) this.addTargets(owner, left, right, '', true);
          break;
        }
        case 'for_statement':
        case 'for_in_clause': {
          const left = node.childForFieldName('left');
          if (left) this.addTargets(owner, left, undefined, 'a loop variable');
          break;
        }
        case 'as_pattern': {
          const alias = node.childForFieldName('alias');
          if (alias) this.addTargets(owner, alias, undefined, 'bound by `as`');
          break;
        }
        case 'named_expression': {
          const name = node.childForFieldName('name');
          const value = node.childForFieldName('value');
          if (name && value) add({ kind: 'assign', name: name.text, node: name, value });
          break;
        }
        case 'except_clause': {
          const alias = node.childForFieldName('alias');
          if (alias) this.addTargets(owner, alias, undefined, 'bound by `except … as`');
          break;
        }
        case 'global_statement':
          for (const id of node.namedChildren) if (id) add({ kind: 'other', name: id.text, node: id, why: 'global' });
          if (owner !== root) globals.push({ stmt: node, owner });
          break;
      }
    }
    // `global NAME` inside a function makes that function's assignments module bindings too.
    for (const { stmt, owner } of globals) {
      const local = this.scopeBindings.get(owner.id)!;
      for (const id of stmt.namedChildren) {
        for (const b of (id && local.get(id.text)) ?? []) if (!(b.kind === 'other' && b.why === 'global')) this.addBinding(root, b);
      }
    }
  }

  private addBinding(scope: Node, b: Binding): void {
    const map = this.scopeBindings.get(scope.id)!;
    const list = map.get(b.name);
    if (list) list.push(b);
    else map.set(b.name, [b]);
  }

  private addParameters(scope: Node): void {
    const owner = scope.type === 'lambda' ? 'lambda' : `${scope.childForFieldName('name')?.text ?? 'function'}()`;
    for (const p of scope.childForFieldName('parameters')?.namedChildren ?? []) {
      const id = p && nameOfParam(p);
      if (id) this.addBinding(scope, { kind: 'param', name: id.text, node: id, owner });
    }
  }

  private addTargets(scope: Node, target: Node, value: Node | undefined, why: string, aug = false): void {
    if (target.type === 'identifier') {
      if (value) this.addBinding(scope, { kind: aug ? 'augassign' : 'assign', name: target.text, node: target, value });
      else this.addBinding(scope, { kind: 'other', name: target.text, node: target, why });
      return;
    }
    if (UNPACK_TARGETS.has(target.type)) {
      for (const c of target.namedChildren) if (c) this.addTargets(scope, c, undefined, why);
    }
  }

  private recordImport(stmt: Node): void {
    for (const [local, qualified] of this.importsOf(stmt)) this.imports.set(local, qualified);
  }

  // ---- scopes and bindings -------------------------------------------------------------------------

  /** The innermost function or lambda strictly around [start, end), else the module. Classes are skipped. */
  private scopeAround(start: number, end: number, self?: Node): Node {
    // Scopes are in document order, so the candidates are those starting at or before `start`.
    let lo = 0;
    let hi = this.functionScopes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.functionScopes[mid].startIndex <= start) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0; i--) {
      const s = this.functionScopes[i];
      if (s.startIndex <= start && end <= s.endIndex && (!self || s.id !== self.id)) return s;
    }
    return this.tree.rootNode;
  }

  bindingsOf(node: Node): Binding[] {
    const name = node.text;
    let scope: Node = this.scopeAround(node.startIndex, node.endIndex, node);
    // Compare with the root by id, not by type: a file that does not parse has an ERROR root, not `module`.
    const rootId = this.tree.rootNode.id;
    for (;;) {
      const found = this.scopeBindings.get(scope.id)?.get(name);
      if (found && found.length > 0) {
        if (scope.id !== rootId && found.some((b) => b.kind === 'other' && b.why === 'global')) {
          return this.scopeBindings.get(rootId)!.get(name) ?? [];
        }
        return found;
      }
      if (scope.id === rootId) return [];
      scope = this.scopeAround(scope.startIndex, scope.endIndex, scope);
    }
  }

  private importsOf(stmt: Node): [string, string][] {
    const out: [string, string][] = [];
    const moduleName = stmt.childForFieldName('module_name')?.text;
    for (const name of stmt.childrenForFieldName('name')) {
      if (!name) continue;
      if (name.type === 'aliased_import') {
        const orig = name.childForFieldName('name')?.text ?? '';
        const alias = name.childForFieldName('alias')?.text ?? orig;
        out.push([alias, moduleName !== undefined ? `${moduleName}.${orig}` : orig]);
      } else if (moduleName !== undefined) out.push([name.text, `${moduleName}.${name.text}`]);
      else out.push([name.text.split('.')[0], name.text.split('.')[0]]);
    }
    return out;
  }

  // ---- names ---------------------------------------------------------------------------------------

  /**
   * The fully qualified name an expression refers to: imports resolved (`cp.RawKernel` → `cupy.RawKernel`),
   * builtins as `builtins.eval`, one level of local aliasing (`run = eval`). Undefined for anything local.
   */
  qualifiedName(node: Node, depth = 0): string | undefined {
    if (depth > 8) return undefined;
    if (node.type === 'identifier') {
      const bindings = this.bindingsOf(node);
      if (bindings.length === 0) {
        const imported = this.imports.get(node.text);
        if (imported) return imported;
        return PYTHON_BUILTINS.has(node.text) ? `builtins.${node.text}` : undefined;
      }
      if (bindings.length === 1) {
        const b = bindings[0];
        if (b.kind === 'import') return b.qualified;
        if (b.kind === 'assign' && (b.value.type === 'identifier' || b.value.type === 'attribute')) {
          return this.qualifiedName(b.value, depth + 1);
        }
      }
      if (bindings.every((b) => b.kind === 'import')) return (bindings[0] as Extract<Binding, { kind: 'import' }>).qualified;
      return undefined;
    }
    if (node.type === 'attribute') {
      const object = node.childForFieldName('object');
      const attr = node.childForFieldName('attribute')?.text;
      if (!object || !attr) return undefined;
      if (object.type === 'identifier' && (object.text === '__builtins__' || object.text === 'builtins') && this.bindingsOf(object).length === 0) {
        return `builtins.${attr}`;
      }
      const base = this.qualifiedName(object, depth + 1);
      return base ? `${base}.${attr}` : undefined;
    }
    if (node.type === 'parenthesized_expression') {
      const inner = node.namedChildren[0];
      return inner ? this.qualifiedName(inner, depth + 1) : undefined;
    }
    return undefined;
  }

  /** `a.b.c` as written, with the root resolved through imports when it is imported. */
  private dottedPath(node: Node): string | undefined {
    if (node.type === 'identifier') return this.qualifiedName(node) ?? node.text;
    if (node.type === 'attribute') {
      const object = node.childForFieldName('object');
      const attr = node.childForFieldName('attribute')?.text;
      const base = object && this.dottedPath(object);
      return base && attr ? `${base}.${attr}` : undefined;
    }
    if (node.type === 'subscript') {
      const value = node.childForFieldName('value');
      return value ? this.dottedPath(value) : undefined;
    }
    return undefined;
  }

  // ---- call arguments ------------------------------------------------------------------------------

  positionalArgs(call: Node): Node[] {
    const args = call.childForFieldName('arguments');
    if (!args) return [];
    if (args.type === 'generator_expression') return [args];
    return args.namedChildren.filter((a): a is Node => !!a && a.type !== 'keyword_argument' && a.type !== 'comment');
  }

  keywordArg(call: Node, name: string): Node | undefined {
    const args = call.childForFieldName('arguments');
    for (const a of args?.namedChildren ?? []) {
      if (a?.type === 'keyword_argument' && a.childForFieldName('name')?.text === name) return a.childForFieldName('value') ?? undefined;
    }
    return undefined;
  }

  // ---- expression shapes ---------------------------------------------------------------------------

  shape(node: Node): ExprShape {
    switch (node.type) {
      case 'integer':
      case 'float':
      case 'true':
      case 'false':
      case 'none':
      case 'ellipsis':
        return { kind: 'literal' };
      case 'string': {
        const parts = node.namedChildren
          .filter((c): c is Node => c?.type === 'interpolation')
          .map((c) => c.childForFieldName('expression'))
          .filter((c): c is Node => !!c);
        return parts.length === 0 ? { kind: 'literal' } : { kind: 'compose', parts, label: 'an f-string' };
      }
      case 'concatenated_string':
        return { kind: 'compose', parts: node.namedChildren.filter((c): c is Node => !!c), label: 'a string' };
      case 'parenthesized_expression':
      case 'expression_statement':
        return { kind: 'compose', parts: node.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment'), label: 'an expression' };
      case 'binary_operator': {
        const op = node.childForFieldName('operator')?.text;
        const parts = [node.childForFieldName('left'), node.childForFieldName('right')].filter((c): c is Node => !!c);
        if (op === '%') return { kind: 'compose', parts, label: 'a %-formatted string' };
        return { kind: 'compose', parts, label: 'a concatenation' };
      }
      case 'unary_operator':
      case 'tuple':
      case 'list':
      case 'conditional_expression':
        return { kind: 'compose', parts: node.namedChildren.filter((c): c is Node => !!c), label: 'an expression' };
      case 'identifier':
        return { kind: 'name', node };
      case 'call': {
        const fn = node.childForFieldName('function');
        const args = [...this.positionalArgs(node)];
        const argsNode = node.childForFieldName('arguments');
        for (const a of argsNode?.namedChildren ?? []) if (a?.type === 'keyword_argument') { const v = a.childForFieldName('value'); if (v) args.push(v); }
        if (fn?.type === 'attribute') {
          const method = fn.childForFieldName('attribute')?.text ?? '';
          const receiver = fn.childForFieldName('object');
          // "...".format(a), "".join([...]), textwrap.dedent(src): constant when every input is.
          if (receiver && CONSTANT_STRING_METHODS.has(method) && (receiver.type === 'string' || receiver.type === 'concatenated_string' || this.qualifiedName(fn) === 'textwrap.dedent')) {
            const parts = this.qualifiedName(fn) === 'textwrap.dedent' ? args : [receiver, ...args];
            return { kind: 'compose', parts, label: `a \`.${method}()\` string` };
          }
          if (receiver && CONSTANT_STRING_METHODS.has(method) && receiver.type === 'identifier' && this.bindingsOf(receiver).length > 0) {
            return { kind: 'compose', parts: [receiver, ...args], label: `a \`.${method}()\` string` };
          }
        }
        if (fn && ['builtins.str', 'builtins.repr'].includes(this.qualifiedName(fn) ?? '')) {
          return { kind: 'compose', parts: args, label: 'a string' };
        }
        const inputs = fn?.type === 'attribute' ? [...args, fn.childForFieldName('object')!].filter(Boolean) : args;
        return { kind: 'opaque', inputs };
      }
      case 'attribute': {
        const object = node.childForFieldName('object');
        return { kind: 'opaque', inputs: object ? [object] : [] };
      }
      case 'subscript': {
        const value = node.childForFieldName('value');
        return { kind: 'opaque', inputs: value ? [value] : [] };
      }
      case 'list_comprehension':
      case 'generator_expression':
      case 'dictionary':
      case 'set':
      case 'await':
        return { kind: 'opaque', inputs: node.namedChildren.filter((c): c is Node => !!c) };
      default:
        return { kind: 'opaque', inputs: [] };
    }
  }

  ownLiteralText(node: Node): string | undefined {
    if (node.type !== 'string') return undefined;
    return node.namedChildren
      .filter((c): c is Node => c?.type === 'string_content')
      .map((c) => c.text)
      .join('\u0000');
  }

  sourceAt(node: Node): SourceHit | undefined {
    if (node.type === 'call') {
      const fn = node.childForFieldName('function');
      const name = fn && this.qualifiedName(fn);
      const hit = name ? this.sources.calls.find((s) => s.api === name) : undefined;
      if (hit) return { api: `${hit.api}()`, note: hit.note };
      return undefined;
    }
    if (node.type === 'attribute' || node.type === 'subscript' || node.type === 'identifier') {
      const dotted = this.dottedPath(node);
      if (!dotted) return undefined;
      const hit = this.sources.attributes.find((s) => dotted === s.api || dotted.startsWith(`${s.api}.`));
      // A bare local named like a source root (`request`) only counts when it is not bound in this file.
      if (hit && node.type === 'identifier' && this.bindingsOf(node).some((b) => b.kind !== 'import')) return undefined;
      if (hit) return { api: dotted, note: hit.note };
    }
    return undefined;
  }
}
