// Analysis of a document that is being edited (the language server's open files). Each analysis runs the
// checks on the whole tree, except after an edit that stayed inside a comment or a docstring: such text is
// never code, so the checks would find what they found before, only moved by the edit. Their raw findings
// are then shifted and finished again (positions, fingerprints, allow comments), which costs a small part
// of running the checks on a large file. Everything outside the checks (syntax errors, comment lines,
// allow comments) is always taken from the new tree and text.
import type { Node } from 'web-tree-sitter';
import { loadCacheKinds } from './cacheTrees';
import type { RawFinding } from './checks/context';
import type { LanguageId } from './finding';
import type { ChangedRange, ParsedVersion, SyntaxDocument } from './incremental';
import { prefilterFor } from './prefilter';
import type { Catalog, RuleCard } from './rules/catalog';
import { type CheckedDocument, checkDocument, type DocumentResult, finishDocument, treeFacts } from './scanner';

/** How the last analysis got its raw findings: by running the checks, or from the one before. */
export type AnalysisMode = 'checked' | 'reused';

/** Statement nodes whose only child may be a bare string (a docstring, `'use strict'`). */
const EXPRESSION_STATEMENTS = new Set(['expression_statement']);
/** String nodes that hold no code; f-strings and template literals are excluded by their children. */
const PLAIN_STRINGS = new Set(['string']);
/** Children that make a string hold code: Python f-string replacement fields, JS `${}`. */
const CODE_IN_STRING = ['interpolation', 'template_substitution'];
const COMMENTS = new Set(['comment']);
/**
 * Languages whose checks read code only through the tree. Config files are not among them: their checks
 * also search the text (shell in YAML, Dockerfile instructions), where a comment is not marked.
 */
const CODE_LANGUAGES = new Set<LanguageId>(['python', 'javascript', 'typescript', 'tsx', 'cuda']);

interface Remembered {
  generation: number;
  catalog: Catalog;
  rules: string;
  checked: CheckedDocument;
}

export class LiveAnalysis {
  private last: Remembered | undefined;
  /** How the latest analysis was made (read by tests). */
  mode: AnalysisMode | undefined;

  /**
   * Analyses the document's current text (parsing it incrementally first). `displayPath` is what findings
   * name as their path; the result carries no policy.
   */
  async analyze(displayPath: string, doc: SyntaxDocument, catalog: Catalog, enabled: Map<string, RuleCard>): Promise<DocumentResult> {
    const tree = await doc.syntaxTree();
    const text = doc.parsedText;
    const rules = [...enabled.keys()].sort().join(',');
    const last = this.last;
    const previous = doc.previous();
    let raws: RawFinding[] | undefined;
    if (tree && last && previous && last.generation === previous.version.generation && last.catalog === catalog && last.rules === rules) {
      raws = shiftedRaws(last.checked.raws, previous.version, previous.change, tree.rootNode, text, doc.lang, vocabulary(catalog));
    }
    let checked: CheckedDocument;
    if (raws) {
      checked = { raws, ...treeFacts(displayPath, text, tree) };
      this.mode = 'reused';
    } else {
      checked = await checkDocument(displayPath, text, doc.lang, tree, catalog, enabled);
      this.mode = 'checked';
    }
    this.last = { generation: doc.generation, catalog, rules, checked };
    return finishDocument(displayPath, text, checked, catalog, undefined, doc.lineIndex());
  }

  /** Forgets the last analysis (the next one runs the checks). */
  reset(): void {
    this.last = undefined;
  }
}

/**
 * Words that change what a check decides when they appear anywhere in a file's text, comments included:
 * the names the rule data lists (sinks, cache variables, loaders; the pre-filter's words and fragments)
 * and the JIT tools whose mention makes a cleared umask a finding (cache-kinds.yml `config.jitTools`).
 */
const vocabularies = new WeakMap<Catalog, RegExp>();

function vocabulary(catalog: Catalog): RegExp {
  let re = vocabularies.get(catalog);
  if (re) return re;
  const filter = prefilterFor(catalog);
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const parts = [
    ...(filter.words.length > 0 ? [`\\b(?:${filter.words.map(escape).join('|')})\\b`] : []),
    ...filter.fragments.map(escape),
  ];
  try {
    const jitTools = loadCacheKinds(catalog.dir, catalog).config?.jitTools;
    if (jitTools) parts.push(`(?:${jitTools})`);
  } catch {
    // Broken cache-kinds data: the checks report it; every text then counts as a change.
    parts.push('[\\s\\S]');
  }
  re = new RegExp(parts.join('|'), 'g');
  vocabularies.set(catalog, re);
  return re;
}

/** The comment or code-free bare string that holds [start, end], strictly inside its delimiters. */
function triviaAround(root: Node, start: number, end: number, lang: LanguageId): Node | undefined {
  if (!CODE_LANGUAGES.has(lang)) return undefined;
  // Typing at the end of a line comment: the node around the character before is the comment.
  for (const from of start > 0 ? [start, start - 1] : [start]) {
    let node: Node | null = root.descendantForIndex(from, end);
    for (let depth = 0; node && depth < 3; depth++, node = node.parent) {
      if (start <= node.startIndex || end > node.endIndex) continue;
      if (COMMENTS.has(node.type)) return node;
      if (PLAIN_STRINGS.has(node.type)) {
        const parent = node.parent;
        if (!parent || !EXPRESSION_STATEMENTS.has(parent.type) || parent.namedChildCount !== 1) break;
        if (end >= node.endIndex || node.descendantsOfType(CODE_IN_STRING).length > 0) break;
        return node;
      }
    }
  }
  return undefined;
}

function matchesOf(re: RegExp, text: string): string {
  return [...text.matchAll(re)].map((m) => m[0]).join('\0');
}

/**
 * The raw findings of the previous version moved to the current text, when the change between them stayed
 * inside one comment or code-free bare string that is still one of the same kind and extent; undefined when
 * the checks must run again.
 */
function shiftedRaws(
  raws: RawFinding[],
  before: ParsedVersion,
  change: ChangedRange,
  root: Node,
  text: string,
  lang: LanguageId,
  words: RegExp,
): RawFinding[] | undefined {
  const delta = change.newEnd - change.oldEnd;
  const old = triviaAround(before.tree.rootNode, change.start, change.oldEnd, lang);
  if (!old) return undefined;
  const now = triviaAround(root, change.start, change.newEnd, lang);
  if (!now || now.type !== old.type || now.startIndex !== old.startIndex || now.endIndex !== old.endIndex + delta) return undefined;
  // A name the rule data knows, typed into or deleted from a comment, may change what a check decides.
  if (matchesOf(words, before.text.slice(old.startIndex, old.endIndex)) !== matchesOf(words, text.slice(now.startIndex, now.endIndex))) return undefined;
  const from = old.startIndex;
  const to = old.endIndex;
  const moved = (offset: number): number => (offset >= to ? offset + delta : offset);
  const out: RawFinding[] = [];
  for (const raw of raws) {
    // A finding around the comment (a call with a comment among its arguments) shows its text: check again.
    if (raw.startOffset < to && raw.endOffset > from) return undefined;
    if (raw.trace?.some((s) => s.startOffset < to && s.endOffset > from)) return undefined;
    out.push({
      ...raw,
      startOffset: moved(raw.startOffset),
      endOffset: moved(raw.endOffset),
      ...(raw.trace ? { trace: raw.trace.map((s) => ({ ...s, startOffset: moved(s.startOffset), endOffset: moved(s.endOffset) })) } : {}),
    });
  }
  return out;
}
