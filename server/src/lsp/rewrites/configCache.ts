// JIT-CACHE-POISONING quick fixes in shell scripts, .env files, Dockerfiles and YAML: the cache variable's
// value becomes a per-user folder, written so that the format's own expansion rules produce it (shells
// expand $HOME; Dockerfile ENV and YAML env values are not expanded, so they get an absolute home path).
import * as yaml from 'js-yaml';
import { cacheFolderName } from './cacheDir';
import { applyOffsetEdits, type Rewrite, type RewriteContext } from './edits';

export const CONFIG_TITLES = {
  shell: (name: string) => `Use a per-user cache directory ("$HOME/.cache/${name}")`,
  dotenv: (name: string) => `Use a per-user cache directory (\${HOME}/.cache/${name}; needs a loader that expands variables)`,
  dockerfile: (path: string, why: string) => `Use the image user's own cache directory (${path}; ${why})`,
  yaml: (path: string) => `Use a per-user cache directory (${path}; assumes the container runs as user app)`,
  actions: (path: string) => `Use the job's private temp directory (${path})`,
} as const;

/** End of the shell word starting at `i` (quotes, escapes, $(…), ${…} and backquotes followed), or -1. */
function shellWordEnd(text: string, i: number): number {
  let j = i;
  const skipBalanced = (k: number, open: string, close: string): number => {
    let depth = 0;
    for (; k < text.length; k++) {
      if (text[k] === '\\') k++;
      else if (text[k] === open) depth++;
      else if (text[k] === close && --depth === 0) return k + 1;
    }
    return -1;
  };
  while (j < text.length && !/[\s;&|<>()]/.test(text[j])) {
    const c = text[j];
    if (c === '\\') j += 2;
    else if (c === "'") {
      const close = text.indexOf("'", j + 1);
      if (close < 0) return -1;
      j = close + 1;
    } else if (c === '"') {
      j++;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\') j += 2;
        else if (text[j] === '$' && text[j + 1] === '(') j = skipBalanced(j + 1, '(', ')');
        else if (text[j] === '`') j = text.indexOf('`', j + 1) + 1;
        else j++;
        if (j <= 0) return -1;
      }
      if (j >= text.length) return -1;
      j++;
    } else if (c === '$' && (text[j + 1] === '(' || text[j + 1] === '{')) {
      j = text[j + 1] === '(' ? skipBalanced(j + 1, '(', ')') : skipBalanced(j + 1, '{', '}');
      if (j < 0) return -1;
    } else if (c === '`') {
      const close = text.indexOf('`', j + 1);
      if (close < 0) return -1;
      j = close + 1;
    } else j++;
  }
  return j;
}

/** The offsets of `NAME=value`'s value inside [start, end), where NAME starts a word. */
function assignedValueSpan(text: string, start: number, end: number, variable: string): { start: number; end: number } | undefined {
  const span = text.slice(start, end);
  const re = new RegExp(`(^|[\\s;&|(])${variable}=`, 'g');
  const m = re.exec(span);
  if (!m) return undefined;
  const valueStart = start + m.index + m[0].length;
  const valueEnd = shellWordEnd(text, valueStart);
  return valueEnd < 0 || valueEnd > end ? undefined : { start: valueStart, end: valueEnd };
}

function rewrite(title: string, start: number, end: number, newText: string): Rewrite[] {
  return [{ title, safe: false, preferred: true, edits: [{ start, end, newText }], insertions: [] }];
}

function shellRewrites(ctx: RewriteContext, variable: string, name: string): Rewrite[] {
  const { startOffset, endOffset } = ctx.finding.evidence;
  const value = assignedValueSpan(ctx.text, startOffset, endOffset, variable);
  if (!value) return [];
  return rewrite(CONFIG_TITLES.shell(name), value.start, value.end, `"$HOME/.cache/${name}"`);
}

function dotenvRewrites(ctx: RewriteContext, variable: string, name: string): Rewrite[] {
  const { text } = ctx;
  const { startOffset, endOffset } = ctx.finding.evidence;
  const m = new RegExp(`^(?:export[ \\t]+)?${variable}[ \\t]*=[ \\t]*`).exec(text.slice(startOffset, endOffset));
  if (!m) return [];
  const start = startOffset + m[0].length;
  const rest = text.slice(start, endOffset);
  let end: number;
  const q = rest[0];
  if (q === '"' || q === "'") {
    const close = rest.indexOf(q, 1);
    if (close < 0) return [];
    end = start + close + 1;
  } else {
    const comment = /\s#/.exec(rest);
    end = start + (comment ? comment.index : rest.trimEnd().length);
  }
  // Single quotes stop expansion in dotenv loaders; double quotes and bare values allow it.
  const path = `\${HOME}/.cache/${name}`;
  return rewrite(CONFIG_TITLES.dotenv(name), start, end, q === '"' || q === "'" ? `"${path}"` : path);
}

