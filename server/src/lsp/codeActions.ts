// Code actions for Sentinel diagnostics: per finding, the rewrites its language supports (operator maps,
// literal parsing, precompiled kernels, per-user caches), an inline "allow with reason" comment and a policy
// allowlist entry; plus one source.fixAll action that applies only the rewrites that keep behaviour.
import * as path from 'node:path';
import {
  type CodeAction,
  CodeActionKind,
  CreateFile,
  type Diagnostic,
  TextDocumentEdit,
  TextEdit,
  type WorkspaceEdit,
} from 'vscode-languageserver';
import type { Finding, LanguageId } from '../engine/finding';
import { languageFamily } from '../engine/languages';
import { policyTemplate } from '../engine/policy';
import { PositionConverter } from './positions';
import { allowCommentEdit } from './rewrites/allowComment';
import { configCacheRewrites } from './rewrites/configCache';
import { cudaRewrites } from './rewrites/cuda';
import { applyOffsetEdits, combineRewrites, type OffsetEdit, type Rewrite, type RewriteContext } from './rewrites/edits';
import { javascriptRewrites } from './rewrites/javascript';
import { allowlistEdits, globForPath, POLICY_REASON_PLACEHOLDER } from './rewrites/policyAllowlist';
import { pythonRewrites } from './rewrites/python';

export const FIX_ALL_KIND = 'source.fixAll.sentinel';

export interface CodeActionInput {
  uri: string;
  text: string;
  lang: LanguageId;
  /** As analyzeDocument returned it for `text`. */
  finding: Finding;
  /** The published diagnostic; every action lists it in `diagnostics`. */
  diagnostic: Diagnostic;
  converter: PositionConverter;
  policy: {
    uri: string;
    exists: boolean;
    text?: string;
    /** The finding's path relative to the policy file's folder, with forward slashes. */
    relativePath: string;
  };
}

export const ACTION_TITLES = {
  allow: (rule: string) => `Allow ${rule} with reason… (inline comment)`,
  policy: (rule: string, file: string, exists: boolean) => `Add ${rule} to policy allowlist… (${exists ? file : `creates ${file}`})`,
  fixAll: 'Fix all Sentinel findings that have a safe rewrite',
} as const;

/** The rewrites one finding supports in its language; a failing rewrite costs only itself, never the allow actions. */
function rewritesFor(input: CodeActionInput): Rewrite[] {
  const ctx: RewriteContext = { uri: input.uri, text: input.text, lang: input.lang, finding: input.finding };
  try {
    switch (languageFamily(input.lang)) {
      case 'python':
        return input.lang === 'notebook' ? [] : pythonRewrites(ctx);
      case 'javascript':
        return javascriptRewrites(ctx);
      case 'cuda':
        return cudaRewrites(ctx);
      default:
        return configCacheRewrites(ctx);
    }
  } catch {
    return [];
  }
}

function textEdits(edits: OffsetEdit[], converter: PositionConverter): TextEdit[] {
  return edits.map((e) => TextEdit.replace(converter.rangeOf(e.start, e.end), e.newText));
}

function rewriteAction(input: CodeActionInput, rewrite: Rewrite): CodeAction | undefined {
  const { edits, accepted } = combineRewrites([rewrite]);
  if (accepted.length === 0 || edits.length === 0) return undefined;
  return {
    title: rewrite.title,
    kind: CodeActionKind.QuickFix,
    diagnostics: [input.diagnostic],
    ...(rewrite.preferred ? { isPreferred: true } : {}),
    edit: { changes: { [input.uri]: textEdits(edits, input.converter) } },
  };
}

function allowAction(input: CodeActionInput): CodeAction | undefined {
  const edit = allowCommentEdit(input.text, input.lang, input.finding);
  if (!edit) return undefined;
  return {
    title: ACTION_TITLES.allow(input.finding.ruleId),
    kind: CodeActionKind.QuickFix,
    diagnostics: [input.diagnostic],
    edit: { changes: { [input.uri]: textEdits([edit], input.converter) } },
  };
}

