// Values in configuration text, shared by the cache checks (cacheConfig.ts, cacheLoading.ts): quoted values,
// YAML scalars with where their text starts, the environment settings and shell scripts a YAML file holds
// (compose, Kubernetes, GitHub Actions, GitLab CI), and Dockerfile instructions.
import type { Node, Tree } from 'web-tree-sitter';
import { parseText } from '../parser';

/** `"x"` / `'x'` → `x`; anything else trimmed. */
export function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) return t.slice(1, -1);
  return t;
}

export interface YamlScalar {
  /** The value: quotes removed, a block scalar's indicator line dropped. */
  text: string;
  /** Offset in the file where `text` starts. */
  start: number;
  block: boolean;
  quoted: boolean;
}

/** The scalar a YAML node holds, with where its text starts in the file; undefined for collections. */
export function yamlScalar(node: Node | null | undefined): YamlScalar | undefined {
  let cur: Node | null | undefined = node;
  while (cur && (cur.type === 'flow_node' || cur.type === 'block_node') && cur.namedChildCount === 1) cur = cur.namedChildren[0];
  if (!cur) return undefined;
  if (cur.type === 'block_scalar') {
    const nl = cur.text.indexOf('\n');
    return nl < 0 ? undefined : { text: cur.text.slice(nl + 1), start: cur.startIndex + nl + 1, block: true, quoted: false };
  }
  if (cur.type === 'double_quote_scalar' || cur.type === 'single_quote_scalar') return { text: cur.text.slice(1, -1), start: cur.startIndex + 1, block: false, quoted: true };
  if (/scalar$/.test(cur.type)) return { text: cur.text, start: cur.startIndex, block: false, quoted: false };
  return undefined;
}

/** An environment setting found in YAML, and the node a finding about it points at. */
export interface YamlSetting {
  name: string;
  value: YamlScalar;
  at: Node;
}

/** Keys whose values are shell scripts in CI and container specs. */
const SCRIPT_KEYS = new Set(['run', 'script', 'before_script', 'after_script', 'command', 'args', 'entrypoint']);

/**
 * The environment settings and shell scripts of a YAML file. Settings: `KEY: value` pairs of any mapping
 * (compose `environment`, GitHub Actions `env` at workflow, job and step level), `- name: KEY` / `value: …`
 * entries (Kubernetes container env) and `- KEY=value` list items (compose `environment` as a list). Scripts:
 * the values of `run`, `script`, `command`, … whether one scalar or a list of them.
 */
export function yamlEnvironment(tree: Tree): { settings: YamlSetting[]; scripts: YamlScalar[] } {
  const settings: YamlSetting[] = [];
  const scripts: YamlScalar[] = [];
  const seenScripts = new Set<number>();
  const script = (s: YamlScalar | undefined): void => {
    if (s && !seenScripts.has(s.start)) {
      seenScripts.add(s.start);
      scripts.push(s);
    }
  };
  for (const mapping of tree.rootNode.descendantsOfType(['block_mapping', 'flow_mapping'])) {
    if (!mapping) continue;
    const byKey = new Map<string, Node>();
    for (const p of mapping.namedChildren) {
      if (p?.type !== 'block_mapping_pair' && p?.type !== 'flow_pair') continue;
      const key = yamlScalar(p.childForFieldName('key'));
      if (key) byKey.set(key.text, p);
    }
    for (const [key, pair] of byKey) {
      const valueNode = pair.childForFieldName('value');
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
        const value = yamlScalar(valueNode);
        if (value) settings.push({ name: key, value, at: pair });
      }
      if (SCRIPT_KEYS.has(key)) {
        const scalar = yamlScalar(valueNode);
        if (scalar) script(scalar);
        else {
          for (const item of valueNode?.descendantsOfType(['block_sequence_item', 'flow_node']) ?? []) {
            script(item?.type === 'block_sequence_item' ? yamlScalar(item.namedChildren[0]) : item?.parent?.type === 'flow_sequence' ? yamlScalar(item) : undefined);
          }
        }
      }
    }
    const namePair = byKey.get('name');
    const name = yamlScalar(namePair?.childForFieldName('value'))?.text;
    const value = yamlScalar(byKey.get('value')?.childForFieldName('value'));
    if (namePair && name && value && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) settings.push({ name, value, at: namePair });
  }
  for (const item of tree.rootNode.descendantsOfType(['block_sequence_item', 'flow_sequence'])) {
    if (!item) continue;
    const nodes = item.type === 'flow_sequence' ? item.namedChildren : [item.namedChildren[0]];
    for (const n of nodes) {
      const s = yamlScalar(n);
      const m = s && /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(s.text);
      if (!n || !s || !m) continue;
      const offset = m[1]!.length + 1;
      settings.push({ name: m[1]!, value: { text: m[2]!, start: s.start + offset, block: false, quoted: s.quoted }, at: n });
    }
  }
  return { settings, scripts };
}

/** Parses `text` as shell and hands the tree to `fn`; the tree is freed afterwards. */
export async function withShellTree<T>(text: string, fn: (tree: Tree) => T): Promise<T> {
  const tree = await parseText('shell', text);
  try {
    return fn(tree);
  } finally {
    tree.delete();
  }
}

export interface DockerInstruction {
  keyword: string;
  /** The arguments as written, continuation lines included. */
  args: string;
  argsOffset: number;
  start: number;
  end: number;
}

/** Dockerfile instructions with continuation lines joined, and where each one and its arguments start. */
export function dockerInstructions(text: string): DockerInstruction[] {
  const out: DockerInstruction[] = [];
  const re = /^([ \t]*)([A-Za-z]+)([ \t]+)((?:[^\n]*\\\r?\n)*[^\n]*)/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const start = m.index + m[1]!.length;
    out.push({ keyword: m[2]!.toUpperCase(), args: m[4]!, argsOffset: start + m[2]!.length + m[3]!.length, start, end: m.index + m[0].length });
  }
  return out;
}

/** `ENV A=1 B="two"` / `ENV A 1`: each pair with its offsets in the file; the legacy form spans the instruction. */
export function dockerEnvPairs(ins: DockerInstruction): { name: string; raw: string; start: number; end: number; nodeType: string }[] {
  // Continuations blanked to the same length, so offsets in `body` are offsets in the instruction's arguments.
  const body = ins.args.replace(/\\\r?\n/g, (m) => ' '.repeat(m.length));
  const eq = [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)].map((m) => ({
    name: m[1]!,
    raw: m[2]!,
    start: ins.argsOffset + m.index,
    end: ins.argsOffset + m.index + m[0].length,
    nodeType: 'env_pair',
  }));
  if (eq.length > 0) return eq;
  const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$/.exec(body.trim());
  return legacy ? [{ name: legacy[1]!, raw: legacy[2]!.trim(), start: ins.start, end: ins.end, nodeType: 'env_instruction' }] : [];
}