/** The user a Dockerfile stage runs as at `offset`: the last USER in that stage, or root when there is none. */
function dockerHome(text: string, offset: number): { home: string; why: string } | undefined {
  const instructions = [...text.matchAll(/^[ \t]*(FROM|USER)[ \t]+(\S+)/gim)];
  const stageStart = instructions.filter((m) => m[1].toUpperCase() === 'FROM' && m.index! <= offset).pop()?.index ?? 0;
  const nextStage = instructions.find((m) => m[1].toUpperCase() === 'FROM' && m.index! > offset)?.index ?? text.length;
  const user = instructions.filter((m) => m[1].toUpperCase() === 'USER' && m.index! >= stageStart && m.index! < nextStage).pop()?.[2];
  if (!user) return { home: '/root', why: 'no USER in this stage, so it runs as root' };
  const name = user.split(':')[0];
  if (name === 'root' || name === '0') return { home: '/root', why: 'USER root' };
  if (!/^[a-z_][a-z0-9_-]*$/i.test(name)) return undefined;
  return { home: `/home/${name}`, why: `home of USER ${name}` };
}

function dockerfileRewrites(ctx: RewriteContext, variable: string, name: string): Rewrite[] {
  const { text, finding } = ctx;
  const { startOffset, endOffset, nodeType } = finding.evidence;
  // RUN lines are shell: $HOME is expanded there, as the RUN step's user.
  if (nodeType !== 'env_instruction') return shellRewrites(ctx, variable, name);
  const place = dockerHome(text, startOffset);
  if (!place) return [];
  const path = `${place.home}/.cache/${name}`;
  const title = CONFIG_TITLES.dockerfile(path, place.why);
  const eqForm = assignedValueSpan(text, startOffset, endOffset, variable);
  if (eqForm) {
    const q = text[eqForm.start];
    return rewrite(title, eqForm.start, eqForm.end, q === '"' || q === "'" ? `${q}${path}${q}` : path);
  }
  // The legacy `ENV KEY value` form: the value is the rest of the instruction.
  const legacy = new RegExp(`^ENV[ \\t]+${variable}[ \\t]+`, 'i').exec(text.slice(startOffset, endOffset));
  if (!legacy) return [];
  const start = startOffset + legacy[0].length;
  const end = startOffset + text.slice(startOffset, endOffset).trimEnd().length;
  return start < end ? rewrite(title, start, end, path) : [];
}

// ---- YAML ---------------------------------------------------------------------------------------------

function indentOf(line: string): number {
  return /^[ \t]*(- +)?/.exec(line)![0].length;
}

/** The span of the single-line scalar after `key:` on the line starting at `lineStart`. */
function scalarAfterColon(text: string, from: number, lineEnd: number): { start: number; end: number; quote: string } | undefined {
  let start = from;
  while (start < lineEnd && (text[start] === ' ' || text[start] === '\t')) start++;
  const q = text[start];
  if (q === '"' || q === "'") {
    let j = start + 1;
    while (j < lineEnd) {
      if (q === '"' && text[j] === '\\') j += 2;
      else if (q === "'" && text[j] === "'" && text[j + 1] === "'") j += 2;
      else if (text[j] === q) return { start, end: j + 1, quote: q };
      else j++;
    }
    return undefined;
  }
  if (start >= lineEnd || q === '|' || q === '>' || q === '&' || q === '*' || q === '!' || q === '[' || q === '{') return undefined;
  const comment = /\s#/.exec(text.slice(start, lineEnd));
  const end = start + (comment ? comment.index : text.slice(start, lineEnd).trimEnd().length);
  return { start, end, quote: '' };
}

