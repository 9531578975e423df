// What a check receives and what it reports: a parsed document, the enabled rules and a sink for raw
// findings. Raw findings carry offsets and nodes; the scanner turns them into full Finding records.
import type { Node, Tree } from 'web-tree-sitter';
import type { Catalog, RuleCard } from '../rules/catalog';
import type { Confidence, LanguageId } from '../finding';

export interface RawTraceStep {
  startOffset: number;
  endOffset: number;
  note: string;
  kind: 'source' | 'step' | 'sink';
}

export interface RawFinding {
  ruleId: string;
  startOffset: number;
  endOffset: number;
  nodeType: string;
  signal: string;
  confidence: Confidence;
  /** Enclosing function/class names, outermost first: part of the fingerprint, not of the location. */
  scope: string[];
  api?: string;
  variable?: string;
  value?: string;
  trace?: RawTraceStep[];
  fix?: { kind: string; [key: string]: unknown };
}

/** Where a finding stands, as the configuration and cache checks record it: offsets, node type, scope. */
export interface FindingSpot {
  start: number;
  end: number;
  nodeType: string;
  scope?: string[];
}

/** The fields every raw finding has, for a finding of `ruleId` at `at`; the check adds its own. */
export function rawFindingAt(ruleId: string, at: FindingSpot, signal: string, confidence: Confidence): RawFinding {
  return { ruleId, startOffset: at.start, endOffset: at.end, nodeType: at.nodeType, signal, confidence, scope: at.scope ?? [] };
}

export interface CheckContext {
  lang: LanguageId;
  text: string;
  tree?: Tree;
  catalog: Catalog;
  /** The rules this scan runs, by ID. */
  enabled: Map<string, RuleCard>;
  emit(finding: RawFinding): void;
}

/** Names of the functions and classes around `node`, outermost first. */
export function scopeNames(node: Node): string[] {
  const names: string[] = [];
  for (let cur = node.parent; cur; cur = cur.parent) {
    if (!/function|class|method|lambda/.test(cur.type)) continue;
    let name = cur.childForFieldName('name')?.text;
    if (!name) {
      let decl = cur.childForFieldName('declarator');
      while (decl && decl.type !== 'identifier' && decl.type !== 'field_identifier' && decl.type !== 'qualified_identifier') {
        decl = decl.childForFieldName('declarator');
      }
      name = decl?.text;
    }
    names.unshift(name ?? cur.type);
  }
  return names;
}

export function rawTraceFrom(hops: { node: Node; note: string; kind: 'source' | 'step' }[]): RawTraceStep[] {
  return hops.map((h) => ({ startOffset: h.node.startIndex, endOffset: h.node.endIndex, note: h.note, kind: h.kind }));
}
