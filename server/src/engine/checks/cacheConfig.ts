// JIT-CACHE-POISONING in configuration. A JIT cache variable (the rule card's `cacheVariables`) or cache
// setting set to a shared temp place (`sharedPathPrefixes`, `sharedPathCalls`), or to the project checkout or
// a relative path (the `config` section of cache-kinds.yml); and a cache folder created or chmodded writable
// by group or others, or a process umask that does the same. In Python, JS/TS, shell, Dockerfiles, .env files
// and YAML (Kubernetes env lists, compose environment, GitHub Actions env and run scripts).
import type { Node, Tree } from 'web-tree-sitter';
import { type CacheConfigData, loadCacheKinds } from '../cacheTrees';
import type { Confidence } from '../finding';
import { languageFamily } from '../languages';
import type { RuleCard } from '../rules/catalog';
import { type CheckContext, type FindingSpot, rawFindingAt, scopeNames } from './context';
import type { LanguageAdapter } from './expressions';
import { JavaScriptFile } from './javascript';
import { PythonFile } from './python';
import { dockerEnvPairs, dockerInstructions, unquote, withShellTree, yamlEnvironment } from './yamlScalars';

interface CacheRuleData {
  rule: RuleCard;
  variables: Set<string>;
  configKeys: Set<string>;
  prefixes: string[];
  calls: Set<string>;
  config?: CacheConfigData;
  /** The cache folder regexes: `cacheDirNames` and the loading section's `cacheDirPatterns`. */
  dirNames: RegExp[];
  jitTools?: RegExp;
}

function cacheRules(ctx: CheckContext): CacheRuleData[] {
  const rules = [...ctx.enabled.values()].filter((r) => (r.cacheVariables?.length ?? 0) > 0);
  if (rules.length === 0) return [];
  const kinds = loadCacheKinds(ctx.catalog.dir, ctx.catalog);
  const config = kinds.config;
  const dirNames = [...(config ? [new RegExp(config.cacheDirNames, 'i')] : []), ...kinds.loading.cacheDirPatterns.map((p) => new RegExp(p))];
  return rules.map((rule) => ({
    rule,
    variables: new Set(rule.cacheVariables),
    configKeys: new Set(rule.cacheConfigKeys ?? []),
    prefixes: rule.sharedPathPrefixes ?? [],
    calls: new Set(rule.sharedPathCalls ?? []),
    config,
    dirNames,
    jitTools: config ? new RegExp(config.jitTools) : undefined,
  }));
}

/** Where a value puts a cache: a shared temp place (high) or the project checkout / a relative path (medium). */
interface Place {
  place: string;
  kind: 'shared' | 'project';
}

