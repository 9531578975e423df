// Every call of a file with its callee looked up once, indexed by the callee's last name: shared by the checks
// that filter calls by name (dynamic code, cache settings, cache loading) and by the taint engine's search for
// the call sites of a function. Each language says which child is the callee and which node type is `a.b`.
import type { Node } from 'web-tree-sitter';

export interface CallInfo {
  call: Node;
  /** The call's node type (`call`, `call_expression`, `new_expression`). */
  callType: string;
  /** The callee child, if any. */
  fn: Node | null;
  /** `fn`'s node type. */
  fnType: string | undefined;
  /** `fn`'s last name: the identifier, the member of `a.b`, else `fn`'s text (a subscript, a call…). */
  last: string | undefined;
  /** Position in document order among the file's calls. */
  ord: number;
}

export interface CallShape {
  /** The callee child of a call. */
  callee(call: Node): Node | null;
  /** The node type of `a.b` and the field that holds `b`. */
  memberType: string;
  memberField: string;
}

export class CallIndex {
  readonly infos: CallInfo[] = [];
  private readonly byLast = new Map<string, CallInfo[]>();
  private plainByName?: Map<string, Node[]>;

  constructor(
    calls: Iterable<Node | null>,
    private readonly shape: CallShape,
  ) {
    for (const call of calls) {
      if (!call) continue;
      const fn = shape.callee(call);
      const fnType = fn?.type;
      const last = fnType === 'identifier' ? fn!.text : fnType === shape.memberType ? fn!.childForFieldName(shape.memberField)?.text : fn?.text;
      const info: CallInfo = { call, callType: call.type, fn, fnType, last, ord: this.infos.length };
      this.infos.push(info);
      if (last === undefined) continue;
      const list = this.byLast.get(last);
      if (list) list.push(info);
      else this.byLast.set(last, [info]);
    }
  }

  private plain(info: CallInfo): boolean {
    return info.fnType === 'identifier' || info.fnType === this.shape.memberType;
  }

  /**
   * The calls whose callee's last name is one of `names`, in document order. With `plainOnly`, only callees
   * that are a name or a member access (`f(x)`, `a.f(x)`) count.
   */
  named(names: Iterable<string>, plainOnly = false): CallInfo[] {
    const out: CallInfo[] = [];
    for (const name of new Set(names)) {
      for (const info of this.byLast.get(name) ?? []) if (!plainOnly || this.plain(info)) out.push(info);
    }
    return out.sort((a, b) => a.ord - b.ord);
  }

  /** Calls of `name` or `x.name` (a name or a member access as the callee), in document order. */
  callsOf(name: string): Node[] {
    if (!this.plainByName) {
      const index = new Map<string, Node[]>();
      for (const info of this.infos) {
        if (!info.last || !this.plain(info)) continue;
        const list = index.get(info.last);
        if (list) list.push(info.call);
        else index.set(info.last, [info.call]);
      }
      this.plainByName = index;
    }
    return this.plainByName.get(name) ?? [];
  }
}
