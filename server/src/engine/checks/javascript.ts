// JavaScript and TypeScript's side of the analysis: require/import aliases, function scopes and bindings,
// qualified callee names (`vm.runInNewContext`, global `eval`), expression shapes and external sources.
import type { Node, Tree } from 'web-tree-sitter';
import type { SourceModel } from '../rules/catalog';
import type { Binding, ExprShape, LanguageAdapter, SourceHit } from './expressions';

const SCOPE_TYPES = new Set([
  'program', 'function_declaration', 'function_expression', 'function', 'arrow_function', 'method_definition',
  'generator_function_declaration', 'generator_function', 'class_static_block',
]);
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

export class JavaScriptFile implements LanguageAdapter {
  private readonly scopeBindings = new Map<number, Map<string, Binding[]>>();

  constructor(
    readonly tree: Tree,
    private readonly sources: SourceModel,
  ) {}

  private enclosingScope(node: Node): Node {
    let cur = node.parent;
    while (cur && !SCOPE_TYPES.has(cur.type)) cur = cur.parent;
    return cur ?? this.tree.rootNode;
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
    const addPattern = (pattern: Node, why: string, kind: 'other' | 'param', modulePrefix?: string): void => {
      switch (pattern.type) {
        case 'identifier':
        case 'shorthand_property_identifier_pattern':
          if (modulePrefix !== undefined) add({ kind: 'import', name: pattern.text, node: pattern, qualified: `${modulePrefix}.${pattern.text}` });
          else if (kind === 'param') add({ kind: 'param', name: pattern.text, node: pattern, owner });
          else add({ kind: 'other', name: pattern.text, node: pattern, why });
          return;
        case 'pair_pattern': {
          const key = pattern.childForFieldName('key')?.text;
          const value = pattern.childForFieldName('value');
          if (value?.type === 'identifier' && modulePrefix !== undefined && key) {
            add({ kind: 'import', name: value.text, node: value, qualified: `${modulePrefix}.${key}` });
          } else if (value) addPattern(value, why, kind);
          return;
        }
        case 'assignment_pattern': {
          const left = pattern.childForFieldName('left');
          if (left) addPattern(left, why, kind, modulePrefix);
          return;
        }
        default:
          for (const c of pattern.namedChildren) if (c) addPattern(c, why, kind);
      }
    };
    const params = scope.childForFieldName('parameters') ?? scope.childForFieldName('parameter');
    if (params) {
      if (params.type === 'identifier') add({ kind: 'param', name: params.text, node: params, owner });
      else for (const p of params.namedChildren) if (p) addPattern(p.type === 'required_parameter' || p.type === 'optional_parameter' ? (p.childForFieldName('pattern') ?? p) : p, '', 'param');
    }
    const visit = (node: Node): void => {
      for (const child of node.namedChildren) {
        if (!child) continue;
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
              addPattern(name, 'bound by destructuring', 'other', mod);
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
              addPattern(left, 'bound by destructuring', 'other');
            }
            break;
          }
          case 'for_in_statement': {
            const left = child.childForFieldName('left');
            if (left) addPattern(left, 'a loop variable', 'other');
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
        visit(child);
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

  bindingsOf(node: Node): Binding[] {
    let scope: Node | null = this.enclosingScope(node);
    while (scope) {
      const found = this.bindingsIn(scope).get(node.text);
      if (found && found.length > 0) return found;
      if (scope.type === 'program') break;
      scope = this.enclosingScope(scope);
    }
    return [];
  }

  /** `vm.runInNewContext`, `eval` for the global, `Function`; undefined for anything bound locally. */
  qualifiedName(node: Node, depth = 0): string | undefined {
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
          return { kind: 'opaque', inputs: receiver ? [...args, receiver] : args };
        }
        if (fn?.type === 'identifier' && fn.text === 'String' && this.bindingsOf(fn).length === 0) return { kind: 'compose', parts: args, label: 'a string' };
        return { kind: 'opaque', inputs: args };
      }
      case 'await_expression':
      case 'object':
      case 'pair':
        return { kind: 'opaque', inputs: node.namedChildren.filter((c): c is Node => !!c) };
      case 'member_expression':
      case 'subscript_expression': {
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
      const name = fn && this.qualifiedName(fn);
      const hit = name ? this.sources.calls.find((s) => s.api === name) : undefined;
      return hit ? { api: `${hit.api}()`, note: hit.note } : undefined;
    }
    if (node.type === 'member_expression' || node.type === 'subscript_expression') {
      const dotted = this.dottedPath(node);
      if (!dotted) return undefined;
      const hit = this.sources.attributes.find((s) => dotted === s.api || dotted.startsWith(`${s.api}.`));
      return hit ? { api: dotted, note: hit.note } : undefined;
    }
    return undefined;
  }
}
