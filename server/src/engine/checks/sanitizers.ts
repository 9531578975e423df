// Sanitizers found the same way in Python and JavaScript/TypeScript: a cast call from the source model
// (`int(x)`, `Number(x)`), and a guard that must have held for a name's use to run (an enclosing `if`, or an
// earlier statement the code only gets past when the guard held), read through parentheses, negation and
// and/or. Each adapter states its node types and the tests only it knows (membership, equality, patterns).
import type { Node } from 'web-tree-sitter';
import type { SanitizerSpec } from '../rules/catalog';
import type { Binding, SanitizerHit } from './expressions';
import { matchesName } from './models';

/**
 * The node types that differ between grammars. Both agree on `identifier`, `parenthesized_expression` and
 * `if_statement` (fields `condition`, `consequence`).
 */
export interface GuardSyntax {
  /** The call node type; a call is a cast when its callee has one of `castCallees` (`int`, `np.int64`). */
  call: string;
  castCallees: ReadonlySet<string>;
  /** Nodes whose code a guard outside them does not protect: functions, lambdas, classes. */
  boundaries: ReadonlySet<string>;
  /** Statement lists, in which an earlier statement can guard the later ones. */
  blocks: ReadonlySet<string>;
  /** Negation (`not x`, `!x`), the operand in the field `argument`; `operator` when the node type has others. */
  not: { type: string; operator?: string };
  /** Conjunction and disjunction: the node type (fields `left`, `operator`, `right`) and the two operators. */
  junction: { type: string; and: string; or: string };
}

/** Reads a nested condition: whether `cond` being `holds` proves the name safe. */
export type GuardWalk = (cond: Node | null | undefined, holds: boolean) => SanitizerHit | undefined;

/** What getting past an earlier statement proves: its condition, and whether it held (`assert`) or failed (`if …: raise`). */
export interface PassedGuard {
  condition: Node | null | undefined;
  holds: boolean;
}

/** What the adapter knows and the walk does not. */
export interface GuardHooks {
  casts(): SanitizerSpec[] | undefined;
  qualifiedName(node: Node): string | undefined;
  /** What getting past the earlier statement `stmt` in a block proves, if anything. */
  passed(stmt: Node): PassedGuard | undefined;
  /** A test proving `name` safe when `cond` is `holds`, not built from parentheses, negation or and/or. */
  test(cond: Node, name: string, holds: boolean, walk: GuardWalk): SanitizerHit | undefined;
  /** The bindings of the identifier `use` (see `rebindingStarts`). */
  bindingsOf(use: Node): Binding[];
}

/**
 * Where the bindings of `use`'s name that could replace a checked value start: not parameters (bound before
 * any check), and not the binding `use` is part of the value of (`x = x.strip()` reads the checked `x`).
 */
function rebindingStarts(bindings: Binding[], use: Node): number[] {
  const inside = (n: Node | undefined): boolean => !!n && n.startIndex <= use.startIndex && use.endIndex <= n.endIndex;
  return bindings.flatMap((b) => {
    if (b.kind === 'param') return [];
    if ((b.kind === 'assign' || b.kind === 'augassign') && inside(b.value)) return [];
    if (b.kind === 'other' && inside(b.from)) return [];
    return [b.node.startIndex];
  });
}

/** The sanitizers of one file, guards cached per identifier. */
export class Sanitizers {
  private readonly guardCache = new Map<number, SanitizerHit | null>();

  constructor(
    private readonly syntax: GuardSyntax,
    private readonly hooks: GuardHooks,
  ) {}

  /** A cast at the call `node`, or a guard around the identifier `node`. */
  at(node: Node): SanitizerHit | undefined {
    if (node.type === this.syntax.call) return this.castAt(node);
    if (node.type !== 'identifier') return undefined;
    const cached = this.guardCache.get(node.id);
    if (cached !== undefined) return cached ?? undefined;
    const found = this.guardAround(node);
    this.guardCache.set(node.id, found ?? null);
    return found;
  }

  private castAt(call: Node): SanitizerHit | undefined {
    const fn = call.childForFieldName('function');
    if (!fn || !this.syntax.castCallees.has(fn.type)) return undefined;
    const q = this.hooks.qualifiedName(fn);
    const cast = q ? this.hooks.casts()?.find((c) => matchesName(q, c.api)) : undefined;
    return cast ? { note: cast.note, safe: true } : undefined;
  }

  /**
   * A guard that must have held for the code at `use` to run: an enclosing `if`, or an earlier statement. A
   * guard counts only if the name is not bound again between it and the use (`x = request.args[…]` after
   * the check): the walk outwards and backwards stops at the first such binding.
   */
  private guardAround(use: Node): SanitizerHit | undefined {
    const name = use.text;
    const rebound = rebindingStarts(this.hooks.bindingsOf(use), use).filter((start) => start < use.startIndex);
    const stale = (guardEnd: number): boolean => rebound.some((start) => start >= guardEnd);
    let cur: Node = use;
    for (let p = use.parent; p; cur = p, p = p.parent) {
      if (this.syntax.boundaries.has(p.type)) break;
      if (p.type === 'if_statement' && p.childForFieldName('consequence')?.id === cur.id) {
        const cond = p.childForFieldName('condition');
        if (cond && stale(cond.endIndex)) return undefined;
        const g = this.guardCondition(cond, name, true);
        if (g) return g;
      }
      if (this.syntax.blocks.has(p.type)) {
        for (let sib = cur.previousNamedSibling; sib; sib = sib.previousNamedSibling) {
          const passed = this.hooks.passed(sib);
          if (!passed) continue;
          if (stale(sib.endIndex)) return undefined;
          const g = this.guardCondition(passed.condition, name, passed.holds);
          if (g) return g;
        }
      }
    }
    return undefined;
  }

  /** Whether `cond` being `holds` proves that `name` is safe. */
  private guardCondition(cond: Node | null | undefined, name: string, holds: boolean): SanitizerHit | undefined {
    if (!cond) return undefined;
    const { not, junction } = this.syntax;
    if (cond.type === 'parenthesized_expression') return this.guardCondition(cond.namedChildren[0], name, holds);
    if (cond.type === not.type && (not.operator === undefined || cond.childForFieldName('operator')?.text === not.operator)) {
      return this.guardCondition(cond.childForFieldName('argument'), name, !holds);
    }
    if (cond.type === junction.type) {
      const op = cond.childForFieldName('operator')?.text;
      if (op === junction.and || op === junction.or) {
        // Inside `if a and b:` both held; after `if a or b: raise` both failed. Otherwise neither is known.
        if ((op === junction.and) !== holds) return undefined;
        return this.guardCondition(cond.childForFieldName('left'), name, holds) ?? this.guardCondition(cond.childForFieldName('right'), name, holds);
      }
    }
    return this.hooks.test(cond, name, holds, (c, h) => this.guardCondition(c, name, h));
  }
}
