// JavaScript and TypeScript's side of the analysis: require/import aliases, function scopes and bindings,
// qualified callee names (`vm.runInNewContext`, global `eval`), expression shapes and external sources.
import type { Node, Tree } from 'web-tree-sitter';
import type { SourceModel } from '../rules/catalog';
import type { Binding, ExprShape, LanguageAdapter, SanitizerHit, SourceHit } from './expressions';
import { type CallInfo, CallIndex } from './callIndex';
import { isStrictPattern, matchesName, receiverPattern } from './models';
import { type GuardSyntax, type PassedGuard, Sanitizers } from './sanitizers';

type ParamBinding = Extract<Binding, { kind: 'param' }>;
const FUNCTION_TYPES = new Set(['function_declaration', 'function_expression', 'function', 'arrow_function', 'method_definition', 'generator_function_declaration', 'generator_function']);
const CLASS_TYPES = new Set(['class_declaration', 'class', 'abstract_class_declaration']);
const CALLBACK_METHODS = new Set(['then', 'map', 'forEach', 'filter', 'flatMap', 'find', 'some', 'every']);
const TERMINATORS = new Set(['throw_statement', 'return_statement', 'continue_statement', 'break_statement']);

const SCOPE_TYPES = new Set([
  'program', 'function_declaration', 'function_expression', 'function', 'arrow_function', 'method_definition',
  'generator_function_declaration', 'generator_function', 'class_static_block',
]);
/** JavaScript's spelling of guards; sanitizers.ts walks them. Every scope but the program bounds a guard. */
const JAVASCRIPT_GUARDS: GuardSyntax = {
  call: 'call_expression',
  castCallees: new Set(['identifier', 'member_expression']),
  boundaries: new Set([...SCOPE_TYPES].filter((t) => t !== 'program')),
  blocks: new Set(['statement_block', 'program']),
  not: { type: 'unary_expression', operator: '!' },
  junction: { type: 'binary_expression', and: '&&', or: '||' },
};
/** Objects through which browser and Node code reach globals (`window.eval`, `globalThis.Function`). */
const GLOBAL_OBJECTS = new Set(['window', 'globalThis', 'self', 'global']);
const STRING_TYPES = new Set(['string', 'template_string']);

function stripNodePrefix(mod: string): string {
  return mod.replace(/^node:/, '');
}

function stringValue(node: Node | null | undefined): string | undefined {
  if (!node || node.type !== 'string') return undefined;
  return node.namedChildren.map((c) => c?.text ?? '').join('');
}

const files = new WeakMap<Tree, JavaScriptFile>();

/** A call or `new` with its callee looked up once (see callIndex.ts). */
export type JsCallInfo = CallInfo;

export class JavaScriptFile implements LanguageAdapter {
  private readonly scopeBindings = new Map<number, Map<string, Binding[]>>();
  private calleeIndex?: CallIndex;

  /** One analysis per tree, shared by the checks that run on it. */
  static of(tree: Tree, sources: SourceModel): JavaScriptFile {
    let file = files.get(tree);
    if (!file || file.sources !== sources) {
      file = new JavaScriptFile(tree, sources);
      files.set(tree, file);
    }
    return file;
  }
  private readonly calleeCache = new Map<number, Node | null>();
  private readonly returnCache = new Map<number, Node[]>();
  private readonly attributeCache = new Map<string, { node: Node; value: Node }[]>();
  private readonly sanitizers = new Sanitizers(JAVASCRIPT_GUARDS, {
    casts: () => this.sources.sanitizers?.casts,
    qualifiedName: (node) => this.qualifiedName(node),
    passed: (stmt) => this.passedGuard(stmt),
    test: (cond, name, holds) => this.guardTest(cond, name, holds),
    bindingsOf: (use) => this.bindingsOf(use),
  });

  constructor(
    readonly tree: Tree,
    private readonly sources: SourceModel,
  ) {}

  private scopeList?: Node[];
  private scopeEnds?: number[];
  private scopeParents?: Int32Array;

