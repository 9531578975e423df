// Python's side of the analysis: import aliases, scopes and bindings, qualified names of callees, the
// shapes of expressions, and the external sources of rules/sources.yml. Used by the dynamic-code and cache
// checks; notebooks arrive here as one Python program.
import type { Node, Tree } from 'web-tree-sitter';
import type { SourceModel } from '../rules/catalog';
import type { Binding, ExprShape, LanguageAdapter, SanitizerHit, SourceHit } from './expressions';
import { type CallInfo, CallIndex } from './callIndex';
import { isAnchored, isStrictPattern, matchesName, receiverPattern } from './models';
import { type GuardSyntax, type GuardWalk, type PassedGuard, Sanitizers } from './sanitizers';

type ParamBinding = Extract<Binding, { kind: 'param' }>;
/** Statements that end a guard's branch: the code after the `if` only runs when the guard held. */
const TERMINATORS = new Set(['raise_statement', 'return_statement', 'continue_statement', 'break_statement']);
const EXIT_CALLS = new Set(['abort', 'flask.abort', 'sys.exit', 'builtins.exit', 'os._exit', 'exit', 'quit', 'builtins.quit']);
/** Python's spelling of guards; sanitizers.ts walks them. */
const PYTHON_GUARDS: GuardSyntax = {
  call: 'call',
  castCallees: new Set(['identifier', 'attribute']),
  boundaries: new Set(['function_definition', 'lambda', 'class_definition']),
  blocks: new Set(['block', 'module']),
  not: { type: 'not_operator' },
  junction: { type: 'boolean_operator', and: 'and', or: 'or' },
};
const COLLECTION_TYPES = new Set(['list', 'tuple', 'set', 'dictionary']);

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

export type { CallInfo } from './callIndex';