function policyFileName(uri: string): string {
  return decodeURIComponent(path.posix.basename(uri.replace(/[?#].*$/, ''))) || 'sentinel-policy.yml';
}

function policyAction(input: CodeActionInput): CodeAction | undefined {
  const { policy, finding } = input;
  const rel = policy.relativePath;
  // Entries are globs relative to the policy's folder: a file outside it (or unsaved) cannot be listed.
  if (!rel || rel === '..' || rel.startsWith('../') || path.posix.isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) return undefined;
  const entry = { rule: finding.ruleId, path: globForPath(rel), fingerprint: finding.fingerprint, reason: POLICY_REASON_PLACEHOLDER };
  let edit: WorkspaceEdit;
  if (policy.exists) {
    if (policy.text === undefined) return undefined;
    const edits = allowlistEdits(policy.text, entry);
    if (!edits) return undefined;
    const converter = new PositionConverter(policy.text, input.converter.encoding);
    edit = { changes: { [policy.uri]: textEdits(edits, converter) } };
  } else {
    const template = policyTemplate();
    const edits = allowlistEdits(template, entry);
    if (!edits) return undefined;
    edit = {
      documentChanges: [
        // Fails rather than overwrites if the file appeared since the policy was looked up.
        CreateFile.create(policy.uri, { overwrite: false, ignoreIfExists: false }),
        TextDocumentEdit.create({ uri: policy.uri, version: null }, [TextEdit.insert({ line: 0, character: 0 }, applyOffsetEdits(template, edits))]),
      ],
    };
  }
  return {
    title: ACTION_TITLES.policy(finding.ruleId, policyFileName(policy.uri), policy.exists),
    kind: CodeActionKind.QuickFix,
    diagnostics: [input.diagnostic],
    edit,
  };
}

/** Every quick fix for one diagnostic: rewrites (the preferred one first), then allow inline, then allow in the policy. */
export function codeActionsFor(input: CodeActionInput): CodeAction[] {
  const actions: CodeAction[] = [];
  // Notebook offsets address the joined cell program, not the .ipynb JSON: only the policy entry applies.
  if (input.lang !== 'notebook') {
    const rewrites = rewritesFor(input).sort((a, b) => Number(b.preferred) - Number(a.preferred));
    let preferredTaken = false;
    for (const rewrite of rewrites) {
      const action = rewriteAction(input, { ...rewrite, preferred: rewrite.preferred && !preferredTaken });
      if (!action) continue;
      preferredTaken ||= action.isPreferred === true;
      actions.push(action);
    }
  }
  if (input.finding.decision !== 'suppressed') {
    const allow = input.lang === 'notebook' ? undefined : allowAction(input);
    if (allow) actions.push(allow);
    const policy = policyAction(input);
    if (policy) actions.push(policy);
  }
  return actions;
}

/**
 * One source.fixAll action combining the safe rewrites of every given finding (per document, shared imports
 * and helpers written once); undefined when there is nothing safe to apply. Suppressed findings are left alone.
 */
export function fixAllActions(inputs: CodeActionInput[]): CodeAction | undefined {
  interface Group {
    inputs: CodeActionInput[];
    rewrites: Rewrite[];
    owners: Map<Rewrite, CodeActionInput>;
  }
  const byUri = new Map<string, Group>();
  for (const input of inputs) {
    if (input.lang === 'notebook' || input.finding.decision === 'suppressed') continue;
    const safe = rewritesFor(input).filter((r) => r.safe);
    if (safe.length === 0) continue;
    const group: Group = byUri.get(input.uri) ?? { inputs: [], rewrites: [], owners: new Map<Rewrite, CodeActionInput>() };
    // One rewrite per finding: the first safe one (findings have at most one today).
    group.rewrites.push(safe[0]);
    group.owners.set(safe[0], input);
    group.inputs.push(input);
    byUri.set(input.uri, group);
  }
  const changes: Record<string, TextEdit[]> = {};
  const diagnostics: Diagnostic[] = [];
  for (const [uri, group] of byUri) {
    const { edits, accepted } = combineRewrites(group.rewrites);
    if (edits.length === 0) continue;
    changes[uri] = textEdits(edits, group.inputs[0].converter);
    for (const r of accepted) diagnostics.push(group.owners.get(r)!.diagnostic);
  }
  if (Object.keys(changes).length === 0) return undefined;
  return { title: ACTION_TITLES.fixAll, kind: FIX_ALL_KIND, diagnostics, edit: { changes } };
}