/** Mapping keys above the line at `offset`, innermost first, read from indentation. */
function yamlAncestors(text: string, offset: number): string[] {
  const lines = text.slice(0, offset).split('\n');
  const here = text.slice(text.lastIndexOf('\n', offset - 1) + 1);
  let indent = indentOf(here);
  const keys: string[] = [];
  for (let k = lines.length - 2; k >= 0 && indent > 0; k--) {
    const line = lines[k];
    if (/^\s*(#.*)?\r?$/.test(line)) continue;
    const lineIndent = /^[ \t]*/.exec(line)![0].length;
    if (lineIndent < indent) {
      const key = /^[ \t]*(?:- +)?([^\s:#][^:#]*?)\s*:(\s|$)/.exec(line)?.[1];
      if (key) keys.push(key.replace(/^['"]|['"]$/g, ''));
      indent = lineIndent;
    }
  }
  return keys;
}

/**
 * For a Kubernetes `- name: KEY` entry, the scalar of its sibling `value:` key (same column, same list
 * item, before or after `name:`).
 */
function kubernetesValue(text: string, nameOffset: number): { start: number; end: number; quote: string } | undefined {
  const keyColumn = nameOffset - (text.lastIndexOf('\n', nameOffset - 1) + 1);
  const lines = text.split('\n');
  const starts: number[] = [];
  lines.reduce((offset, line) => (starts.push(offset), offset + line.length + 1), 0);
  const startLine = text.slice(0, nameOffset).split('\n').length - 1;
  const blank = (line: string): boolean => /^\s*(#.*)?\r?$/.test(line);
  const valueOn = (k: number): { start: number; end: number; quote: string } | undefined => {
    const m = /^([ \t]*(?:- +)?)value[ \t]*:/.exec(lines[k]);
    if (!m || m[1].length !== keyColumn) return undefined;
    return scalarAfterColon(text, starts[k] + m[0].length, starts[k] + lines[k].replace(/\r$/, '').length);
  };
  for (let k = startLine + 1; k < lines.length; k++) {
    if (blank(lines[k])) continue;
    const column = /^[ \t]*/.exec(lines[k])![0].length;
    // A line left of the keys is the next list item's dash or a parent key: the item has ended.
    if (column < keyColumn) break;
    if (column === keyColumn) {
      const found = valueOn(k);
      if (found) return found;
    }
  }
  if (/^[ \t]*- /.test(lines[startLine])) return undefined;
  for (let k = startLine - 1; k >= 0; k--) {
    if (blank(lines[k])) continue;
    const found = valueOn(k);
    if (found) return found;
    if (indentOf(lines[k]) === keyColumn && /^[ \t]*- /.test(lines[k])) break;
    if (/^[ \t]*/.exec(lines[k])![0].length < keyColumn && !/^[ \t]*- /.test(lines[k])) break;
  }
  return undefined;
}

function yamlRewrites(ctx: RewriteContext, variable: string, name: string): Rewrite[] {
  const { text, finding } = ctx;
  const { startOffset, endOffset, nodeType } = finding.evidence;
  const lineEnd = (offset: number): number => {
    const nl = text.indexOf('\n', offset);
    return nl === -1 ? text.length : text[nl - 1] === '\r' ? nl - 1 : nl;
  };
  let target: { start: number; end: number; quote: string } | undefined;
  let inner = false;
  const spanText = text.slice(startOffset, endOffset);
  if (nodeType === 'flow_node' || nodeType === 'plain_scalar' || nodeType === 'double_quote_scalar' || nodeType === 'single_quote_scalar') {
    // `- KEY=value` list items: only the part after `=` changes, inside the item's quotes if any.
    const q = spanText[0] === '"' || spanText[0] === "'" ? spanText[0] : '';
    const at = spanText.indexOf(`${variable}=`);
    if (at < 0) return [];
    target = { start: startOffset + at + variable.length + 1, end: endOffset - q.length, quote: '' };
    inner = true;
  } else if (new RegExp(`^['"]?${variable}['"]?\\s*:`).test(spanText)) {
    // The pair's span ends with its value, which also bounds a value inside a flow mapping `{K: v, …}`.
    const colon = startOffset + spanText.indexOf(':') + 1;
    target = scalarAfterColon(text, colon, Math.min(lineEnd(startOffset), endOffset));
  } else if (/^name\s*:/.test(spanText)) {
    target = kubernetesValue(text, startOffset);
  }
  if (!target || target.end <= target.start) return [];
  const actions = /^jobs\s*:/m.test(text) && (/^on\s*:/m.test(text) || /runs-on\s*:/.test(text) || /^["']?on["']?\s*:/m.test(text));
  let value: string;
  let title: string;
  if (actions) {
    // Only step-level `env` may use the runner context; elsewhere there is no per-job private folder to name.
    if (!yamlAncestors(text, startOffset).includes('steps')) return [];
    value = `\${{ runner.temp }}/${name}`;
    title = CONFIG_TITLES.actions(value);
  } else {
    value = `/home/app/.cache/${name}`;
    title = CONFIG_TITLES.yaml(value);
  }
  const quote = target.quote || (!inner && value.includes('{') ? '"' : '');
  const newText = inner ? value : `${quote}${value}${quote}`;
  const after = applyOffsetEdits(text, [{ start: target.start, end: target.end, newText }]);
  try {
    yaml.loadAll(after, { schema: yaml.CORE_SCHEMA });
  } catch {
    return [];
  }
  return rewrite(title, target.start, target.end, newText);
}

export function configCacheRewrites(ctx: RewriteContext): Rewrite[] {
  const variable = ctx.finding.evidence.variable ?? (ctx.finding.fix?.variable as string | undefined);
  if (!variable || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) return [];
  const name = cacheFolderName(variable);
  switch (ctx.lang) {
    case 'shell':
      return shellRewrites(ctx, variable, name);
    case 'dotenv':
      return dotenvRewrites(ctx, variable, name);
    case 'dockerfile':
      return dockerfileRewrites(ctx, variable, name);
    case 'yaml':
      return yamlRewrites(ctx, variable, name);
    default:
      return [];
  }
}