/** An assignment statement with its two sides looked up once (`right` is the direct value, `b = c` in `a = b = c`). */
export interface AssignmentInfo {
  node: Node;
  left: Node | null;
  right: Node | null;
  leftType: string | undefined;
}

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
  private assignmentInfoList?: AssignmentInfo[];
  /** The binding nodes directly in each scope (by scope node id), in document order, before they are read. */
  private readonly pending = new Map<number, { node: Node; type: string }[]>();
  /** `global` statements inside functions and lambdas, with their scope. */
  private readonly globals: { stmt: Node; owner: Node }[] = [];
  /** The end offset of each of `functionScopes`. */
  private readonly functionScopeEnds: number[] = [];
  /** Lazily built: every call with its callee, and the calls by `last`. */
  private calleeIndex?: CallIndex;
  /** Every class, in document order. */
  private readonly classes: Node[] = [];
  /** Lazily built: calls by the last segment of their callee (`helper`, `run` for `self.run`). */
  private readonly returnCache = new Map<number, Node[]>();
  private readonly attributeCache = new Map<string, { node: Node; value: Node }[]>();
  private readonly calleeCache = new Map<number, Node | null>();
  private readonly sanitizers = new Sanitizers(PYTHON_GUARDS, {
    casts: () => this.sources.sanitizers?.casts,
    qualifiedName: (node) => this.qualifiedName(node),
    passed: (stmt) => this.passedGuard(stmt),
    test: (cond, name, holds, walk) => this.guardTest(cond, name, holds, walk),
    bindingsOf: (use) => this.bindingsOf(use),
  });

  /** One analysis per tree, shared by the checks that run on it. */
  static of(tree: Tree, sources: SourceModel): PythonFile {
    let file = files.get(tree);
    // A policy's models give another source model for the same tree: analyse again with it.
    if (!file || file.sources !== sources) {
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
    // since tree-sitter's parent lookups cost a descent from the root each. Only the node types and the
    // scopes' ends are read here; the bindings of a scope are taken from its nodes when a name is first
    // looked up in it (most scopes of a large file never are).
    const root = tree.rootNode;
    this.pending.set(root.id, []);
    const open: { node: Node; end: number }[] = [];
    for (const node of root.descendantsOfType(COLLECTED)) {
      if (!node) continue;
      while (open.length > 0 && open[open.length - 1].end <= node.startIndex) open.pop();
      const owner = open[open.length - 1]?.node ?? root;
      const type = node.type;
      switch (type) {
        case 'function_definition':
        case 'lambda':
        case 'class_definition': {
          const end = node.endIndex;
          this.pending.set(node.id, []);
          if (type !== 'class_definition') {
            this.functionScopes.push(node);
            this.functionScopeEnds.push(end);
          } else this.classes.push(node);
          if (type !== 'lambda') this.pending.get(owner.id)!.push({ node, type });
          open.push({ node, end });
          break;
        }
        case 'call':
          this.calls.push(node);
          break;
        case 'import_statement':
        case 'import_from_statement':
          this.recordImport(node);
          this.pending.get(owner.id)!.push({ node, type });
          break;
        case 'assignment':
          this.assignments.push(node);
          this.pending.get(owner.id)!.push({ node, type });
          break;
        case 'global_statement':
          if (owner.id !== root.id) this.globals.push({ stmt: node, owner });
          this.pending.get(owner.id)!.push({ node, type });
          break;
        default:
          this.pending.get(owner.id)!.push({ node, type });
      }
    }
  }

  /** The bindings of one scope (the module, a function, a lambda or a class), taken from its nodes on first use. */
  private bindingsIn(scope: Node): Map<string, Binding[]> | undefined {
    const done = this.scopeBindings.get(scope.id);
    if (done) return done;
    const nodes = this.pending.get(scope.id);
    if (!nodes) return undefined;
    this.scopeBindings.set(scope.id, new Map());
    const root = this.tree.rootNode;
    if (scope.id !== root.id) {
      const type = scope.type;
      if (type === 'function_definition' || type === 'lambda') this.addParameters(scope);
    }
    for (const { node, type } of nodes) this.bind(scope, node, type);
    if (scope.id === root.id) {
      // `global NAME` inside a function makes that function's assignments module bindings too.
      for (const { stmt, owner } of this.globals) {
        const local = this.bindingsIn(owner)!;
        for (const id of stmt.namedChildren) {
          for (const b of (id && local.get(id.text)) ?? []) if (!(b.kind === 'other' && b.why === 'global')) this.addBinding(root, b);
        }
      }
    }
    return this.scopeBindings.get(scope.id);
  }

  /** The bindings `node` (of type `type`, directly in `owner`) adds to `owner`. */
  private bind(owner: Node, node: Node, type: string): void {
    const add = (b: Binding): void => this.addBinding(owner, b);
    switch (type) {
      case 'function_definition':
      case 'class_definition': {
        const name = node.childForFieldName('name');
        if (name) add({ kind: 'def', name: name.text, node: name });
        break;
      }
      case 'import_statement':
      case 'import_from_statement':
        for (const [local, qualified] of this.importsOf(node)) add({ kind: 'import', name: local, node, qualified });
        break;
      case 'assignment': {
        const left = node.childForFieldName('left');
        let right = node.childForFieldName('right');
        // a = b = value: every target gets the innermost value.
        while (right?.type === 'assignment') right = right.childForFieldName('right');
        if (left?.type === 'identifier') {
          if (right) this.addTargets(owner, left, right, '');
          // an annotation alone (`x: int`) binds nothing
        } else if (left && UNPACK_TARGETS.has(left.type) && right && (right.type === 'expression_list' || right.type === 'tuple' || right.type === 'list')) {
          // a, b = src, 1: pairwise, when both sides have the same number of plain items.
          const targets = left.namedChildren.filter((c): c is Node => !!c);
          const values = right.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
          if (targets.length === values.length && !values.some((v) => v.type === 'list_splat')) targets.forEach((t, i) => this.addTargets(owner, t, values[i], ''));
          else this.addTargets(owner, left, undefined, 'assigned by unpacking', false, right);
        } else if (left && left.type !== 'attribute' && left.type !== 'subscript') this.addTargets(owner, left, undefined, 'assigned by unpacking', false, right ?? undefined);
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
        if (left) this.addTargets(owner, left, undefined, 'a loop variable', false, node.childForFieldName('right') ?? undefined);
        break;
      }
      case 'as_pattern': {
        const alias = node.childForFieldName('alias');
        const value = node.namedChildren.find((c) => c && c.id !== alias?.id) ?? undefined;
        if (alias) this.addTargets(owner, alias, undefined, 'bound by `as`', false, value);
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
        break;
    }
  }

  /** The assignments with their sides, in document order (looked up on first use). */
  get assignmentInfos(): AssignmentInfo[] {
    this.assignmentInfoList ??= this.assignments.map((node) => {
      const left = node.childForFieldName('left');
      return { node, left, right: node.childForFieldName('right'), leftType: left?.type };
    });
    return this.assignmentInfoList;
  }

  private addBinding(scope: Node, b: Binding): void {
    const map = this.scopeBindings.get(scope.id)!;
    const list = map.get(b.name);
    if (list) list.push(b);
    else map.set(b.name, [b]);
  }

  private addParameters(scope: Node): void {
    const owner = scope.type === 'lambda' ? 'lambda' : `${scope.childForFieldName('name')?.text ?? 'function'}()`;
    let index = 0;
    for (const p of scope.childForFieldName('parameters')?.namedChildren ?? []) {
      const id = p && nameOfParam(p);
      if (id) this.addBinding(scope, { kind: 'param', name: id.text, node: id, owner, scope, index: index++ });
    }
  }

  private addTargets(scope: Node, target: Node, value: Node | undefined, why: string, aug = false, from?: Node): void {
    if (target.type === 'identifier') {
      if (value) this.addBinding(scope, { kind: aug ? 'augassign' : 'assign', name: target.text, node: target, value });
      else this.addBinding(scope, { kind: 'other', name: target.text, node: target, why, from });
      return;
    }
    if (UNPACK_TARGETS.has(target.type)) {
      for (const c of target.namedChildren) if (c) this.addTargets(scope, c, undefined, why, false, from);
    }
  }

  private recordImport(stmt: Node): void {
    for (const [local, qualified] of this.importsOf(stmt)) this.imports.set(local, qualified);
  }

  // ---- scopes and bindings -------------------------------------------------------------------------

  /** The innermost function or lambda strictly around [start, end), else the module. Classes are skipped. */
  private scopeAround(start: number, end: number, self?: Node): Node {
    // Scopes are in document order, so the candidates are those starting at or before `start`; a scope that
    // holds the range and starts before candidate i either holds i too (its ancestor) or nothing: walk parents.
    const scopes = this.functionScopes;
    let lo = 0;
    let hi = scopes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (scopes[mid].startIndex <= start) lo = mid + 1;
      else hi = mid;
    }
    const parents = this.scopeParents();
    for (let i = lo - 1; i >= 0; i = parents[i]) {
      const s = scopes[i];
      if (s.startIndex <= start && end <= this.functionScopeEnds[i] && (!self || s.id !== self.id)) return s;
    }
    return this.tree.rootNode;
  }

  private parentIndex?: Int32Array;

  /** For each function scope, the index of the innermost function scope around it (-1: the module). */
  private scopeParents(): Int32Array {
    if (this.parentIndex) return this.parentIndex;
    const scopes = this.functionScopes;
    const parents = new Int32Array(scopes.length);
    const stack: number[] = [];
    for (let i = 0; i < scopes.length; i++) {
      while (stack.length > 0 && this.functionScopeEnds[stack[stack.length - 1]] <= scopes[i].startIndex) stack.pop();
      parents[i] = stack.length > 0 ? stack[stack.length - 1] : -1;
      stack.push(i);
    }
    this.parentIndex = parents;
    return parents;
  }

  private readonly bindingMemo = new Map<number, Binding[]>();

  bindingsOf(node: Node): Binding[] {
    let found = this.bindingMemo.get(node.id);
    if (!found) {
      found = this.lookupBindings(node);
      this.bindingMemo.set(node.id, found);
    }
    return found;
  }

  private lookupBindings(node: Node): Binding[] {
    const name = node.text;
    let scope: Node = this.scopeAround(node.startIndex, node.endIndex, node);
    // Compare with the root by id, not by type: a file that does not parse has an ERROR root, not `module`.
    const rootId = this.tree.rootNode.id;
    for (;;) {
      const found = this.bindingsIn(scope)?.get(name);
      if (found && found.length > 0) {
        if (scope.id !== rootId && found.some((b) => b.kind === 'other' && b.why === 'global')) {
          return this.bindingsIn(this.tree.rootNode)!.get(name) ?? [];
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
        if (fn?.type === 'attribute' && ['substitute', 'safe_substitute'].includes(fn.childForFieldName('attribute')?.text ?? '')) {
          // string.Template(text).substitute(...): the template text and the values filled in.
          const template = this.templateText(fn.childForFieldName('object'));
          if (template) return { kind: 'compose', parts: [template, ...args], label: 'a `string.Template` string' };
        }
        if (fn && this.qualifiedName(fn) === 'builtins.compile') {
          // compile("x = 1", …) is as constant as its source: exec of it runs only the program's own text.
          const source = args[0];
          if (source) return { kind: 'compose', parts: [source], label: 'code compiled from a string' };
        }
        if (fn && ['builtins.str', 'builtins.repr'].includes(this.qualifiedName(fn) ?? '')) {
          return { kind: 'compose', parts: args, label: 'a string' };
        }
        if (fn?.type === 'attribute' && fn.childForFieldName('attribute')?.text === 'get') {
          // OPS.get(name, default) on a literal map: one of its values or the default.
          const values = this.literalCollection(fn.childForFieldName('object'), 'values');
          if (values) return { kind: 'compose', parts: [...values, ...args.slice(1)], label: 'a value from a literal map' };
        }
        // The callee itself (not only its receiver), so `request.json()` meets the `request.json` source.
        const inputs = fn?.type === 'attribute' ? [...args, fn] : args;
        return { kind: 'opaque', inputs };
      }
      case 'attribute': {
        const object = node.childForFieldName('object');
        return { kind: 'opaque', inputs: object ? [object] : [] };
      }
      case 'subscript': {
        const value = node.childForFieldName('value');
        // OPS[name] on a literal map or list: one of its values, whatever the key.
        const values = this.literalCollection(value, 'values');
        if (values) return { kind: 'compose', parts: values, label: 'a value from a literal map' };
        return { kind: 'opaque', inputs: value ? [value] : [] };
      }
      case 'boolean_operator':
        return { kind: 'compose', parts: node.namedChildren.filter((c): c is Node => !!c), label: 'an expression' };
      case 'comparison_operator':
      case 'lambda':
        return { kind: 'opaque', inputs: [] };
      case 'pair': {
        const value = node.childForFieldName('value');
        return { kind: 'opaque', inputs: value ? [value] : [] };
      }
      case 'list_comprehension':
      case 'generator_expression':
      case 'set_comprehension':
      case 'dictionary_comprehension':
      case 'for_in_clause':
      case 'dictionary':
      case 'set':
      case 'await':
      case 'keyword_argument':
      case 'list_splat':
      case 'dictionary_splat':
        return { kind: 'opaque', inputs: node.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') };
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
      if (!fn) return undefined;
      const name = this.qualifiedName(fn) ?? this.dottedPath(fn);
      const hit = this.sources.calls.find((s) => matchesName(name, s.api));
      if (hit) return { api: `${name}()`, note: hit.note };
      if (fn.type === 'attribute') {
        const method = fn.childForFieldName('attribute')?.text;
        const receiver = fn.childForFieldName('object');
        const m = (this.sources.methods ?? []).find((s) => s.method === method && (!s.receiver || !!receiver && !!receiverPattern(s.receiver)?.test(receiver.text)));
        if (m && receiver) return { api: `${snippet(receiver.text)}.${method}()`, note: m.note };
      }
      const made = this.madeBy(fn);
      const obj = made && (this.sources.objects ?? []).find((s) => s.use === 'call' && matchesName(made, s.api));
      if (obj) return { api: `${fn.text}()`, note: `${obj.note} (\`${made}()\`)` };
      return undefined;
    }
    if (node.type === 'attribute' || node.type === 'subscript' || node.type === 'identifier') {
      if (node.type === 'attribute') {
        const attr = node.childForFieldName('attribute')?.text;
        const made = this.madeBy(node.childForFieldName('object'));
        const obj = made && (this.sources.objects ?? []).find((s) => s.use === `.${attr}` && matchesName(made, s.api));
        if (obj) return { api: node.text, note: `${obj.note} (\`${made}()\`)` };
      }
      const dotted = this.dottedPath(node);
      if (!dotted) return undefined;
      const hit = this.sources.attributes.find((s) => dotted === s.api || dotted.startsWith(`${s.api}.`));
      // A bare local named like a source root (`request`) only counts when it is not bound in this file.
      if (hit && node.type === 'identifier' && this.bindingsOf(node).some((b) => b.kind !== 'import')) return undefined;
      if (hit) return { api: dotted, note: hit.note };
    }
    return undefined;
  }

  /** The qualified callee that made the object `node` names (`w = ipywidgets.Text()` → `ipywidgets.Text`). */
  private madeBy(node: Node | null | undefined): string | undefined {
    if (node?.type !== 'identifier') return undefined;
    const bindings = this.bindingsOf(node);
    if (bindings.length !== 1 || bindings[0].kind !== 'assign' || bindings[0].value.type !== 'call') return undefined;
    const fn = bindings[0].value.childForFieldName('function');
    return fn ? this.qualifiedName(fn) : undefined;
  }

  /** The text argument of `string.Template(text)` that `node` is or names. */
  private templateText(node: Node | null | undefined, depth = 0): Node | undefined {
    if (!node || depth > 4) return undefined;
    if (node.type === 'identifier') {
      const b = this.bindingsOf(node);
      return b.length === 1 && b[0].kind === 'assign' ? this.templateText(b[0].value, depth + 1) : undefined;
    }
    if (node.type !== 'call') return undefined;
    const fn = node.childForFieldName('function');
    return fn && this.qualifiedName(fn) === 'string.Template' ? (this.positionalArgs(node)[0] ?? this.keywordArg(node, 'template')) : undefined;
  }

  /** Whether the file imports `module` or a submodule of it, under any alias. */
  importsModule(module: string): boolean {
    for (const q of this.imports.values()) if (q === module || q.startsWith(`${module}.`)) return true;
    return false;
  }

  /** The calls that may have made the object `receiver` names: its constructor, or `self`'s base classes. */
  receiverOrigins(receiver: Node | null | undefined): string[] {
    if (receiver?.type !== 'identifier') return [];
    if (receiver.text === 'self' || receiver.text === 'cls') {
      const cls = this.classAround(receiver);
      return (cls?.childForFieldName('superclasses')?.namedChildren ?? []).map((b) => (b && this.qualifiedName(b)) ?? '').filter(Boolean);
    }
    const made = this.madeBy(receiver);
    if (made) return [made];
    // def f(df: pd.DataFrame): the annotation says what the parameter holds.
    const param = this.bindingsOf(receiver).find((b) => b.kind === 'param');
    const annotation = param?.node.parent?.childForFieldName('type')?.namedChildren[0] ?? undefined;
    const q = annotation && (annotation.type === 'identifier' || annotation.type === 'attribute') ? this.qualifiedName(annotation) : undefined;
    return q ? [q] : [];
  }

  /** Whether `node` may hold a string (for sinks that also take callables, such as `timeit`). */
  isStringish(node: Node, depth = 0): boolean {
    if (depth > 8) return true;
    switch (node.type) {
      case 'lambda':
        return false;
      case 'identifier': {
        const bindings = this.bindingsOf(node);
        if (bindings.some((b) => b.kind === 'def' || b.kind === 'import')) return false;
        if (bindings.length === 0) return !PYTHON_BUILTINS.has(node.text);
        return !bindings.every((b) => (b.kind === 'assign' || b.kind === 'augassign') && !this.isStringish(b.value, depth + 1));
      }
      case 'attribute': {
        // `User.name` on a class or a module is a column or a function, not a string.
        let root: Node | null = node;
        while (root?.type === 'attribute') root = root.childForFieldName('object');
        if (root?.type !== 'identifier') return true;
        return !this.bindingsOf(root).some((b) => b.kind === 'def' || b.kind === 'import') && !(this.bindingsOf(root).length === 0 && this.imports.has(root.text));
      }
      case 'call': {
        if (this.shape(node).kind === 'compose' || this.sourceAt(node)) return true;
        const fn = this.calleeFunction(node);
        return !!fn && this.returnsOf(fn).some((r) => this.isStringish(r, depth + 1));
      }
      default:
        return true;
    }
  }

  // ---- literal collections -------------------------------------------------------------------------

  /**
   * The values (or keys) of a literal dict, list, tuple or set that `node` is or names, when every binding of
   * the name assigns one; undefined otherwise. Lets `OPS[name]` and `name in ALLOWED` be reasoned about.
   */
  literalCollection(node: Node | null | undefined, want: 'values' | 'keys', depth = 0): Node[] | undefined {
    if (!node || depth > 4) return undefined;
    if (node.type === 'parenthesized_expression') return this.literalCollection(node.namedChildren[0], want, depth + 1);
    if (COLLECTION_TYPES.has(node.type)) {
      const items = node.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
      if (items.some((c) => c.type === 'list_splat' || c.type === 'dictionary_splat')) return undefined;
      if (node.type !== 'dictionary') return items;
      return items.map((p) => p.childForFieldName(want === 'keys' ? 'key' : 'value')).filter((c): c is Node => !!c);
    }
    if (node.type === 'call') {
      // frozenset({...}), set([...]), tuple([...]), MAPPING.keys()
      const fn = node.childForFieldName('function');
      const q = fn ? this.qualifiedName(fn) : undefined;
      const first = this.positionalArgs(node)[0];
      if (q && ['builtins.set', 'builtins.tuple', 'builtins.list', 'frozenset', 'builtins.frozenset'].includes(q) && first) return this.literalCollection(first, want, depth + 1);
      if (fn?.type === 'attribute' && fn.childForFieldName('attribute')?.text === 'keys' && want === 'keys') return this.literalCollection(fn.childForFieldName('object'), 'keys', depth + 1);
      return undefined;
    }
    if (node.type !== 'identifier') return undefined;
    const bindings = this.bindingsOf(node);
    if (bindings.length === 0 || !bindings.every((b) => b.kind === 'assign')) return undefined;
    const out: Node[] = [];
    for (const b of bindings) {
      const items = b.kind === 'assign' ? this.literalCollection(b.value, want, depth + 1) : undefined;
      if (!items) return undefined;
      out.push(...items);
    }
    return out;
  }

  // ---- functions, methods and classes in this file --------------------------------------------------

  private innermost(list: Node[], start: number, end: number): Node | undefined {
    let found: Node | undefined;
    for (const n of list) {
      if (n.startIndex > start) break;
      if (end <= n.endIndex) found = n;
    }
    return found;
  }

  private classAround(node: Node): Node | undefined {
    return this.innermost(this.classes, node.startIndex, node.endIndex);
  }

  private classNamed(name: string): Node | undefined {
    return this.classes.find((c) => c.childForFieldName('name')?.text === name);
  }

  /** Method `name` of `cls`, or of a base class defined in this file. */
  private methodOf(cls: Node, name: string, depth = 0): Node | undefined {
    for (const item of cls.childForFieldName('body')?.namedChildren ?? []) {
      const def = item?.type === 'decorated_definition' ? item.childForFieldName('definition') : item;
      if (def?.type === 'function_definition' && def.childForFieldName('name')?.text === name) return def;
    }
    if (depth > 4) return undefined;
    for (const base of cls.childForFieldName('superclasses')?.namedChildren ?? []) {
      const baseCls = base?.type === 'identifier' ? this.classNamed(base.text) : undefined;
      const found = baseCls && baseCls.id !== cls.id ? this.methodOf(baseCls, name, depth + 1) : undefined;
      if (found) return found;
    }
    return undefined;
  }

  /** The local class `node` names, or the class of the object it was made from (`k = K(q)`). */
  private localClassOf(node: Node | null | undefined, instance: boolean): Node | undefined {
    if (node?.type !== 'identifier') return undefined;
    const bindings = this.bindingsOf(node);
    if (bindings.length !== 1) return undefined;
    const b = bindings[0];
    if (!instance && b.kind === 'def' && b.node.parent?.type === 'class_definition') return b.node.parent;
    if (instance && b.kind === 'assign' && b.value.type === 'call') return this.localClassOf(b.value.childForFieldName('function'), false);
    return undefined;
  }

  private decoratorsOf(fn: Node): Node[] {
    const parent = fn.parent;
    if (parent?.type !== 'decorated_definition') return [];
    return parent.namedChildren.filter((c): c is Node => c?.type === 'decorator');
  }

  private isStaticMethod(fn: Node): boolean {
    return this.decoratorsOf(fn).some((d) => /^@\s*(staticmethod|classmethod)\b/.test(d.text));
  }

  /** The class whose body defines `fn` directly, if any. */
  private classOfMethod(fn: Node): Node | undefined {
    let p = fn.parent;
    if (p?.type === 'decorated_definition') p = p.parent;
    return p?.type === 'block' && p.parent?.type === 'class_definition' ? p.parent : undefined;
  }

  calleeFunction(call: Node): Node | undefined {
    if (call.type !== 'call') return undefined;
    const cached = this.calleeCache.get(call.id);
    if (cached !== undefined) return cached ?? undefined;
    let found: Node | undefined;
    const fn = call.childForFieldName('function');
    if (fn?.type === 'identifier') {
      const bindings = this.bindingsOf(fn);
      if (bindings.length === 1) {
        const b = bindings[0];
        if (b.kind === 'def' && b.node.parent?.type === 'function_definition') found = b.node.parent;
        else if (b.kind === 'assign' && b.value.type === 'lambda') found = b.value;
      }
    } else if (fn?.type === 'attribute') {
      const object = fn.childForFieldName('object');
      const name = fn.childForFieldName('attribute')?.text ?? '';
      let cls: Node | undefined;
      if (object?.type === 'identifier' && (object.text === 'self' || object.text === 'cls')) cls = this.classAround(call);
      else cls = this.localClassOf(object, false) ?? this.localClassOf(object, true);
      found = cls ? this.methodOf(cls, name) : undefined;
    }
    this.calleeCache.set(call.id, found ?? null);
    return found;
  }

  returnsOf(fn: Node): Node[] {
    const cached = this.returnCache.get(fn.id);
    if (cached) return cached;
    let out: Node[] = [];
    if (fn.type === 'lambda') {
      const body = fn.childForFieldName('body');
      out = body ? [body] : [];
    } else if (fn.type === 'function_definition') {
      out = fn
        .descendantsOfType('return_statement')
        .filter((r): r is Node => !!r && this.scopeAround(r.startIndex, r.endIndex).id === fn.id)
        .map((r) => r.namedChildren[0])
        .filter((v): v is Node => !!v);
    }
    this.returnCache.set(fn.id, out);
    return out;
  }

  functionName(fn: Node): string {
    if (fn.type === 'lambda') {
      const parent = fn.parent;
      return parent?.type === 'assignment' ? (parent.childForFieldName('left')?.text ?? 'lambda') : 'lambda';
    }
    const name = fn.childForFieldName('name')?.text ?? 'function';
    const cls = this.classOfMethod(fn);
    return cls ? `${cls.childForFieldName('name')?.text ?? 'class'}.${name}` : name;
  }

  /** Every call with its callee, in document order; the callee of each call is looked up once per file. */
  callInfos(): CallInfo[] {
    return this.callIndex().infos;
  }

  /** The calls whose callee's last name is one of `names`, in document order (`identifierOrAttribute`: `f()`, `a.f()` only). */
  callsNamed(names: Iterable<string>, identifierOrAttribute = false): CallInfo[] {
    return this.callIndex().named(names, identifierOrAttribute);
  }

  private callIndex(): CallIndex {
    this.calleeIndex ??= new CallIndex(this.calls, { callee: (call) => call.childForFieldName('function'), memberType: 'attribute', memberField: 'attribute' });
    return this.calleeIndex;
  }

  callArguments(fn: Node, param: ParamBinding): { call: Node; arg: Node }[] {
    const out: { call: Node; arg: Node }[] = [];
    const cls = fn.type === 'function_definition' ? this.classOfMethod(fn) : undefined;
    const isMethod = !!cls && !this.isStaticMethod(fn);
    const index = param.index ?? -1;
    const fnName = fn.type === 'lambda' ? (fn.parent?.type === 'assignment' ? fn.parent.childForFieldName('left')?.text : undefined) : fn.childForFieldName('name')?.text;
    if (!fnName) return out;
    // K(q) calls K.__init__(self, q).
    const constructor = fnName === '__init__' && cls ? cls.childForFieldName('name')?.text : undefined;
    const candidates = this.callIndex().callsOf(constructor ?? fnName);
    for (const call of candidates) {
      const callee = call.childForFieldName('function');
      let matches: boolean;
      if (constructor) matches = !!callee && this.localClassOf(callee, false)?.id === cls!.id;
      else matches = this.calleeFunction(call)?.id === fn.id;
      if (!matches) continue;
      const offset = isMethod && (constructor || callee?.type === 'attribute') ? 1 : 0;
      const arg = this.keywordArg(call, param.name) ?? this.positionalArgs(call)[index - offset];
      if (arg && index - offset >= 0 && arg.type !== 'list_splat' && arg.type !== 'dictionary_splat') out.push({ call, arg });
      else if (arg && this.keywordArg(call, param.name)) out.push({ call, arg });
    }
    return out;
  }

  attributeValues(node: Node): { node: Node; value: Node }[] {
    if (node.type !== 'attribute') return [];
    const object = node.childForFieldName('object');
    const attr = node.childForFieldName('attribute')?.text;
    if (object?.type !== 'identifier' || (object.text !== 'self' && object.text !== 'cls') || !attr) return [];
    const cls = this.classAround(node);
    if (!cls) return [];
    const key = `${cls.id}:${attr}`;
    const cached = this.attributeCache.get(key);
    if (cached) return cached;
    const out: { node: Node; value: Node }[] = [];
    for (const a of this.assignments) {
      if (a.startIndex < cls.startIndex) continue;
      if (a.startIndex >= cls.endIndex) break;
      const left = a.childForFieldName('left');
      const right = a.childForFieldName('right');
      if (left?.type === 'attribute' && right && left.childForFieldName('attribute')?.text === attr && ['self', 'cls'].includes(left.childForFieldName('object')?.text ?? '')) out.push({ node: left, value: right });
    }
    this.attributeCache.set(key, out);
    return out;
  }

  parameterSource(b: ParamBinding): SourceHit | undefined {
    const fn = b.scope;
    if (fn?.type !== 'function_definition' || (b.index === 0 && (b.name === 'self' || b.name === 'cls'))) return undefined;
    for (const d of this.decoratorsOf(fn)) {
      let expr: Node | null | undefined = d.namedChildren[0];
      if (expr?.type === 'call') expr = expr.childForFieldName('function');
      if (!expr) continue;
      const names = [expr.text, this.qualifiedName(expr)];
      const hit = (this.sources.parameters ?? []).find((s) => s.decorator && names.some((n) => matchesName(n, s.decorator!)));
      if (hit) return { api: `@${expr.text} ${this.functionName(fn)}()`, note: hit.note };
    }
    return undefined;
  }

  // ---- sanitizers ----------------------------------------------------------------------------------

  sanitizerAt(node: Node): SanitizerHit | undefined {
    return this.sanitizers.at(node);
  }

  /** What getting past `stmt` proves: `if …: raise` (or return, or `sys.exit()`) failed, `assert` held. */
  private passedGuard(stmt: Node): PassedGuard | undefined {
    if (stmt.type === 'if_statement' && this.terminates(stmt.childForFieldName('consequence'))) return { condition: stmt.childForFieldName('condition'), holds: false };
    if (stmt.type === 'assert_statement') return { condition: stmt.namedChildren[0], holds: true };
    return undefined;
  }

  private terminates(block: Node | null): boolean {
    const last = block?.namedChildren.filter((c) => c?.type !== 'comment').at(-1);
    if (!last) return false;
    if (TERMINATORS.has(last.type)) return true;
    const call = last.type === 'expression_statement' ? last.namedChildren[0] : undefined;
    const fn = call?.type === 'call' ? call.childForFieldName('function') : undefined;
    return !!fn && (EXIT_CALLS.has(fn.text) || EXIT_CALLS.has(this.qualifiedName(fn) ?? ''));
  }

  /** Python's own guard tests: allowlist membership, equality, a strict pattern, a type test; `… is not None` walks on. */
  private guardTest(cond: Node, name: string, holds: boolean, walk: GuardWalk): SanitizerHit | undefined {
    switch (cond.type) {
      case 'comparison_operator': {
        const [left, right] = cond.namedChildren;
        const op = cond.children.filter((c) => c && !c.isNamed).map((c) => c!.text).join(' ');
        if (!left || !right) return undefined;
        if ((op === 'in' && holds) || (op === 'not in' && !holds)) {
          if (left.type !== 'identifier' || left.text !== name) return undefined;
          const keys = this.literalCollection(right, 'keys');
          if (keys && keys.length > 0 && keys.every((k) => this.isLiteral(k))) return { note: `membership in the literal allowlist \`${snippet(right.text)}\``, safe: true };
          return undefined;
        }
        if ((op === 'is not' && holds) || (op === 'is' && !holds) || (op === '!=' && holds) || (op === '==' && !holds)) {
          if (right.type === 'none') return walk(left, true);
        }
        if (op === '==' && holds && left.type === 'identifier' && left.text === name && this.isLiteral(right)) return { note: `equality with \`${snippet(right.text)}\``, safe: true };
        return undefined;
      }
      case 'call': {
        if (!holds) return undefined;
        const fn = cond.childForFieldName('function');
        const args = this.positionalArgs(cond);
        if (fn?.type === 'attribute') {
          const method = fn.childForFieldName('attribute')?.text ?? '';
          const receiver = fn.childForFieldName('object');
          if (['isdigit', 'isdecimal', 'isnumeric'].includes(method) && receiver?.type === 'identifier' && receiver.text === name) return { note: `\`.${method}()\``, safe: true };
        }
        const q = fn ? (this.qualifiedName(fn) ?? fn.text) : undefined;
        if (q === 'builtins.isinstance' && args[0]?.type === 'identifier' && args[0].text === name && args[1] && /^\(?\s*(int|float|bool)(\s*,\s*(int|float|bool))*\s*,?\s*\)?$/.test(args[1].text)) {
          return { note: 'a number type check', safe: true };
        }
        for (const g of this.sources.sanitizers?.guards ?? []) {
          if (!matchesName(q, g.api)) continue;
          const value = args[g.value ?? 0];
          if (value?.type !== 'identifier' || value.text !== name) continue;
          const patternNode = (g.pattern ?? 0) < 0 ? this.compiledPattern(fn?.childForFieldName('object')) : this.constantValue(args[g.pattern ?? 0]);
          const pattern = patternNode ? this.ownLiteralText(patternNode) : undefined;
          if (pattern === undefined) continue;
          const anchored = /fullmatch$/.test(q ?? '') || isAnchored(pattern) || /\$$/.test(pattern);
          const strict = anchored && isStrictPattern(pattern.replace(/^\^|\$$|\\Z$/g, ''));
          return { note: strict ? `${g.note} on a strict pattern` : `${g.note} whose pattern admits names`, safe: strict };
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  private isLiteral(node: Node): boolean {
    return this.shape(node).kind === 'literal';
  }

  /** `PATTERN` in `re.fullmatch(PATTERN, x)` → the string of `PATTERN = r"…"`, bound once; else the node itself. */
  private constantValue(node: Node | undefined): Node | undefined {
    if (node?.type !== 'identifier') return node;
    const b = this.bindingsOf(node);
    return b.length === 1 && b[0].kind === 'assign' && b[0].value.type === 'string' ? b[0].value : node;
  }

  /** `RX` in `RX.fullmatch(x)` → the pattern string of `RX = re.compile("…")`. */
  private compiledPattern(node: Node | null | undefined): Node | undefined {
    if (node?.type !== 'identifier') return undefined;
    const b = this.bindingsOf(node);
    if (b.length !== 1 || b[0].kind !== 'assign' || b[0].value.type !== 'call') return undefined;
    const fn = b[0].value.childForFieldName('function');
    return fn && this.qualifiedName(fn) === 're.compile' ? this.positionalArgs(b[0].value)[0] : undefined;
  }
}

function snippet(text: string): string {
  const folded = text.replace(/\s+/g, ' ');
  return folded.length > 50 ? `${folded.slice(0, 49)}…` : folded;
}