/** The shared place a literal path value starts with, if any (`/tmp/triton` → `/tmp`). */
export function sharedPrefix(value: string, prefixes: string[]): string | undefined {
  const v = unquote(value).replace(/^file:\/\//, '');
  if (/^\$\{?TMPDIR\b/.test(v)) return '$TMPDIR';
  for (const p of prefixes) {
    if (v === p || v.startsWith(`${p}/`) || v.startsWith(`${p}\\`) || (p.endsWith('}') && v.startsWith(p))) return p;
  }
  return undefined;
}

/** A relative path: resolved against whatever the working directory is when the compiler runs. */
export function isRelativePath(value: string): boolean {
  const v = unquote(value);
  if (v === '' || /\s/.test(v.trim()) || /^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return false;
  return !/^([/~$%\\{`]|[A-Za-z]:[\\/])/.test(v);
}

/** Where a literal path value puts a cache, if it is a place others can write. */
function literalPlace(value: string, d: CacheRuleData): Place | undefined {
  const shared = sharedPrefix(value, d.prefixes);
  if (shared) return { place: shared, kind: 'shared' };
  const v = unquote(value);
  // ${TRITON_CACHE_DIR:-/tmp/triton}: the default decides.
  const fallback = /^\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=]([^}]*)\}(.*)$/.exec(v);
  if (fallback) return literalPlace(fallback[1]! + fallback[2]!, d);
  const project = d.config?.projectPathPrefixes.find((p) => v === p || v.startsWith(`${p}/`) || v.startsWith(`${p}\\`));
  if (project) return { place: `the project checkout (\`${project}\`)`, kind: 'project' };
  if (d.config && isRelativePath(v)) return { place: 'a relative path, inside whatever the working directory is', kind: 'project' };
  return undefined;
}

/** Every configuration finding names its scope. */
type At = Required<FindingSpot>;

interface Emit {
  setting(data: CacheRuleData, at: At, variable: string, value: string, where: Place): void;
  mode(data: CacheRuleData, at: At, what: { signal: string; confidence: Confidence; api: string; value: string }): void;
}

function makeEmitter(ctx: CheckContext): Emit {
  return {
    setting: (data, at, variable, value, where) =>
      ctx.emit({
        ...rawFindingAt(
          data.rule.id,
          at,
          where.kind === 'shared'
            ? `\`${variable}\` is set to \`${value}\`, under ${where.place}, which other users and processes can write`
            : `\`${variable}\` is set to \`${value}\`, ${where.place}: whoever can write the checkout or the working directory (a pull request, a restored CI cache, a shared volume) writes the compiled code this process loads`,
          where.kind === 'shared' ? 'high' : 'medium',
        ),
        variable,
        value,
        fix: { kind: 'per-user-cache', variable },
      }),
    mode: (data, at, what) =>
      ctx.emit({ ...rawFindingAt(data.rule.id, at, what.signal, what.confidence), api: what.api, value: what.value, fix: { kind: 'restrict-mode' } }),
  };
}

// ---- modes ---------------------------------------------------------------------------------------------

const STAT_BITS: Record<string, number> = {
  S_IRWXU: 0o700, S_IRUSR: 0o400, S_IWUSR: 0o200, S_IXUSR: 0o100,
  S_IRWXG: 0o070, S_IRGRP: 0o040, S_IWGRP: 0o020, S_IXGRP: 0o010,
  S_IRWXO: 0o007, S_IROTH: 0o004, S_IWOTH: 0o002, S_IXOTH: 0o001,
  S_ISVTX: 0o1000, S_ISGID: 0o2000, S_ISUID: 0o4000,
};

/** A numeric mode from a literal (`0o777`, `0777`, `511`, `'777'`), a stat constant or their `|`/`+`. */
export function modeValue(node: Node | null | undefined, file: LanguageAdapter, depth = 0): number | undefined {
  if (!node || depth > 8) return undefined;
  const t = node.text.trim();
  if (node.type === 'integer' || node.type === 'number') {
    if (/^0[oO][0-7]+$/.test(t)) return parseInt(t.slice(2), 8);
    if (/^0[0-7]+$/.test(t)) return parseInt(t.slice(1), 8);
    if (/^0[xX][0-9a-fA-F]+$/.test(t)) return parseInt(t.slice(2), 16);
    return /^\d+$/.test(t) ? parseInt(t, 10) : undefined;
  }
  if (node.type === 'string') {
    const s = unquote(t);
    return /^[0-7]{3,4}$/.test(s) ? parseInt(s, 8) : undefined;
  }
  const last = /(?:^|\.)(S_I[A-Z]+)$/.exec(t);
  if ((node.type === 'attribute' || node.type === 'member_expression' || node.type === 'identifier') && last && STAT_BITS[last[1]!] !== undefined) return STAT_BITS[last[1]!];
  if (node.type === 'parenthesized_expression') return modeValue(node.namedChildren[0], file, depth + 1);
  if (node.type === 'binary_operator' || node.type === 'binary_expression') {
    const op = node.childForFieldName('operator')?.text;
    const l = modeValue(node.childForFieldName('left'), file, depth + 1);
    const r = modeValue(node.childForFieldName('right'), file, depth + 1);
    if (l === undefined || r === undefined) return undefined;
    return op === '|' || op === '+' ? l | r : undefined;
  }
  if (node.type === 'identifier') {
    const bindings = file.bindingsOf(node);
    const assigned = bindings.length === 1 && bindings[0]!.kind === 'assign' ? bindings[0]!.value : undefined;
    return assigned ? modeValue(assigned, file, depth + 1) : undefined;
  }
  return undefined;
}

/** Who besides the owner may write with `mode`: 2 others, 1 the group, 0 nobody (a sticky folder passes, as in cacheTrees.ts). */
function writableClass(mode: number): 0 | 1 | 2 {
  if (mode & 0o1000) return 0;
  return mode & 0o002 ? 2 : mode & 0o020 ? 1 : 0;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

function modeFinding(cls: 1 | 2, verb: string, target: string, mode: string): { signal: string; confidence: Confidence } {
  const who = cls === 2 ? 'any local user' : 'every member of the group';
  return {
    signal: `${verb} the JIT cache folder ${target} with mode ${mode}: ${who} can add or replace compiled entries in it, and the compiler loads what it finds there`,
    confidence: cls === 2 ? 'high' : 'medium',
  };
}

function umaskFinding(mask: number, text: string): { signal: string; confidence: Confidence } | undefined {
  if ((mask & 0o022) === 0o022) return undefined;
  const world = (mask & 0o002) === 0;
  return {
    signal: `\`${text}\` leaves every folder and file this process creates afterwards writable by ${world ? 'any local user' : 'the group'}, the JIT caches it fills included: whoever can write there can replace compiled code`,
    confidence: world ? 'high' : 'medium',
  };
}

// ---- Python and JavaScript ---------------------------------------------------------------------------

type CodeFile = LanguageAdapter & { qualifiedName(n: Node): string | undefined; positionalArgs(n: Node): Node[] };

/** Why a Python/JS expression names a shared or project place, or undefined. Follows names, joins and templates. */
function placeOfValue(node: Node, file: CodeFile, data: CacheRuleData, depth = 0): Place | undefined {
  if (depth > 12) return undefined;
  const shape = file.shape(node);
  const cfg = data.config;
  if (node.type === 'call' || node.type === 'call_expression') {
    const fn = node.childForFieldName('function');
    const name = fn ? file.qualifiedName(fn) : undefined;
    if (name && data.calls.has(name)) return { place: `${name}()`, kind: 'shared' };
    if (name && cfg?.projectPathCalls.includes(name)) return { place: `the working directory (\`${name}()\`)`, kind: 'project' };
    // os.path.join(base, …), path.join(base, …), Path(base), str(base), f(base) in general: the leading argument decides.
    const first = file.positionalArgs(node)[0];
    if (name && /(^|\.)(join|resolve|Path|PurePath|PosixPath|str|String|fspath|abspath|realpath|expanduser|dirname|normpath)$/.test(name) && first) {
      return placeOfValue(first, file, data, depth + 1);
    }
    // Path(__file__).resolve(), base.joinpath("x"), p.absolute(): the receiver decides.
    if (fn && (fn.type === 'attribute' || fn.type === 'member_expression')) {
      const method = fn.childForFieldName(fn.type === 'attribute' ? 'attribute' : 'property')?.text ?? '';
      const receiver = fn.childForFieldName('object');
      if (receiver && /^(resolve|absolute|joinpath|expanduser|with_name|with_suffix|as_posix)$/.test(method)) return placeOfValue(receiver, file, data, depth + 1);
    }
    return undefined;
  }
  if (node.type === 'attribute' && /^(parent|parents)$/.test(node.childForFieldName('attribute')?.text ?? '')) {
    const object = node.childForFieldName('object');
    return object ? placeOfValue(object, file, data, depth + 1) : undefined;
  }
  if (node.type === 'subscript') {
    // Path(__file__).parents[1]
    const value = node.childForFieldName('value');
    return value?.type === 'attribute' ? placeOfValue(value, file, data, depth + 1) : undefined;
  }
  if (node.type === 'binary_operator' || node.type === 'binary_expression') {
    const left = node.childForFieldName('left');
    return left ? placeOfValue(left, file, data, depth + 1) : undefined;
  }
  if ((node.type === 'string' || node.type === 'template_string') && shape.kind === 'compose') {
    // f"{base}/triton" or `${base}/x`: a leading interpolation decides; otherwise the leading text does.
    const first = node.namedChildren.find((c) => c && !['string_start', 'string_end'].includes(c.type));
    if (first && (first.type === 'interpolation' || first.type === 'template_substitution')) {
      const inner = first.namedChildren[0];
      return inner ? placeOfValue(inner, file, data, depth + 1) : undefined;
    }
    return literalPlace(first?.text ?? '', data);
  }
  const own = file.ownLiteralText(node);
  if (own !== undefined) return literalPlace(own.split('\u0000')[0] ?? '', data);
  if (shape.kind === 'compose' && shape.parts[0]) return placeOfValue(shape.parts[0], file, data, depth + 1);
  if (shape.kind === 'name') {
    const bindings = file.bindingsOf(shape.node);
    if (bindings.length === 0 && cfg?.projectPathNames.includes(shape.node.text)) return { place: `the source tree (\`${shape.node.text}\`)`, kind: 'project' };
    for (const b of bindings) {
      if (b.kind !== 'assign') continue;
      const hit = placeOfValue(b.value, file, data, depth + 1);
      if (hit) return hit;
    }
  }
  return undefined;
}

function constantKey(node: Node | null | undefined, file: LanguageAdapter): string | undefined {
  if (!node) return undefined;
  const own = file.ownLiteralText(node);
  if (own !== undefined && !own.includes('\u0000')) return own;
  if (node.type === 'property_identifier') return node.text;
  return undefined;
}

/**
 * Whether a path expression names a JIT cache folder: it reads a cache variable, was assigned to one in this
 * file (`cacheNames`), or its literal text or variable names look like a cache folder (`triton`, `inductor`).
 */
function cacheFolderOf(node: Node, file: LanguageAdapter, data: CacheRuleData, cacheNames: Set<string>, depth = 0, seen = new Set<number>()): string | undefined {
  if (depth > 12 || seen.has(node.id)) return undefined;
  seen.add(node.id);
  const own = file.ownLiteralText(node);
  if (own !== undefined) {
    for (const piece of own.split('\u0000')) {
      if (data.variables.has(piece)) return `named by \`${piece}\``;
      if (data.dirNames.some((re) => re.test(piece))) return `\`${piece}\``;
    }
  }
  if (node.type === 'identifier' || node.type === 'attribute' || node.type === 'member_expression') {
    const name = node.type === 'identifier' ? node.text : (node.childForFieldName(node.type === 'attribute' ? 'attribute' : 'property')?.text ?? '');
    if (cacheNames.has(node.text)) return `\`${node.text}\`, which this file makes a JIT cache`;
    if (data.dirNames.some((re) => re.test(name))) return `\`${node.text}\``;
  }
  if (node.type === 'identifier' || node.type === 'attribute' || node.type === 'member_expression') {
    const name = node.type === 'identifier' ? node.text : (node.childForFieldName(node.type === 'attribute' ? 'attribute' : 'property')?.text ?? '');
    if (data.variables.has(name)) return `named by \`${name}\``;
  }
  const shape = file.shape(node);
  const next = [...(shape.kind === 'compose' ? shape.parts : shape.kind === 'opaque' ? shape.inputs : [])];
  // os.environ["TRITON_CACHE_DIR"]: the key names the folder.
  const key = node.type === 'subscript' ? node.childForFieldName('subscript') : node.type === 'subscript_expression' ? node.childForFieldName('index') : undefined;
  if (key) next.push(key);
  if (node.type === 'string' || node.type === 'template_string') next.push(...node.namedChildren.filter((c): c is Node => !!c));
  for (const child of next) {
    const hit = cacheFolderOf(child, file, data, cacheNames, depth + 1, seen);
    if (hit) return hit;
  }
  if (shape.kind === 'name') {
    for (const b of file.bindingsOf(shape.node)) {
      if (b.kind !== 'assign' && b.kind !== 'augassign') continue;
      const hit = cacheFolderOf(b.value, file, data, cacheNames, depth + 1, seen);
      if (hit) return hit;
    }
  }
  return undefined;
}

/** The last names of the Python calls that can set a cache variable or setting. */
const PY_CACHE_CALLS = new Set(['setdefault', 'putenv', '__setitem__', 'update', 'setenv', 'dict']);

function checkPythonCache(ctx: CheckContext, tree: Tree, data: CacheRuleData[], emit: Emit): void {
  const file = PythonFile.of(tree, ctx.catalog.sources.python ?? { calls: [], attributes: [] });
  const at = (n: Node): At => ({ start: n.startIndex, end: n.endIndex, nodeType: n.type, scope: scopeNames(n) });
  /** Names whose value is assigned to a cache variable: `os.makedirs(that, 0o777)` widens a cache folder. */
  const cacheNames = new Set<string>();
  const report = (d: CacheRuleData, node: Node, variable: string, value: Node): void => {
    if (value.type === 'identifier') cacheNames.add(value.text);
    else if (value.type === 'call' && value.childForFieldName('function')?.text === 'str') {
      const inner = file.positionalArgs(value)[0];
      if (inner?.type === 'identifier') cacheNames.add(inner.text);
    }
    const where = placeOfValue(value, file, d);
    if (where) emit.setting(d, at(node), variable, value.text, where);
  };
  const isEnviron = (n: Node | null | undefined): boolean => !!n && file.qualifiedName(n) === 'os.environ';
  const setters = new Map((data[0]?.config?.cacheDirSetters ?? []).map((s) => [s.api, s]));
  const attributes = new Set(data[0]?.config?.cacheDirAttributes ?? []);
  const attributeNames = new Set([...attributes].map((a) => a.slice(a.lastIndexOf('.') + 1)));
  const modeCalls = new Map((data[0]?.config?.modeCalls ?? []).map((m) => [m.api, m]));
  const modeMethods = new Map((data[0]?.config?.modeMethods ?? []).map((m) => [m.method, m]));
  const umasks = new Set(data[0]?.config?.umaskCalls ?? []);
  const lastOf = (q: string): string => q.slice(q.lastIndexOf('.') + 1);
  const interesting = new Set([...PY_CACHE_CALLS, ...[...setters.keys()].map(lastOf), ...[...modeCalls.keys()].map(lastOf), ...modeMethods.keys(), ...[...umasks].map(lastOf)]);
  const modeChecks: (() => void)[] = [];

  // Settings first (they name the cache folders), then the mode calls. The assignments, then the calls
  // whose callee's last name is one of these (looked up once per file).
  // The left side's text is in the file's: a file that names neither `environ` nor an attribute has none.
  const assignments = ['environ', ...attributeNames].some((w) => ctx.text.includes(w)) ? file.assignmentInfos : [];
  for (const { node, left, right, leftType } of assignments) {
    if (!left || !right) continue;
    // Cheap text test first: resolving names walks scopes.
    if (leftType === 'subscript' && left.text.includes('environ') && isEnviron(left.childForFieldName('value'))) {
      const key = constantKey(left.childForFieldName('subscript'), file);
      for (const d of data) if (key && d.variables.has(key)) report(d, node, key, right);
    } else if (leftType === 'attribute' && attributeNames.has(left.childForFieldName('attribute')?.text ?? '')) {
      const q = file.qualifiedName(left);
      for (const d of data) if (q && attributes.has(q)) report(d, node, q, right);
    }
  }
  for (const { call: node, fn, last } of file.callsNamed(interesting)) {
    if (!fn || !last) continue;
    const api = file.qualifiedName(fn);
    const args = file.positionalArgs(node);
    if (api === 'os.environ.setdefault' || api === 'os.putenv' || api === 'os.environ.__setitem__' || (last === 'setenv' && fn.type === 'attribute')) {
      // os.environ.setdefault(K, v), os.putenv(K, v), monkeypatch.setenv(K, v)
      const key = constantKey(args[0], file);
      for (const d of data) if (key && d.variables.has(key) && args[1]) report(d, node, key, args[1]);
    } else if (api === 'os.environ.update' || api === 'builtins.dict') {
      // os.environ.update({K: v}) / update(K=v); dict(os.environ, K=v) for a child process. Reported on the
      // call, where the editor's per-user rewrite looks for it.
      for (const a of node.childForFieldName('arguments')?.namedChildren ?? []) {
        if (a?.type === 'keyword_argument') {
          const name = a.childForFieldName('name')?.text;
          const v = a.childForFieldName('value');
          for (const d of data) if (name && v && d.variables.has(name)) report(d, node, name, v);
        } else if (a?.type === 'dictionary' && api === 'os.environ.update') {
          for (const p of a.namedChildren) {
            const key = constantKey(p?.childForFieldName('key'), file);
            const v = p?.childForFieldName('value');
            for (const d of data) if (p && key && v && d.variables.has(key)) report(d, node, key, v);
          }
        }
      }
    } else if (api && /(^|\.)config\.update$/.test(api) && api.startsWith('jax')) {
      const key = constantKey(args[0], file);
      for (const d of data) if (key && d.configKeys.has(key) && args[1]) report(d, node, key, args[1]);
    } else if (api && setters.has(api)) {
      const s = setters.get(api)!;
      const v = (s.arg !== undefined ? args[s.arg] : undefined) ?? (s.keyword ? file.keywordArg(node, s.keyword) : undefined);
      for (const d of data) if (v) report(d, node, s.setting, v);
    } else modeChecks.push(() => pythonMode(node, fn, api, args, last));
  }
  // {**os.environ, "TRITON_CACHE_DIR": "/tmp/x"}, env={…}, child_env = {…}: an environment for a child
  // process. Other dicts that merely name the variables (a table of folder names) are not settings.
  if (data.some((d) => [...d.variables].some((v) => ctx.text.includes(v)))) {
    for (const dict of tree.rootNode.descendantsOfType('dictionary')) {
      if (!dict || !isEnvironmentDict(dict)) continue;
      for (const p of dict.namedChildren) {
        if (p?.type !== 'pair') continue;
        const key = constantKey(p.childForFieldName('key'), file);
        const v = p.childForFieldName('value');
        for (const d of data) if (key && v && d.variables.has(key)) report(d, p, key, v);
      }
    }
  }

  function isEnvironmentDict(dict: Node): boolean {
    if (dict.namedChildren.some((c) => c?.type === 'dictionary_splat' && isEnviron(c.namedChildren[0]))) return true;
    const parent = dict.parent;
    if (parent?.type === 'keyword_argument') return /^env/.test(parent.childForFieldName('name')?.text ?? '');
    if (parent?.type === 'assignment') return /env/i.test(parent.childForFieldName('left')?.text ?? '');
    return false;
  }

  function pythonMode(node: Node, fn: Node, api: string | undefined, args: Node[], last: string): void {
    for (const d of data) {
      if (api && umasks.has(api)) {
        const mask = modeValue(args[0], file);
        const found = mask !== undefined && d.jitTools?.test(ctx.text) ? umaskFinding(mask, node.text) : undefined;
        if (found) emit.mode(d, at(node), { ...found, api, value: octal(mask!) });
        continue;
      }
      const call = api ? modeCalls.get(api) : undefined;
      const method = !call && fn.type === 'attribute' && !(api ?? '').startsWith('os.') ? modeMethods.get(last) : undefined;
      if (!call && !method) continue;
      const modeNode = args[(call ?? method)!.mode] ?? ((call ?? method)!.modeKeyword ? file.keywordArg(node, (call ?? method)!.modeKeyword!) : undefined);
      const pathNode = call ? args[call.path] : (fn.childForFieldName('object') ?? undefined);
      const mode = modeValue(modeNode, file);
      if (mode === undefined || !pathNode) continue;
      const cls = writableClass(mode);
      const folder = cls ? cacheFolderOf(pathNode, file, d, cacheNames) : undefined;
      if (!cls || !folder) continue;
      const verb = /mkdir|makedirs/.test(last) ? `\`${api ?? `.${last}`}()\` creates` : `\`${api ?? `.${last}`}()\` sets`;
      emit.mode(d, at(node), { ...modeFinding(cls, verb, folder, octal(mode)), api: api ?? `.${last}`, value: octal(mode) });
    }
  }
  for (const run of modeChecks) run();
}

function checkJavaScriptCache(ctx: CheckContext, tree: Tree, data: CacheRuleData[], emit: Emit): void {
  const file = JavaScriptFile.of(tree, ctx.catalog.sources.javascript ?? { calls: [], attributes: [] });
  const at = (n: Node): At => ({ start: n.startIndex, end: n.endIndex, nodeType: n.type, scope: scopeNames(n) });
  const cacheNames = new Set<string>();
  const report = (d: CacheRuleData, node: Node, key: string, value: Node): void => {
    if (value.type === 'identifier') cacheNames.add(value.text);
    const where = placeOfValue(value, file, d);
    if (where) emit.setting(d, at(node), key, value.text, where);
  };
  const isProcessEnv = (n: Node | null | undefined): boolean => !!n && file.qualifiedName(n) === 'process.env';
  // A left side that names `env` is in the file's text: without it, no tree walk.
  for (const node of ctx.text.includes('env') ? tree.rootNode.descendantsOfType('assignment_expression') : []) {
    const left = node?.childForFieldName('left');
    const right = node?.childForFieldName('right');
    if (!node || !left || !right || !left.text.includes('env') || !isProcessEnv(left.childForFieldName('object'))) continue;
    const key = left.type === 'member_expression' ? left.childForFieldName('property')?.text : constantKey(left.childForFieldName('index'), file);
    for (const d of data) if (key && d.variables.has(key)) report(d, node, key, right);
  }
  // { env: { ...process.env, TRITON_CACHE_DIR: '/tmp/x' } }, Object.assign(process.env, { … }), const env = { … }:
  // an environment for a child process. Other objects that merely name the variables are not settings.
  const isEnvironmentObject = (obj: Node | null): boolean => {
    if (!obj || obj.type !== 'object') return false;
    if (obj.namedChildren.some((c) => c?.type === 'spread_element' && isProcessEnv(c.namedChildren[0]))) return true;
    const parent = obj.parent;
    if (parent?.type === 'pair') return /^env/.test(parent.childForFieldName('key')?.text ?? '');
    if (parent?.type === 'variable_declarator') return /env/i.test(parent.childForFieldName('name')?.text ?? '');
    if (parent?.type === 'arguments') {
      const call = parent.parent;
      return call?.type === 'call_expression' && /^Object\.assign$/.test(call.childForFieldName('function')?.text ?? '') && isProcessEnv(parent.namedChildren[0]);
    }
    return false;
  };
  if (data.some((d) => [...d.variables].some((v) => ctx.text.includes(v)))) {
    for (const pair of tree.rootNode.descendantsOfType('pair')) {
      if (!isEnvironmentObject(pair?.parent ?? null)) continue;
      const key = constantKey(pair?.childForFieldName('key'), file);
      const value = pair?.childForFieldName('value');
      for (const d of data) if (pair && key && value && d.variables.has(key)) report(d, pair, key, value);
    }
  }
  const cfg = data[0]?.config;
  if (!cfg) return;
  const modeCalls = new Map(cfg.modeCalls.map((m) => [m.api, m]));
  const umasks = new Set(cfg.umaskCalls);
  const lastNames = new Set([...modeCalls.keys(), ...umasks].map((q) => q.slice(q.lastIndexOf('.') + 1)));
  for (const { call, callType, fn, last } of file.callsNamed(lastNames)) {
    if (callType !== 'call_expression' || !fn || !last) continue;
    const api = file.qualifiedName(fn);
    if (!api) continue;
    const args = file.positionalArgs(call);
    for (const d of data) {
      if (umasks.has(api)) {
        const mask = modeValue(args[0], file);
        const found = mask !== undefined && d.jitTools?.test(ctx.text) ? umaskFinding(mask, call.text) : undefined;
        if (found) emit.mode(d, at(call), { ...found, api, value: octal(mask!) });
        continue;
      }
      const spec = modeCalls.get(api);
      if (!spec) continue;
      let modeNode: Node | undefined = args[spec.mode];
      if (modeNode?.type === 'object' && spec.modeProperty) modeNode = file.propertyOf(modeNode, spec.modeProperty) ?? undefined;
      const mode = modeValue(modeNode, file);
      const pathNode = args[spec.path];
      const cls = mode !== undefined ? writableClass(mode) : 0;
      const folder = cls && pathNode ? cacheFolderOf(pathNode, file, d, cacheNames) : undefined;
      if (!cls || !folder) continue;
      const verb = /mkdir/.test(api) ? `\`${api}()\` creates` : `\`${api}()\` sets`;
      emit.mode(d, at(call), { ...modeFinding(cls, verb, folder, octal(mode!)), api, value: octal(mode!) });
    }
  }
}

// ---- shell, Dockerfile, .env, YAML -------------------------------------------------------------------

/** `777`, `0777`, `1777` → the number; `a+w`, `o+rwx`, `g+w,o-w`, `ugo=rwx` → the write bits they add. */
export function shellMode(text: string): number | undefined {
  const t = unquote(text);
  if (/^[0-7]{3,4}$/.test(t)) return parseInt(t, 8);
  let bits = 0;
  let matched = false;
  for (const clause of t.split(',')) {
    const m = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(clause);
    if (!m) return undefined;
    matched = true;
    if (m[2] === '-' || !m[3]!.includes('w')) continue;
    // No `who` means all, less the umask: group and others usually keep no write bit that way.
    const who = m[1] || '';
    if (/[ao]/.test(who)) bits |= 0o002;
    if (/[ag]/.test(who)) bits |= 0o020;
  }
  return matched ? bits : undefined;
}

function shellArgs(cmd: Node): Node[] {
  return cmd.childrenForFieldName('argument').filter((a): a is Node => !!a);
}

/** Whether a shell word names a JIT cache folder: a cache variable, a variable set to one, or a cache-like path. */
function shellCacheFolder(word: string, d: CacheRuleData, cacheShellVars: Set<string>, cacheFolders: Set<string>): string | undefined {
  const path = unquote(word).replace(/\/+$/, '');
  if ([...cacheFolders].some((f) => path === f.replace(/\/+$/, ''))) return `\`${path}\`, which this file makes a JIT cache`;
  for (const m of word.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (d.variables.has(m[1]!)) return `named by \`${m[1]}\``;
    if (cacheShellVars.has(m[1]!)) return `\`${word}\`, which this script makes a JIT cache`;
  }
  const plain = unquote(word).replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, '');
  return d.dirNames.some((re) => re.test(plain)) ? `\`${unquote(word)}\`` : undefined;
}

const DOCKER_LIKE = new Set(['docker', 'podman', 'nerdctl']);

/**
 * Shell: cache variables set (assignments, `export`, `env K=v`, `docker run -e K=v`, `echo K=v >> $GITHUB_ENV`),
 * cache folders opened by `chmod`/`mkdir -m`/`install -d -m`, and `umask`. `context` is the whole file (a
 * Dockerfile's RUN is one script of it); `folders` are paths other parts of the file made caches.
 */
function checkShellTree(tree: Tree, base: number, context: string, data: CacheRuleData[], emit: Emit, folders = new Set<string>()): void {
  const at = (n: Node): At => ({ start: base + n.startIndex, end: base + n.endIndex, nodeType: n.type, scope: [] });
  /** Shell variables used in a cache variable's value (`export TRITON_CACHE_DIR=$CACHE` makes CACHE a cache folder). */
  const cacheShellVars = new Set<string>();
  const cacheFolders = new Set(folders);
  const setting = (d: CacheRuleData, node: Node, name: string, raw: string): void => {
    if (!d.variables.has(name)) return;
    for (const m of raw.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) cacheShellVars.add(m[1]!);
    if (!raw.includes('$')) cacheFolders.add(unquote(raw));
    const where = literalPlace(raw, d);
    if (where) emit.setting(d, at(node), name, unquote(raw), where);
  };
  for (const node of tree.rootNode.descendantsOfType('variable_assignment')) {
    const name = node?.childForFieldName('name')?.text;
    const value = node?.childForFieldName('value');
    if (!node || !name || !value) continue;
    const target = node.parent?.type === 'declaration_command' ? node.parent : node;
    for (const d of data) setting(d, target, name, value.text);
  }
  for (const cmd of tree.rootNode.descendantsOfType('command')) {
    if (!cmd) continue;
    const name = cmd.childForFieldName('name')?.text ?? '';
    const args = shellArgs(cmd);
    const words = args.map((a) => a.text);
    for (const d of data) {
      if (name === 'env' || DOCKER_LIKE.has(name) || name === 'echo' || name === 'printf') {
        // env K=v cmd; docker run -e K=v / --env K=v / --env=K=v; echo "K=v" >> $GITHUB_ENV
        const toGithubEnv = (name === 'echo' || name === 'printf') && cmd.parent?.type === 'redirected_statement' && /GITHUB_ENV/.test(cmd.parent.text);
        words.forEach((w, i) => {
          let pair = unquote(w);
          if (DOCKER_LIKE.has(name)) {
            if (/^--env=/.test(pair)) pair = pair.slice('--env='.length);
            else if (!(i > 0 && (words[i - 1] === '-e' || words[i - 1] === '--env'))) return;
          } else if (name !== 'env' && !toGithubEnv) return;
          const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
          if (m) setting(d, args[i]!, m[1]!, m[2]!);
        });
      }
    }
  }
  for (const cmd of tree.rootNode.descendantsOfType('command')) {
    if (!cmd) continue;
    const name = cmd.childForFieldName('name')?.text ?? '';
    const words = shellArgs(cmd).map((a) => a.text);
    for (const d of data) {
      if (name === 'umask') {
        const mask = words[0] && /^[0-7]{1,4}$/.test(words[0]) ? parseInt(words[0], 8) : undefined;
        const found = mask !== undefined && d.jitTools?.test(context) ? umaskFinding(mask, cmd.text) : undefined;
        if (found) emit.mode(d, at(cmd), { ...found, api: 'umask', value: octal(mask!) });
        continue;
      }
      let mode: number | undefined;
      let targets: string[] = [];
      if (name === 'chmod') {
        const rest = words.filter((w) => !/^-[A-Za-z]+$|^--[a-z-]+$/.test(w));
        mode = rest[0] !== undefined ? shellMode(rest[0]) : undefined;
        targets = rest.slice(1);
      } else if (name === 'mkdir' || name === 'install') {
        const i = words.findIndex((w) => w === '-m' || w === '--mode' || /^--mode=/.test(w) || /^-[A-Za-z]*m[0-7]+$/.test(w));
        if (i < 0 || (name === 'install' && !words.includes('-d'))) continue;
        const w = words[i]!;
        mode = shellMode(w.startsWith('--mode=') ? w.slice(7) : /^-[A-Za-z]*m([0-7]+)$/.exec(w)?.[1] ?? words[i + 1] ?? '');
        targets = words.filter((x, j) => j !== i && j !== i + 1 && !x.startsWith('-'));
      } else continue;
      const cls = mode !== undefined ? writableClass(mode) : 0;
      if (!cls) continue;
      const folder = targets.map((t) => shellCacheFolder(t, d, cacheShellVars, cacheFolders)).find((f): f is string => !!f);
      if (!folder) continue;
      const shown = name === 'chmod' ? (words.find((w) => shellMode(w) !== undefined) ?? octal(mode!)) : octal(mode!);
      emit.mode(d, at(cmd), { ...modeFinding(cls, `\`${name}\` ${name === 'chmod' ? 'opens' : 'creates'}`, folder, shown), api: name, value: shown });
    }
  }
}

async function checkShellText(text: string, base: number, context: string, data: CacheRuleData[], emit: Emit, folders?: Set<string>): Promise<void> {
  await withShellTree(text, (tree) => checkShellTree(tree, base, context, data, emit, folders));
}

async function checkDockerfile(ctx: CheckContext, data: CacheRuleData[], emit: Emit): Promise<void> {
  const instructions = dockerInstructions(ctx.text);
  // Folders that an ENV makes a cache: `RUN chmod -R 777 /opt/triton` is about that cache.
  const envFolders = new Set<string>();
  for (const ins of instructions) {
    if (ins.keyword !== 'ENV') continue;
    for (const { name, raw } of dockerEnvPairs(ins)) if (data.some((d) => d.variables.has(name))) envFolders.add(unquote(raw));
  }
  for (const ins of instructions) {
    if (ins.keyword === 'ENV') {
      // Reported on the whole instruction: the editor's rewrite for ENV works on it.
      for (const { name, raw } of dockerEnvPairs(ins)) {
        for (const d of data) {
          const where = d.variables.has(name) ? literalPlace(raw, d) : undefined;
          if (where) emit.setting(d, { start: ins.start, end: ins.end, nodeType: 'env_instruction', scope: [] }, name, unquote(raw), where);
        }
      }
    } else if (ins.keyword === 'RUN') {
      // The whole file is the script's context: a RUN chmod of a folder an ENV made a cache is about that cache.
      await checkShellText(ins.args, ins.argsOffset, ctx.text, data, emit, envFolders);
    }
  }
}

function checkDotenv(ctx: CheckContext, data: CacheRuleData[], emit: Emit): void {
  const re = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*?)[ \t]*\r?$/gm;
  for (let m = re.exec(ctx.text); m; m = re.exec(ctx.text)) {
    for (const d of data) {
      const raw = m[2]!.replace(/\s+#.*$/, '');
      const where = d.variables.has(m[1]!) ? literalPlace(raw, d) : undefined;
      const start = m.index + (m[0].length - m[0].trimStart().length);
      if (where) emit.setting(d, { start, end: m.index + m[0].trimEnd().length, nodeType: 'dotenv_assignment', scope: [] }, m[1]!, unquote(raw), where);
    }
  }
}

async function checkYaml(ctx: CheckContext, tree: Tree, data: CacheRuleData[], emit: Emit): Promise<void> {
  const folders = new Set<string>();
  const { settings, scripts } = yamlEnvironment(tree);
  for (const s of settings) {
    for (const d of data) {
      const where = d.variables.has(s.name) ? literalPlace(s.value.text, d) : undefined;
      if (where) emit.setting(d, { start: s.at.startIndex, end: s.at.endIndex, nodeType: s.at.type, scope: [] }, s.name, s.value.text, where);
      if (d.variables.has(s.name) && !s.value.text.includes('$')) folders.add(s.value.text);
    }
  }
  // CI steps and container commands are shell: `export`, `chmod`, `mkdir -m`, `umask` in them count too.
  const variables = [...new Set(data.flatMap((d) => [...d.variables]))];
  for (const s of scripts) {
    if (!/\b(chmod|mkdir|install|umask|export|env|docker|podman|echo|printf)\b|=/.test(s.text)) continue;
    if (!variables.some((v) => s.text.includes(v)) && !/\b(chmod|mkdir|install|umask)\b/.test(s.text)) continue;
    await checkShellText(s.text, s.start, ctx.text, data, emit, folders);
  }
}

export async function checkCacheConfig(ctx: CheckContext): Promise<void> {
  const data = cacheRules(ctx);
  if (data.length === 0) return;
  const emit = makeEmitter(ctx);
  const family = languageFamily(ctx.lang);
  if (family === 'python' && ctx.tree) checkPythonCache(ctx, ctx.tree, data, emit);
  else if (family === 'javascript' && ctx.tree) checkJavaScriptCache(ctx, ctx.tree, data, emit);
  else if (ctx.lang === 'shell' && ctx.tree) checkShellTree(ctx.tree, 0, ctx.text, data, emit);
  else if (ctx.lang === 'yaml' && ctx.tree) await checkYaml(ctx, ctx.tree, data, emit);
  else if (ctx.lang === 'dockerfile') await checkDockerfile(ctx, data, emit);
  else if (ctx.lang === 'dotenv') checkDotenv(ctx, data, emit);
}
