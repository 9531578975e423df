// Python's side of the analysis: import aliases, scopes and bindings, qualified names of callees, the
// shapes of expressions, and the external sources of rules/sources.yml. Used by the dynamic-code and cache
// checks; notebooks arrive here as one Python program.
import type { Node, Tree } from 'web-tree-sitter';
import type { SourceModel } from '../rules/catalog';
import type { Binding, ExprShape, LanguageAdapter, SourceHit } from './expressions';

const SCOPE_TYPES = new Set(['module', 'function_definition', 'lambda']);
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

export class PythonFile implements LanguageAdapter {
  /** Local name → fully qualified module path, from every import in the file. */
  private readonly imports = new Map<string, string>();
  private readonly scopeBindings = new Map<number, Map<string, Binding[]>>();

  constructor(
    readonly tree: Tree,
    private readonly sources: SourceModel,
  ) {
    for (const stmt of tree.rootNode.descendantsOfType(['import_statement', 'import_from_statement'])) {
      if (stmt) this.recordImport(stmt);
    }
  }

  private recordImport(stmt: Node): void {
    if (stmt.type === 'import_statement') {
      for (const name of stmt.childrenForFieldName('name')) {
        if (!name) continue;
        if (name.type === 'aliased_import') {
          const dotted = name.childForFieldName('name')?.text;
          const alias = name.childForFieldName('alias')?.text;
          if (dotted && alias) this.imports.set(alias, dotted);
        } else {
          const first = name.text.split('.')[0];
          this.imports.set(first, first);
        }
      }
      return;
    }
    const moduleNode = stmt.childForFieldName('module_name');
    const moduleName = moduleNode?.text ?? '';
    for (const name of stmt.childrenForFieldName('name')) {
      if (!name) continue;
      if (name.type === 'aliased_import') {
        const orig = name.childForFieldName('name')?.text;
        const alias = name.childForFieldName('alias')?.text;
        if (orig && alias) this.imports.set(alias, `${moduleName}.${orig}`);
      } else {
        this.imports.set(name.text, `${moduleName}.${name.text}`);
      }
    }
  }

  // ---- scopes and bindings -------------------------------------------------------------------------

  private enclosingScope(node: Node): Node {
    let cur = node.parent;
    while (cur && !SCOPE_TYPES.has(cur.type)) cur = cur.parent;
    return cur ?? this.tree.rootNode;
  }

  private bindingsIn(scope: Node): Map<string, Binding[]> {
    let map = this.scopeBindings.get(scope.id);
    if (map) return map;
    map = new Map();
    const add = (b: Binding): void => {
      const list = map!.get(b.name) ?? [];
      list.push(b);
      map!.set(b.name, list);
    };
    const owner = scope.type === 'lambda' ? 'lambda' : `${scope.childForFieldName('name')?.text ?? 'module'}()`;
    const params = scope.childForFieldName('parameters');
    for (const p of params?.namedChildren ?? []) {
      const id = p && nameOfParam(p);
      if (id) add({ kind: 'param', name: id.text, node: id, owner });
    }
    const addTargets = (target: Node, value: Node | undefined, why: string, aug = false): void => {
      if (target.type === 'identifier') {
        if (value) add({ kind: aug ? 'augassign' : 'assign', name: target.text, node: target, value });
        else add({ kind: 'other', name: target.text, node: target, why });
        return;
      }
      if (['pattern_list', 'tuple_pattern', 'list_pattern', 'as_pattern_target', 'list_splat_pattern', 'parenthesized_expression'].includes(target.type)) {
        for (const c of target.namedChildren) if (c) addTargets(c, undefined, why);
      }
    };
    const visit = (node: Node): void => {
      for (const child of node.namedChildren) {
        if (!child) continue;
        switch (child.type) {
          case 'function_definition':
          case 'class_definition': {
            const name = child.childForFieldName('name');
            if (name) add({ kind: 'def', name: name.text, node: name });
            if (child.type === 'class_definition') continue; // class bodies bind class attributes, not names here
            continue;
          }
          case 'lambda':
            continue;
          case 'assignment': {
            const left = child.childForFieldName('left');
            let right = child.childForFieldName('right');
            // a = b = value: every target gets the innermost value.
            while (right?.type === 'assignment') {
              const inner = right.childForFieldName('left');
              if (inner) addTargets(inner, right.childForFieldName('right') ?? undefined, 'assigned by unpacking');
              right = right.childForFieldName('right');
            }
            if (left) {
              if (left.type === 'identifier' && right) addTargets(left, right, '');
              else if (left.type === 'identifier' && !right) { /* annotation only: binds nothing */ }
              else addTargets(left, undefined, 'assigned by unpacking');
            }
            break;
          }
          case 'augmented_assignment': {
            const left = child.childForFieldName('left');
            const right = child.childForFieldName('right');
            if (left?.type === 'identifier' && right) addTargets(left, right, '', true);
            break;
          }
          case 'for_statement':
          case 'for_in_clause': {
            const left = child.childForFieldName('left');
            if (left) addTargets(left, undefined, 'a loop variable');
            break;
          }
          case 'as_pattern': {
            const alias = child.childForFieldName('alias');
            if (alias) addTargets(alias, undefined, 'bound by `as`');
            break;
          }
          case 'named_expression': {
            const name = child.childForFieldName('name');
            const value = child.childForFieldName('value');
            if (name && value) add({ kind: 'assign', name: name.text, node: name, value });
            break;
          }
          case 'except_clause': {
            const alias = child.childForFieldName('alias');
            if (alias) addTargets(alias, undefined, 'bound by `except … as`');
            break;
          }
          case 'import_statement':
          case 'import_from_statement':
            for (const [local, qualified] of this.importsOf(child)) add({ kind: 'import', name: local, node: child, qualified });
            continue;
          case 'global_statement':
            for (const id of child.namedChildren) if (id) add({ kind: 'other', name: id.text, node: id, why: 'global' });
            continue;
        }
        visit(child);
      }
    };
    const body = scope.type === 'module' ? scope : scope.childForFieldName('body');
    // A lambda body is an expression; walrus targets inside it are rare enough to ignore.
    if (body && scope.type !== 'lambda') visit(body);
    this.scopeBindings.set(scope.id, map);
    if (scope.type === 'module') {
      // `global NAME` inside a function makes that function's assignments module bindings too.
      for (const stmt of scope.descendantsOfType('global_statement')) {
        const fn = stmt && this.enclosingScope(stmt);
        if (!stmt || !fn || fn.type === 'module') continue;
        const local = this.bindingsIn(fn);
        for (const id of stmt.namedChildren) {
          for (const b of (id && local.get(id.text)) ?? []) if (!(b.kind === 'other' && b.why === 'global')) add(b);
        }
      }
    }
    return map;
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

  bindingsOf(node: Node): Binding[] {
    const name = node.text;
    let scope: Node | null = this.enclosingScope(node);
    while (scope) {
      const found = this.bindingsIn(scope).get(name);
      if (found && found.length > 0) {
        if (found.some((b) => b.kind === 'other' && b.why === 'global') && scope.type !== 'module') {
          return this.bindingsIn(this.tree.rootNode).get(name) ?? [];
        }
        return found;
      }
      if (scope.type === 'module') break;
      scope = this.enclosingScope(scope);
    }
    return [];
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