  /**
   * The innermost scope strictly around `node`. Found by position over one query of every scope (as in
   * python.ts): parent walks cost a descent from the root each, which dominates on large flat files.
   */
  private enclosingScope(node: Node): Node {
    if (!this.scopeList) {
      const types = [...SCOPE_TYPES].filter((t) => t !== 'program');
      this.scopeList = this.tree.rootNode.descendantsOfType(types).filter((n): n is Node => !!n);
      const ends = this.scopeList.map((s) => s.endIndex);
      this.scopeEnds = ends;
      const parents = new Int32Array(this.scopeList.length);
      const stack: number[] = [];
      this.scopeList.forEach((s, i) => {
        while (stack.length > 0 && ends[stack[stack.length - 1]] <= s.startIndex) stack.pop();
        parents[i] = stack.length > 0 ? stack[stack.length - 1] : -1;
        stack.push(i);
      });
      this.scopeParents = parents;
    }
    const scopes = this.scopeList;
    let lo = 0;
    let hi = scopes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (scopes[mid].startIndex <= node.startIndex) lo = mid + 1;
      else hi = mid;
    }
    const end = node.endIndex;
    for (let i = lo - 1; i >= 0; i = this.scopeParents![i]) {
      const s = scopes[i];
      if (s.id !== node.id && s.startIndex <= node.startIndex && end <= this.scopeEnds![i]) return s;
    }
    return this.tree.rootNode;
  }

  /** `require('vm')` → `vm`; anything else undefined. */
  private requiredModule(node: Node | null | undefined): string | undefined {
    if (node?.type !== 'call_expression') return undefined;
    const fn = node.childForFieldName('function');
    if (fn?.type !== 'identifier' || fn.text !== 'require') return undefined;
    const arg = node.childForFieldName('arguments')?.namedChildren[0];
    const mod = stringValue(arg);
    return mod !== undefined ? stripNodePrefix(mod) : undefined;
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
    const ownerName = scope.childForFieldName('name')?.text ?? (scope.type === 'arrow_function' ? 'arrow function' : 'function');
    const owner = scope.type === 'program' ? 'module' : `${ownerName}()`;
    let paramIndex = 0;
    const addPattern = (pattern: Node, why: string, kind: 'other' | 'param', modulePrefix?: string, from?: Node): void => {
      switch (pattern.type) {
        case 'identifier':
        case 'shorthand_property_identifier_pattern':
          if (modulePrefix !== undefined) add({ kind: 'import', name: pattern.text, node: pattern, qualified: `${modulePrefix}.${pattern.text}` });
          else if (kind === 'param') add({ kind: 'param', name: pattern.text, node: pattern, owner, scope, index: paramIndex });
          else add({ kind: 'other', name: pattern.text, node: pattern, why, from });
          return;
        case 'pair_pattern': {
          const key = pattern.childForFieldName('key')?.text;
          const value = pattern.childForFieldName('value');
          if (value?.type === 'identifier' && modulePrefix !== undefined && key) {
            add({ kind: 'import', name: value.text, node: value, qualified: `${modulePrefix}.${key}` });
          } else if (value) addPattern(value, why, kind, undefined, from);
          return;
        }
        case 'assignment_pattern': {
          const left = pattern.childForFieldName('left');
          if (left) addPattern(left, why, kind, modulePrefix, from);
          return;
        }
        default:
          for (const c of pattern.namedChildren) if (c) addPattern(c, why, kind, undefined, from);
      }
    };
    const params = scope.childForFieldName('parameters') ?? scope.childForFieldName('parameter');
    if (params) {
      if (params.type === 'identifier') add({ kind: 'param', name: params.text, node: params, owner, scope, index: 0 });
      else {
        for (const p of params.namedChildren) {
          if (!p || p.type === 'comment') continue;
          addPattern(p.type === 'required_parameter' || p.type === 'optional_parameter' ? (p.childForFieldName('pattern') ?? p) : p, '', 'param');
          paramIndex++;
        }
      }
    }
    const visit = (start: Node): void => {
      // Pre-order with an explicit stack, not recursion: 10,000 nested arrays overflowed the call stack.
      const stack: Node[] = [];
      const pushChildren = (n: Node): void => {
        const kids = n.namedChildren;
        for (let i = kids.length - 1; i >= 0; i--) {
          const k = kids[i];
          if (k) stack.push(k);
        }
      };
      pushChildren(start);
      while (stack.length > 0) {
        const child = stack.pop()!;
        if (SCOPE_TYPES.has(child.type)) {
          if (child.type === 'function_declaration' || child.type === 'generator_function_declaration') {
            const name = child.childForFieldName('name');
            if (name) add({ kind: 'def', name: name.text, node: name });
          }
          continue;
        }
        switch (child.type) {
          case 'class_declaration': {
            const name = child.childForFieldName('name');
            if (name) add({ kind: 'def', name: name.text, node: name });
            continue;
          }
          case 'variable_declarator': {
            const name = child.childForFieldName('name');
            const value = child.childForFieldName('value');
            const mod = this.requiredModule(value);
            if (name?.type === 'identifier') {
              if (mod !== undefined) add({ kind: 'import', name: name.text, node: name, qualified: mod });
              else if (value) add({ kind: 'assign', name: name.text, node: name, value });
              else add({ kind: 'other', name: name.text, node: name, why: 'declared without a value' });
            } else if (name) {
              addPattern(name, 'bound by destructuring', 'other', mod, value ?? undefined);
            }
            break;
          }
          case 'assignment_expression':
          case 'augmented_assignment_expression': {
            const left = child.childForFieldName('left');
            const right = child.childForFieldName('right');
            const op = child.type === 'augmented_assignment_expression' ? child.childForFieldName('operator')?.text : '=';
            if (left?.type === 'identifier' && right) {
              if (op === '=') add({ kind: 'assign', name: left.text, node: left, value: right });
              else if (op === '+=') add({ kind: 'augassign', name: left.text, node: left, value: right });
              else add({ kind: 'other', name: left.text, node: left, why: 'computed by an operator' });
            } else if (left && left.type !== 'member_expression' && left.type !== 'subscript_expression') {
              addPattern(left, 'bound by destructuring', 'other', undefined, right ?? undefined);
            }
            break;
          }
          case 'for_in_statement': {
            const left = child.childForFieldName('left');
            if (left) addPattern(left, 'a loop variable', 'other', undefined, child.childForFieldName('right') ?? undefined);
            break;
          }
          case 'catch_clause': {
            const p = child.childForFieldName('parameter');
            if (p) addPattern(p, 'a caught error', 'other');
            break;
          }
          case 'import_statement':
            this.addImport(child, add);
            continue;
        }
        pushChildren(child);
      }
    };
    const body = scope.type === 'program' ? scope : scope.childForFieldName('body');
    if (body) {
      if (body.type === 'statement_block' || body.type === 'program' || body.type === 'class_static_block') visit(body);
      else visit(scope); // arrow function with an expression body
    }
    this.scopeBindings.set(scope.id, map);
    return map;
  }

  private addImport(stmt: Node, add: (b: Binding) => void): void {
    const mod = stripNodePrefix(stringValue(stmt.childForFieldName('source')) ?? '');
    const clause = stmt.namedChildren.find((c) => c?.type === 'import_clause');
    for (const part of clause?.namedChildren ?? []) {
      if (!part) continue;
      if (part.type === 'identifier') add({ kind: 'import', name: part.text, node: part, qualified: mod });
      else if (part.type === 'namespace_import') {
        const id = part.namedChildren.find((c) => c?.type === 'identifier');
        if (id) add({ kind: 'import', name: id.text, node: id, qualified: mod });
      } else if (part.type === 'named_imports') {
        for (const spec of part.namedChildren) {
          if (spec?.type !== 'import_specifier') continue;
          const name = spec.childForFieldName('name')?.text;
          const alias = spec.childForFieldName('alias')?.text ?? name;
          if (name && alias) add({ kind: 'import', name: alias, node: spec, qualified: `${mod}.${name}` });
        }
      }
    }
  }

  private readonly bindingMemo = new Map<number, Binding[]>();
  private readonly nameMemo = new Map<number, string | null>();

  bindingsOf(node: Node): Binding[] {
    // Parent walks cost a descent from the root each in web-tree-sitter: one lookup per identifier node.
    let found = this.bindingMemo.get(node.id);
    if (!found) {
      found = this.lookupBindings(node);
      this.bindingMemo.set(node.id, found);
    }
    return found;
  }

  private lookupBindings(node: Node): Binding[] {
    let scope: Node | null = this.enclosingScope(node);
    while (scope) {
      const found = this.bindingsIn(scope).get(node.text);
      if (found && found.length > 0) return found;
      // By id, not by type: a file that does not parse has an ERROR root, not `program`.
      if (scope.id === this.tree.rootNode.id) break;
      scope = this.enclosingScope(scope);
    }
    return [];
  }

  /** `vm.runInNewContext`, `eval` for the global, `Function`; undefined for anything bound locally. */
  qualifiedName(node: Node, depth = 0): string | undefined {
    if (depth > 0) return this.resolveName(node, depth);
    const memo = this.nameMemo.get(node.id);
    if (memo !== undefined) return memo ?? undefined;
    const name = this.resolveName(node, depth);
    this.nameMemo.set(node.id, name ?? null);
    return name;
  }

  private resolveName(node: Node, depth: number): string | undefined {
    if (depth > 8) return undefined;
    switch (node.type) {
      case 'identifier': {
        const bindings = this.bindingsOf(node);
        if (bindings.length === 0) return node.text;
        if (bindings.every((b) => b.kind === 'import')) return (bindings[0] as Extract<Binding, { kind: 'import' }>).qualified;
        if (bindings.length === 1 && bindings[0].kind === 'assign') {
          const v = bindings[0].value;
          if (v.type === 'identifier' || v.type === 'member_expression') return this.qualifiedName(v, depth + 1);
        }
        return undefined;
      }
      case 'member_expression': {
        const object = node.childForFieldName('object');
        const prop = node.childForFieldName('property')?.text;
        if (!object || !prop) return undefined;
        if (object.type === 'identifier' && GLOBAL_OBJECTS.has(object.text) && this.bindingsOf(object).length === 0) return prop;
        const base = this.qualifiedName(object, depth + 1);
        return base ? `${base}.${prop}` : undefined;
      }
      case 'parenthesized_expression': {
        const inner = node.namedChildren[0];
        if (inner?.type === 'sequence_expression') {
          // (0, eval)(code): indirect eval, the last operand is the callee.
          const last = inner.namedChildren[inner.namedChildren.length - 1];
          return last ? this.qualifiedName(last, depth + 1) : undefined;
        }
        return inner ? this.qualifiedName(inner, depth + 1) : undefined;
      }
      case 'non_null_expression':
      case 'as_expression':
      case 'satisfies_expression': {
        const inner = node.namedChildren[0];
        return inner ? this.qualifiedName(inner, depth + 1) : undefined;
      }
      default:
        return undefined;
    }
  }

  private dottedPath(node: Node): string | undefined {
    if (node.type === 'identifier') return this.qualifiedName(node) ?? node.text;
    if (node.type === 'member_expression') {
      const object = node.childForFieldName('object');
      const prop = node.childForFieldName('property')?.text;
      const base = object && this.dottedPath(object);
      return base && prop ? `${base}.${prop}` : undefined;
    }
    if (node.type === 'subscript_expression') {
      const object = node.childForFieldName('object');
      return object ? this.dottedPath(object) : undefined;
    }
    return undefined;
  }

  positionalArgs(call: Node): Node[] {
    const args = call.childForFieldName('arguments');
    if (!args) return [];
    if (args.type === 'template_string') return [args]; // tagged template: fn`...`
    return args.namedChildren.filter((a): a is Node => !!a && a.type !== 'comment');
  }

  /** The value of property `name` in an object literal, following a name bound to one. */
  propertyOf(obj: Node, name: string): Node | undefined {
    let target: Node | undefined = obj;
    if (target.type === 'identifier') {
      const b = this.bindingsOf(target).find((x) => x.kind === 'assign');
      target = b && b.kind === 'assign' ? b.value : undefined;
    }
    if (target?.type !== 'object') return undefined;
    for (const p of target.namedChildren) {
      if (!p) continue;
      if (p.type === 'pair' && p.childForFieldName('key')?.text.replace(/^['"]|['"]$/g, '') === name) return p.childForFieldName('value') ?? undefined;
      if (p.type === 'shorthand_property_identifier' && p.text === name) return p;
    }
    return undefined;
  }

  /** Whether `node` is (or is bound to) a string-valued expression, as opposed to a function. */
  isStringish(node: Node, depth = 0): boolean {
    if (depth > 8) return false;
    if (STRING_TYPES.has(node.type)) return true;
    if (node.type === 'binary_expression') {
      const l = node.childForFieldName('left');
      const r = node.childForFieldName('right');
      return node.childForFieldName('operator')?.text === '+' && (!!l && this.isStringish(l, depth + 1) || !!r && this.isStringish(r, depth + 1));
    }
    if (node.type === 'parenthesized_expression') {
      const inner = node.namedChildren[0];
      return !!inner && this.isStringish(inner, depth + 1);
    }
    if (node.type === 'identifier') {
      return this.bindingsOf(node).some((b) => (b.kind === 'assign' || b.kind === 'augassign') && this.isStringish(b.value, depth + 1));
    }
    return false;
  }

  shape(node: Node): ExprShape {
    switch (node.type) {
      case 'number':
      case 'true':
      case 'false':
      case 'null':
      case 'undefined':
      case 'regex':
        return { kind: 'literal' };
      case 'string':
        return { kind: 'literal' };
      case 'template_string': {
        const parts = node.namedChildren
          .filter((c): c is Node => c?.type === 'template_substitution')
          .map((c) => c.namedChildren[0])
          .filter((c): c is Node => !!c);
        return parts.length === 0 ? { kind: 'literal' } : { kind: 'compose', parts, label: 'a template literal' };
      }
      case 'binary_expression': {
        const parts = [node.childForFieldName('left'), node.childForFieldName('right')].filter((c): c is Node => !!c);
        return { kind: 'compose', parts, label: 'a concatenation' };
      }
      case 'parenthesized_expression':
      case 'unary_expression':
      case 'ternary_expression':
      case 'array':
      case 'as_expression':
      case 'satisfies_expression':
      case 'non_null_expression':
        return { kind: 'compose', parts: node.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment' && !c.type.startsWith('type')), label: 'an expression' };
      case 'identifier':
        return { kind: 'name', node };
      case 'call_expression': {
        const fn = node.childForFieldName('function');
        const args = this.positionalArgs(node);
        if (fn?.type === 'member_expression') {
          const method = fn.childForFieldName('property')?.text ?? '';
          const receiver = fn.childForFieldName('object');
          if (receiver && ['join', 'concat', 'replace', 'trim', 'toString', 'toLowerCase', 'toUpperCase'].includes(method) && (receiver.type === 'array' || STRING_TYPES.has(receiver.type))) {
            return { kind: 'compose', parts: [receiver, ...args], label: `a \`.${method}()\` string` };
          }
          if (method === 'get' && receiver) {
            const values = this.literalCollection(receiver, 'values');
            if (values) return { kind: 'compose', parts: [...values, ...args.slice(1)], label: 'a value from a literal map' };
          }
          // The callee itself (not only its receiver), so `req.body.toString()` meets the `req.body` source.
          return { kind: 'opaque', inputs: [...args, fn] };
        }
        if (fn?.type === 'identifier' && fn.text === 'String' && this.bindingsOf(fn).length === 0) return { kind: 'compose', parts: args, label: 'a string' };
        return { kind: 'opaque', inputs: args };
      }
      case 'await_expression':
      case 'object':
      case 'spread_element':
      case 'new_expression':
      case 'arguments':
        return { kind: 'opaque', inputs: node.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment') };
      case 'pair': {
        const value = node.childForFieldName('value');
        return { kind: 'opaque', inputs: value ? [value] : [] };
      }
      case 'subscript_expression': {
        const object = node.childForFieldName('object');
        // OPS[name] on a literal object or array: one of its values, whatever the key.
        const values = this.literalCollection(object, 'values');
        if (values) return { kind: 'compose', parts: values, label: 'a value from a literal map' };
        return { kind: 'opaque', inputs: object ? [object] : [] };
      }
      case 'member_expression': {
        const object = node.childForFieldName('object');
        return { kind: 'opaque', inputs: object ? [object] : [] };
      }
      case 'shorthand_property_identifier':
        return { kind: 'name', node };
      default:
        return { kind: 'opaque', inputs: [] };
    }
  }

  ownLiteralText(node: Node): string | undefined {
    if (node.type === 'string') return stringValue(node);
    if (node.type === 'template_string') {
      return node.namedChildren.filter((c): c is Node => c?.type === 'string_fragment').map((c) => c.text).join('\u0000');
    }
    return undefined;
  }

  sourceAt(node: Node): SourceHit | undefined {
    if (node.type === 'call_expression') {
      const fn = node.childForFieldName('function');
      if (!fn) return undefined;
      const name = this.qualifiedName(fn) ?? this.dottedPath(fn);
      const hit = this.sources.calls.find((s) => matchesName(name, s.api));
      if (hit) return { api: `${name}()`, note: hit.note };
      if (fn.type === 'member_expression') {
        const method = fn.childForFieldName('property')?.text;
        const receiver = fn.childForFieldName('object');
        const m = (this.sources.methods ?? []).find((s) => s.method === method && (!s.receiver || !!receiver && !!receiverPattern(s.receiver)?.test(receiver.text)));
        if (m && receiver) return { api: `${snippet(receiver.text)}.${method}()`, note: m.note };
        const made = this.madeBy(receiver);
        const obj = made && (this.sources.objects ?? []).find((s) => s.use === `.${method}` && matchesName(made, s.api));
        if (obj) return { api: `${snippet(fn.text)}()`, note: obj.note };
      }
      return undefined;
    }
    if (node.type === 'member_expression' || node.type === 'subscript_expression' || node.type === 'identifier') {
      const dotted = this.dottedPath(node);
      if (!dotted) return undefined;
      const hit = this.sources.attributes.find((s) => dotted === s.api || dotted.startsWith(`${s.api}.`));
      if (hit && node.type === 'identifier' && this.bindingsOf(node).length > 0) return undefined;
      return hit ? { api: dotted, note: hit.note } : undefined;
    }
    return undefined;
  }

  /** The callee that made the object `node` names (`const p = new URLSearchParams(…)` → `URLSearchParams`). */
  private madeBy(node: Node | null | undefined): string | undefined {
    if (node?.type !== 'identifier') return undefined;
    const b = this.bindingsOf(node);
    if (b.length !== 1 || b[0].kind !== 'assign') return undefined;
    const v = b[0].value;
    if (v.type !== 'new_expression' && v.type !== 'call_expression') return undefined;
    const fn = v.childForFieldName(v.type === 'new_expression' ? 'constructor' : 'function');
    return fn ? (this.qualifiedName(fn) ?? fn.text) : undefined;
  }

  /** Values (or keys) of a literal object, array, `new Set([…])` or `new Map([[k, v], …])` that `node` is or names. */
  literalCollection(node: Node | null | undefined, want: 'values' | 'keys', depth = 0): Node[] | undefined {
    if (!node || depth > 4) return undefined;
    switch (node.type) {
      case 'parenthesized_expression':
      case 'as_expression':
      case 'satisfies_expression':
        return this.literalCollection(node.namedChildren[0], want, depth + 1);
      case 'array': {
        const items = node.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
        return items.some((c) => c.type === 'spread_element') ? undefined : items;
      }
      case 'object': {
        const out: Node[] = [];
        for (const p of node.namedChildren) {
          if (!p || p.type === 'comment') continue;
          if (p.type !== 'pair') return undefined;
          const v = p.childForFieldName(want === 'keys' ? 'key' : 'value');
          if (v) out.push(v);
        }
        return out;
      }
      case 'new_expression': {
        const ctor = node.childForFieldName('constructor')?.text;
        const first = node.childForFieldName('arguments')?.namedChildren[0];
        if (ctor === 'Set' && first) return this.literalCollection(first, 'values', depth + 1);
        if (ctor === 'Map' && first?.type === 'array') {
          const entries = first.namedChildren.filter((c): c is Node => !!c && c.type === 'array');
          return entries.map((e) => e.namedChildren[want === 'keys' ? 0 : 1]).filter((c): c is Node => !!c);
        }
        return undefined;
      }
      case 'call_expression': {
        const fn = node.childForFieldName('function');
        const first = node.childForFieldName('arguments')?.namedChildren[0];
        if (fn?.text === 'Object.keys' && first) return this.literalCollection(first, 'keys', depth + 1);
        if (fn?.text === 'Object.freeze' && first) return this.literalCollection(first, want, depth + 1);
        return undefined;
      }
      case 'identifier': {
        const b = this.bindingsOf(node);
        if (b.length !== 1 || b[0].kind !== 'assign') return undefined;
        const decl = b[0].node.parent;
        if (decl?.type !== 'variable_declarator' || decl.parent?.firstChild?.text !== 'const') return undefined;
        return this.literalCollection(b[0].value, want, depth + 1);
      }
      default:
        return undefined;
    }
  }

  // ---- functions, methods and classes in this file --------------------------------------------------

  /** Every call and `new` with its callee, in document order; each callee is looked up once per file. */
  callInfos(): JsCallInfo[] {
    return this.callIndex().infos;
  }

  /** The calls whose callee's last name is one of `names`, in document order (`identifierOrMember`: `f()`, `a.f()` only). */
  callsNamed(names: Iterable<string>, identifierOrMember = false): JsCallInfo[] {
    return this.callIndex().named(names, identifierOrMember);
  }

  private callIndex(): CallIndex {
    this.calleeIndex ??= new CallIndex(this.tree.rootNode.descendantsOfType(['call_expression', 'new_expression']), {
      callee: (call) => call.childForFieldName(call.type === 'new_expression' ? 'constructor' : 'function'),
      memberType: 'member_expression',
      memberField: 'property',
    });
    return this.calleeIndex;
  }

  private enclosing(node: Node, types: Set<string>): Node | undefined {
    for (let cur = node.parent; cur; cur = cur.parent) if (types.has(cur.type)) return cur;
    return undefined;
  }

  private methodOf(cls: Node, name: string): Node | undefined {
    for (const m of cls.childForFieldName('body')?.namedChildren ?? []) {
      if (m?.type === 'method_definition' && m.childForFieldName('name')?.text === name) return m;
    }
    return undefined;
  }

  private localClass(node: Node | null | undefined, instance: boolean): Node | undefined {
    if (node?.type !== 'identifier') return undefined;
    const b = this.bindingsOf(node);
    if (b.length !== 1) return undefined;
    if (!instance && b[0].kind === 'def' && b[0].node.parent && CLASS_TYPES.has(b[0].node.parent.type)) return b[0].node.parent;
    if (instance && b[0].kind === 'assign' && b[0].value.type === 'new_expression') return this.localClass(b[0].value.childForFieldName('constructor'), false);
    return undefined;
  }

  calleeFunction(call: Node): Node | undefined {
    if (call.type !== 'call_expression') return undefined;
    const cached = this.calleeCache.get(call.id);
    if (cached !== undefined) return cached ?? undefined;
    let found: Node | undefined;
    const fn = call.childForFieldName('function');
    if (fn?.type === 'identifier') {
      const b = this.bindingsOf(fn);
      if (b.length === 1) {
        if (b[0].kind === 'def' && b[0].node.parent && FUNCTION_TYPES.has(b[0].node.parent.type)) found = b[0].node.parent;
        else if (b[0].kind === 'assign' && FUNCTION_TYPES.has(b[0].value.type)) found = b[0].value;
      }
    } else if (fn?.type === 'member_expression') {
      const object = fn.childForFieldName('object');
      const name = fn.childForFieldName('property')?.text ?? '';
      let cls: Node | undefined;
      if (object?.type === 'this') cls = this.enclosing(call, CLASS_TYPES);
      else cls = this.localClass(object, false) ?? this.localClass(object, true);
      if (cls) found = this.methodOf(cls, name);
      else if (object?.type === 'identifier') {
        const value = this.propertyOf(object, name);
        if (value && FUNCTION_TYPES.has(value.type)) found = value;
      }
    }
    this.calleeCache.set(call.id, found ?? null);
    return found;
  }

  returnsOf(fn: Node): Node[] {
    const cached = this.returnCache.get(fn.id);
    if (cached) return cached;
    const body = fn.childForFieldName('body');
    let out: Node[] = [];
    if (body && body.type !== 'statement_block') out = [body];
    else if (body) {
      out = body
        .descendantsOfType('return_statement')
        .filter((r): r is Node => !!r && this.enclosingScope(r).id === fn.id)
        .map((r) => r.namedChildren[0])
        .filter((v): v is Node => !!v);
    }
    this.returnCache.set(fn.id, out);
    return out;
  }

  /** The name a function is called by: its own, its variable's, or its property's. */
  private calledName(fn: Node): string | undefined {
    const own = fn.childForFieldName('name')?.text;
    if (own) return own;
    const parent = fn.parent;
    if (parent?.type === 'variable_declarator') return parent.childForFieldName('name')?.text;
    if (parent?.type === 'pair') return parent.childForFieldName('key')?.text.replace(/^['"]|['"]$/g, '');
    if (parent?.type === 'assignment_expression') return parent.childForFieldName('left')?.text.split('.').pop();
    return undefined;
  }

  functionName(fn: Node): string {
    const outer = fn.parent?.type === 'arguments' ? fn.parent.parent : undefined;
    const callee = outer?.type === 'call_expression' ? outer.childForFieldName('function') : undefined;
    if (!this.calledName(fn) && callee?.type === 'member_expression') return `.${callee.childForFieldName('property')?.text ?? 'call'} callback`;
    const name = this.calledName(fn) ?? 'function';
    const cls = fn.type === 'method_definition' ? this.enclosing(fn, CLASS_TYPES) : undefined;
    return cls ? `${cls.childForFieldName('name')?.text ?? 'class'}.${name}` : name;
  }

  callArguments(fn: Node, param: ParamBinding): { call: Node; arg: Node }[] {
    // `promise.then((text) => …)`, `items.map((item) => …)`: the first parameter holds what the receiver holds.
    const args = fn.parent;
    const outer = args?.type === 'arguments' ? args.parent : undefined;
    const callee = outer?.type === 'call_expression' ? outer.childForFieldName('function') : undefined;
    if (callee?.type === 'member_expression' && (param.index ?? 0) === 0 && CALLBACK_METHODS.has(callee.childForFieldName('property')?.text ?? '')) {
      const receiver = callee.childForFieldName('object');
      return receiver && outer ? [{ call: outer, arg: receiver }] : [];
    }
    const name = this.calledName(fn);
    if (!name) return [];
    const cls = fn.type === 'method_definition' && name === 'constructor' ? this.enclosing(fn, CLASS_TYPES) : undefined;
    const key = cls ? cls.childForFieldName('name')?.text : name;
    const out: { call: Node; arg: Node }[] = [];
    for (const call of key ? this.callIndex().callsOf(key) : []) {
      const matches = cls
        ? call.type === 'new_expression' && this.localClass(call.childForFieldName('constructor'), false)?.id === cls.id
        : call.type === 'call_expression' && this.calleeFunction(call)?.id === fn.id;
      if (!matches) continue;
      const arg = this.positionalArgs(call)[param.index ?? 0];
      if (arg && arg.type !== 'spread_element') out.push({ call, arg });
    }
    return out;
  }

  attributeValues(node: Node): { node: Node; value: Node }[] {
    if (node.type !== 'member_expression' || node.childForFieldName('object')?.type !== 'this') return [];
    const prop = node.childForFieldName('property')?.text;
    const cls = prop ? this.enclosing(node, CLASS_TYPES) : undefined;
    if (!cls || !prop) return [];
    const key = `${cls.id}:${prop}`;
    const cached = this.attributeCache.get(key);
    if (cached) return cached;
    const out: { node: Node; value: Node }[] = [];
    for (const a of cls.descendantsOfType(['assignment_expression', 'field_definition', 'public_field_definition'])) {
      if (!a) continue;
      if (a.type === 'assignment_expression') {
        const left = a.childForFieldName('left');
        const right = a.childForFieldName('right');
        if (left?.type === 'member_expression' && left.childForFieldName('object')?.type === 'this' && left.childForFieldName('property')?.text === prop && right) out.push({ node: left, value: right });
      } else {
        const pname = a.childForFieldName('property') ?? a.childForFieldName('name');
        const value = a.childForFieldName('value');
        if (pname?.text === prop && value) out.push({ node: pname, value });
      }
    }
    this.attributeCache.set(key, out);
    return out;
  }

  parameterSource(b: ParamBinding): SourceHit | undefined {
    const fn = b.scope;
    if (!fn || !FUNCTION_TYPES.has(fn.type)) return undefined;
    let holder = fn.parent;
    let property: string | undefined;
    if (fn.type === 'method_definition' && holder?.type === 'object') property = fn.childForFieldName('name')?.text;
    else if (holder?.type === 'pair') {
      property = holder.childForFieldName('key')?.text.replace(/^['"]|['"]$/g, '');
      holder = holder.parent;
    }
    if (property !== undefined && holder?.type !== 'object') return undefined;
    // The function itself is the argument, or the object literal that holds it as `property`.
    const target: Node | null | undefined = property !== undefined ? holder : fn;
    const args = target?.parent;
    if (args?.type !== 'arguments') return undefined;
    const call = args.parent;
    if (call?.type !== 'call_expression' && call?.type !== 'new_expression') return undefined;
    const argIndex = args.namedChildren.findIndex((c) => c?.id === target!.id);
    const callee = call.childForFieldName(call.type === 'new_expression' ? 'constructor' : 'function');
    if (!callee) return undefined;
    const names = [callee.text, this.qualifiedName(callee)];
    const first = stringValue(args.namedChildren[0]);
    for (const s of this.sources.parameters ?? []) {
      if (!s.callee || !names.some((n) => matchesName(n, s.callee!))) continue;
      if (s.property !== undefined ? s.property !== property : property !== undefined || (s.arg ?? 0) !== argIndex) continue;
      if (s.firstArg !== undefined && s.firstArg !== first) continue;
      return { api: `${callee.text}(…)${property ? ` ${property}` : ''}`, note: s.note };
    }
    return undefined;
  }

  // ---- sanitizers ----------------------------------------------------------------------------------

  sanitizerAt(node: Node): SanitizerHit | undefined {
    return this.sanitizers.at(node);
  }

  /** What getting past `stmt` proves: an `if` without `else` whose branch throws or returns failed. */
  private passedGuard(stmt: Node): PassedGuard | undefined {
    if (stmt.type !== 'if_statement' || stmt.childForFieldName('alternative') || !this.terminates(stmt.childForFieldName('consequence'))) return undefined;
    return { condition: stmt.childForFieldName('condition'), holds: false };
  }

  private terminates(stmt: Node | null): boolean {
    if (!stmt) return false;
    if (TERMINATORS.has(stmt.type)) return true;
    if (stmt.type !== 'statement_block') return false;
    const last = stmt.namedChildren.filter((c) => c?.type !== 'comment').at(-1);
    return !!last && TERMINATORS.has(last.type);
  }

  /** JavaScript's own guard tests: membership in a literal map or allowlist, equality, `typeof`, a strict regex. */
  private guardTest(cond: Node, name: string, holds: boolean): SanitizerHit | undefined {
    switch (cond.type) {
      case 'binary_expression': {
        const op = cond.childForFieldName('operator')?.text;
        const left = cond.childForFieldName('left');
        const right = cond.childForFieldName('right');
        if (op === 'in' && holds && left?.type === 'identifier' && left.text === name) {
          const keys = this.literalCollection(right, 'keys');
          if (keys?.length) return { note: `membership in the literal map \`${snippet(right!.text)}\``, safe: true };
        }
        if ((op === '===' && holds) || (op === '!==' && !holds)) {
          const [v, lit] = left?.type === 'identifier' && left.text === name ? [left, right] : [right, left];
          if (v?.type === 'identifier' && v.text === name && lit && this.shape(lit).kind === 'literal') return { note: `equality with \`${snippet(lit.text)}\``, safe: true };
          if (left?.type === 'unary_expression' && left.text === `typeof ${name}` && /^['"](number|boolean)['"]$/.test(right?.text ?? '')) return { note: 'a number type check', safe: true };
        }
        return undefined;
      }
      case 'call_expression': {
        if (!holds) return undefined;
        const fn = cond.childForFieldName('function');
        const args = this.positionalArgs(cond);
        if (fn?.type !== 'member_expression') return undefined;
        const method = fn.childForFieldName('property')?.text ?? '';
        const receiver = fn.childForFieldName('object');
        const isName = (n: Node | undefined): boolean => n?.type === 'identifier' && n.text === name;
        if ((method === 'includes' || method === 'has') && isName(args[0])) {
          const items = this.literalCollection(receiver, method === 'has' ? 'keys' : 'values');
          if (items?.length && items.every((i) => this.shape(i).kind === 'literal')) return { note: `membership in the literal allowlist \`${snippet(receiver!.text)}\``, safe: true };
        }
        if ((fn.text === 'Object.hasOwn' && isName(args[1]) && this.literalCollection(args[0], 'keys')) || (method === 'hasOwnProperty' && isName(args[0]) && this.literalCollection(receiver, 'keys'))) {
          return { note: 'membership in a literal map', safe: true };
        }
        if ((fn.text === 'Number.isInteger' || fn.text === 'Number.isFinite') && isName(args[0])) return { note: `\`${fn.text}()\``, safe: true };
        for (const g of this.sources.sanitizers?.guards ?? []) {
          if (!matchesName(fn.text, g.api) && !matchesName(this.qualifiedName(fn), g.api)) continue;
          if (!isName(args[g.value ?? 0])) continue;
          const pattern = this.regexPattern((g.pattern ?? -1) < 0 ? receiver : args[g.pattern ?? 0]);
          if (pattern === undefined) continue;
          const strict = /^\^/.test(pattern) && /\$$/.test(pattern) && isStrictPattern(pattern.slice(1, -1));
          return { note: strict ? `${g.note} on a strict pattern` : `${g.note} whose pattern admits names`, safe: strict };
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** The source of a regex literal, or of a `const` bound to one. */
  private regexPattern(node: Node | null | undefined): string | undefined {
    if (!node) return undefined;
    if (node.type === 'regex') return node.childForFieldName('pattern')?.text;
    if (node.type === 'identifier') {
      const b = this.bindingsOf(node);
      return b.length === 1 && b[0].kind === 'assign' ? this.regexPattern(b[0].value) : undefined;
    }
    return undefined;
  }
}

function snippet(text: string): string {
  const folded = text.replace(/\s+/g, ' ');
  return folded.length > 50 ? `${folded.slice(0, 49)}…` : folded;
}
