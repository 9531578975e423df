// The "Add to policy allowlist" edit: one `allowlist:` entry appended to sentinel-policy.yml as text, so the
// file's comments and layout stay as they are. Every result is parsed back before it is offered.
import * as yaml from 'js-yaml';
import { applyOffsetEdits, eolOf, nextLineStart, type OffsetEdit } from './edits';

/** The reason written into a new entry: visibly a placeholder, and non-blank so that the entry loads. */
export const POLICY_REASON_PLACEHOLDER = '<reason: why this is accepted>';

export interface AllowlistEntry {
  rule: string;
  path: string;
  fingerprint: string;
  reason: string;
}

/**
 * A glob for exactly this file (relative, forward slashes). Glob syntax characters in the name become
 * `?`, which matches them; the entry's fingerprint still pins the one finding.
 */
export function globForPath(relativePath: string): string {
  return relativePath.replace(/[[\]{}()*?!+@]/g, '?');
}

function blockEntry(entry: AllowlistEntry, dash: string, gap: string, eol: string): string {
  const inner = `${dash} ${gap}`;
  return [
    `${dash}-${gap}rule: ${entry.rule}`,
    `${inner}path: ${JSON.stringify(entry.path)}`,
    `${inner}fingerprint: ${JSON.stringify(entry.fingerprint)}`,
    `${inner}reason: ${JSON.stringify(entry.reason)}`,
  ].join(eol) + eol;
}

function flowEntry(entry: AllowlistEntry): string {
  return `{ rule: ${entry.rule}, path: ${JSON.stringify(entry.path)}, fingerprint: ${JSON.stringify(entry.fingerprint)}, reason: ${JSON.stringify(entry.reason)} }`;
}

/**
 * For the flow sequence opening at `open`: the offset of its closing `]` and the offset just past its last
 * significant character (skipping quoted text, comments and whitespace), or undefined if it does not close.
 */
function flowSequenceEnd(text: string, open: number): { close: number; last: number } | undefined {
  let depth = 0;
  let last = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      last = i + 1;
    } else if (c === "'") {
      for (i++; i < text.length && !(text[i] === "'" && text[i + 1] !== "'"); i++) if (text[i] === "'") i++;
      last = i + 1;
    } else if (c === '#' && /\s/.test(text[i - 1] ?? ' ')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '[' || c === '{') {
      depth++;
      last = i + 1;
    } else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return c === ']' ? { close: i, last } : undefined;
      last = i + 1;
    } else if (!/\s/.test(c)) last = i + 1;
  }
  return undefined;
}

function edits(policyText: string, entry: AllowlistEntry): OffsetEdit[] | undefined {
  const text = policyText;
  const eol = eolOf(text);
  const key = /^(?:allowlist|"allowlist"|'allowlist')[ \t]*:/m.exec(text);
  if (!key) {
    const lead = text.length === 0 || text.endsWith('\n') ? '' : eol;
    return [{ start: text.length, end: text.length, newText: `${lead}allowlist:${eol}${blockEntry(entry, '  ', ' ', eol)}` }];
  }
  const afterKey = key.index + key[0].length;
  const keyLineEnd = text.indexOf('\n', afterKey) === -1 ? text.length : text.indexOf('\n', afterKey);
  const rest = text.slice(afterKey, keyLineEnd).replace(/\r$/, '');
  const value = rest.replace(/(^|\s)#.*$/, '').trim();
  const valueStart = afterKey + rest.indexOf(value);

  if (value.startsWith('[')) {
    const open = afterKey + rest.indexOf('[');
    const end = flowSequenceEnd(text, open);
    if (!end) return undefined;
    // Right after the last item, so the new one shares its line and indentation; a trailing comma stays trailing.
    const before = text[end.last - 1];
    const newText = before === '[' ? flowEntry(entry) : before === ',' ? ` ${flowEntry(entry)},` : `, ${flowEntry(entry)}`;
    return [{ start: end.last, end: end.last, newText }];
  }
  if (value !== '' && !/^(null|Null|NULL|~)$/.test(value)) return undefined;

  // Block sequence (or nothing yet): the entry goes after the last line that belongs to the list.
  const out: OffsetEdit[] = [];
  if (value !== '') out.push({ start: valueStart, end: valueStart + value.length, newText: '' });
  let insertAt = nextLineStart(text, afterKey);
  let dash: string | undefined;
  let gap = ' ';
  for (let at = insertAt; at < text.length; ) {
    const nl = text.indexOf('\n', at);
    const line = text.slice(at, nl === -1 ? text.length : nl).replace(/\r$/, '');
    const next = nl === -1 ? text.length : nl + 1;
    at = next;
    // Comments and blank lines go with whatever follows them, so an entry never lands inside a comment block.
    if (/^\s*(#.*)?$/.test(line)) continue;
    const item = /^([ \t]*)-(?:([ \t]+)\S|$)/.exec(line);
    // Only indented lines and (for a list written at column 0) `- ` items belong to the list.
    if (!/^[ \t]/.test(line) && !item) break;
    if (item && dash === undefined) {
      dash = item[1];
      gap = item[2] ?? ' ';
    }
    insertAt = next;
  }
  const lead = insertAt === text.length && !text.endsWith('\n') ? eol : '';
  out.push({ start: insertAt, end: insertAt, newText: lead + blockEntry(entry, dash ?? '  ', gap, eol) });
  return out;
}

/**
 * Edits to `policyText` that add `entry` to its allowlist (creating the key if needed), or undefined when
 * the file's shape is one this cannot edit safely, or when the result would not read back with the entry.
 */
export function allowlistEdits(policyText: string, entry: AllowlistEntry): OffsetEdit[] | undefined {
  const out = edits(policyText, entry);
  if (!out) return undefined;
  try {
    const data = yaml.load(applyOffsetEdits(policyText, out), { schema: yaml.CORE_SCHEMA, maxAliases: 0 }) as { allowlist?: unknown } | null;
    const list = data?.allowlist;
    const added = Array.isArray(list) ? list[list.length - 1] : undefined;
    return JSON.stringify(added) === JSON.stringify(entry) ? out : undefined;
  } catch {
    return undefined;
  }
}
