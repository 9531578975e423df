// CUDA C++ (and C++ that calls NVRTC) side of the analysis: declarations and assignments in function
// scopes, expression shapes of string building, and the sources (argv, getenv, file and socket reads).
import type { Node, Tree } from 'web-tree-sitter';
import type { SourceModel } from '../rules/catalog';
import type { Binding, ExprShape, LanguageAdapter, SourceHit } from './expressions';

const SCOPE_TYPES = new Set(['translation_unit', 'function_definition', 'lambda_expression']);
/** Calls that only wrap or view their string input (`std::string(x)`, `s.c_str()`). */
const STRING_WRAPPERS = new Set(['std::string', 'string', 'std::string_view', 'c_str', 'data', 'str', 'append']);

function declaredName(declarator: Node | null | undefined): Node | undefined {
  let cur = declarator;
  while (cur && cur.type !== 'identifier') {
    cur = cur.childForFieldName('declarator') ?? cur.namedChildren.find((c) => c?.type === 'identifier') ?? null;
  }
  return cur ?? undefined;
}

export class CudaFile implements LanguageAdapter {
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

  private bindingsIn(scope: Node): Map<string, Binding[]> {
    let map = this.scopeBindings.get(scope.id);
    if (map) return map;
    map = new Map();
    const add = (b: Binding): void => {
      const list = map!.get(b.name) ?? [];
      list.push(b);
      map!.set(b.name, list);
    };
    const fnName = declaredName(scope.childForFieldName('declarator'))?.text ?? 'function';
    const params = scope.childForFieldName('declarator')?.childForFieldName('parameters');
    for (const p of params?.namedChildren ?? []) {
      const id = p && declaredName(p.childForFieldName('declarator'));
      if (id) add({ kind: 'param', name: id.text, node: id, owner: `${fnName}()` });
    }
    const visit = (node: Node): void => {
      for (const child of node.namedChildren) {
        if (!child) continue;
        if (SCOPE_TYPES.has(child.type)) continue;
        if (child.type === 'init_declarator') {
          const id = declaredName(child.childForFieldName('declarator'));
          const value = child.childForFieldName('value');
          if (id && value) add({ kind: 'assign', name: id.text, node: id, value: value.type === 'initializer_list' || value.type === 'argument_list' ? (value.namedChildren[0] ?? value) : value });
        } else if (child.type === 'declaration' || child.type === 'field_declaration') {
          for (const d of child.childrenForFieldName('declarator')) {
            if (d && d.type !== 'init_declarator') {
              const id = declaredName(d);
              if (id && d.type !== 'function_declarator') add({ kind: 'other', name: id.text, node: id, why: 'declared without a value and filled later' });
            }
          }
        } else if (child.type === 'assignment_expression') {
          const left = child.childForFieldName('left');
          const right = child.childForFieldName('right');
          const op = child.childForFieldName('operator')?.text ?? '=';
          if (left?.type === 'identifier' && right) {
            if (op === '=') add({ kind: 'assign', name: left.text, node: left, value: right });
            else if (op === '+=') add({ kind: 'augassign', name: left.text, node: left, value: right });
            else add({ kind: 'other', name: left.text, node: left, why: 'computed by an operator' });
          }
        } else if (child.type === 'call_expression') {
          // s.append(x) / strcat(buf, x) / sprintf(buf, ...) fill a buffer in place.
          const fn = child.childForFieldName('function');
          const args = child.childForFieldName('arguments')?.namedChildren ?? [];
          if (fn?.type === 'field_expression' && fn.childForFieldName('field')?.text === 'append') {
            const target = fn.childForFieldName('argument');
            if (target?.type === 'identifier' && args[0]) add({ kind: 'augassign', name: target.text, node: target, value: args[0] });
          } else if (fn?.type === 'identifier' && /^(strcat|strcpy|strncpy|strncat|sprintf|snprintf|memcpy|fread|read)$/.test(fn.text)) {
            const target = args[0];
            if (target?.type === 'identifier') add({ kind: 'other', name: target.text, node: target, why: `filled by \`${fn.text}()\`` });
          }
        }
        visit(child);
      }
    };
    const body = scope.type === 'translation_unit' ? scope : scope.childForFieldName('body');
    if (body) visit(body);
    this.scopeBindings.set(scope.id, map);
    return map;
  }

  bindingsOf(node: Node): Binding[] {
    let scope: Node | null = this.enclosingScope(node);
    while (scope) {
      const found = this.bindingsIn(scope).get(node.text);
      if (found && found.length > 0) return found;
      if (scope.type === 'translation_unit') break;
      scope = this.enclosingScope(scope);
    }
    return [];
  }

  calleeName(fn: Node): string {
    if (fn.type === 'field_expression') return fn.childForFieldName('field')?.text ?? fn.text;
    return fn.text;
  }

  positionalArgs(call: Node): Node[] {
    return (call.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
  }

  shape(node: Node): ExprShape {
    switch (node.type) {
      case 'string_literal':
      case 'raw_string_literal':
      case 'char_literal':
      case 'number_literal':
      case 'true':
      case 'false':
      case 'null':
      case 'nullptr':
        return { kind: 'literal' };
      case 'concatenated_string':
      case 'parenthesized_expression':
      case 'binary_expression':
      case 'conditional_expression':
      case 'cast_expression':
        return {
          kind: 'compose',
          parts: (node.type === 'cast_expression' ? [node.childForFieldName('value')] : node.namedChildren).filter((c): c is Node => !!c && c.type !== 'comment'),
          label: 'a string built by concatenation',
        };
      case 'identifier':
        return { kind: 'name', node };
      case 'call_expression': {
        const fn = node.childForFieldName('function');
        const args = this.positionalArgs(node);
        const name = fn ? this.calleeName(fn) : '';
        if (STRING_WRAPPERS.has(name)) {
          const receiver = fn?.type === 'field_expression' ? fn.childForFieldName('argument') : undefined;
          return { kind: 'compose', parts: receiver ? [receiver, ...args] : args, label: 'a string' };
        }
        return { kind: 'opaque', inputs: args };
      }
      case 'pointer_expression':
      case 'subscript_expression':
      case 'field_expression': {
        const arg = node.childForFieldName('argument');
        return { kind: 'opaque', inputs: arg ? [arg] : [] };
      }
      default:
        return { kind: 'opaque', inputs: [] };
    }
  }

  ownLiteralText(node: Node): string | undefined {
    if (node.type === 'string_literal' || node.type === 'raw_string_literal') {
      return node.namedChildren.filter((c): c is Node => c?.type === 'string_content' || c?.type === 'raw_string_content').map((c) => c.text).join('');
    }
    return undefined;
  }

  sourceAt(node: Node): SourceHit | undefined {
    if (node.type === 'call_expression') {
      const fn = node.childForFieldName('function');
      const name = fn ? fn.text : '';
      const hit = this.sources.calls.find((s) => s.api === name);
      return hit ? { api: `${hit.api}()`, note: hit.note } : undefined;
    }
    if (node.type === 'identifier') {
      const hit = this.sources.attributes.find((s) => s.api === node.text);
      return hit ? { api: node.text, note: hit.note } : undefined;
    }
    return undefined;
  }
}
