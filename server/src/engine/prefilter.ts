// The scan's fast pre-filter: a literal search, over a file's text, for the names a finding cannot do without
// (sink names, cache variables, loader and cache-folder words), all taken from the rule data. A file with none
// of them is not parsed: no check could fire on it.
import { loadCacheKinds, type LoadingConfig } from './cacheTrees';
import type { LanguageId } from './finding';
import type { Catalog, RuleCard, SinkContext, SinkSpec } from './rules/catalog';

/**
 * Why each name is needed, finding kind by finding kind (checks/ read the same data):
 * - a sink call (dynamicCode.ts) resolves only callees whose name is a sink's last segment or an alias bound
 *   by text that holds that segment (`candidateNames`); subscripts and calls of calls name it in a string; in
 *   Python the file must also name the sink's module, or write a builtin as a name (`Gate` below);
 * - a cache setting (cacheConfig.ts, cacheLoading.ts) names its variable, config key or config attribute;
 * - a loader call names the loader; an archive extracted into a cache names the cache by a variable, a
 *   cache-folder call or a folder pattern, whose longest literal word is required;
 * - cache folders created or opened up for others (the rule's permission side) go through these calls.
 */
const PERMISSION_WORDS = ['chmod', 'umask', 'mkdir', 'makedirs'];

/** Rule-card fields that are prose or metadata: they never make a check fire. */
const PROSE_FIELDS = new Set([
  'id', 'category', 'severity', 'title', 'cwe', 'owaspLlm', 'fpRisk', 'owner', 'releaseDecision', 'fixHint', 'description',
  'whyItMatters', 'whenItFires', 'evidenceFormat', 'falsePositiveNotes', 'howToFix', 'retest', 'helpUri', 'examples', 'related',
]);
/** Rule-card fields the pre-filter reads (`sharedPathPrefixes`/`sharedPathCalls` only qualify a cache variable's value). */
const DATA_FIELDS = new Set(['sinks', 'kernelMarkers', 'cacheVariables', 'cacheConfigKeys', 'sharedPathPrefixes', 'sharedPathCalls']);
/** cache-kinds.yml `loading` keys that only qualify something a required name already selected. */
const LOADING_QUALIFIERS = new Set<keyof LoadingConfig>([
  'downloadCalls', 'localHosts', 'defaultCacheManagers', 'extractCalls', 'extractCommands', 'downloadCommands', 'archiveSuffixes',
]);
const LOADING_REQUIRED = new Set<keyof LoadingConfig>([
  'loaders', 'remoteCacheSwitches', 'remoteCacheConfig', 'remoteHostVariables', 'remoteUrlVariables', 'cacheManagerVariables',
  'cacheDirPatterns', 'cacheDirCalls',
]);

export interface Prefilter {
  /** False only when no rule can fire on `text`; true when it may (the file must be analysed). */
  mayFire(text: string, lang: LanguageId): boolean;
  /** The names searched for (word-bounded) and the fragments (anywhere). */
  words: string[];
  fragments: string[];
  /** Set when the rule data holds something the pre-filter does not understand: it then lets every file through. */
  open?: string;
}

function lastSegment(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The longest word ([A-Za-z0-9_]+) every match of `pattern` must contain, or undefined. Only text outside
 * groups and character classes counts, and a character a quantifier makes optional ends the word.
 */
export function requiredWord(pattern: string): string | undefined {
  let depth = 0;
  let best = '';
  let run = '';
  const flush = (): void => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      flush();
      i++;
      continue;
    }
    if (c === '[') {
      flush();
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      continue;
    }
    if (c === '(') {
      flush();
      depth++;
      continue;
    }
    if (c === ')') {
      depth--;
      continue;
    }
    if (c === '|' && depth === 0) return undefined; // an alternative at the top: nothing is required
    if (depth > 0) continue;
    if ('?*{'.includes(c)) {
      run = run.slice(0, -1); // the character before is optional
      flush();
      continue;
    }
    if (/\w/.test(c)) run += c;
    else flush();
  }
  flush();
  return best.length >= 3 ? best : undefined;
}

/**
 * A name a Python file needs only under a condition (the word itself must be there too). In Python a call
 * resolves to a qualified API `a.b.W` only through checks/python.ts `qualifiedName`, whose names come from the
 * file's import statements (`import a.b as x`, `from a.b import W as X`, each spelling out the module `a`), from
 * builtins (`W` unbound and a builtin: `builtins.W`; `builtins.W` and `__builtins__.W`), and from aliases
 * assigned from those (`X = W`, `X = a.b.W`). So the file names the root module `a`, or, for a builtin, writes W
 * as a name (not right after a `.`) or names `builtins`/`__builtins__`. A `method` sink whose sink-context entry
 * (dynamicCode.ts contextHolds) has `requiresImport` needs one of those modules' root names; one with
 * `receiverFrom` and no `receiverInclude` needs a receiver made by one of those calls, whose last name is then
 * written in the file.
 */
interface Gate {
  /** Any occurrence of the word suffices (conditions in `allOf` may still be required). */
  anywhere: boolean;
  /** An occurrence as a plain name (not `x.W`) suffices. */
  direct: boolean;
  /** Words of which one, present, lets any occurrence count. */
  roots: string[];
  /** Each entry: one of these words must be present too (sink-context conditions). */
  allOf: string[][];
}

interface Needed {
  /** Words any file may need (cache variables, loaders); sink names by the language they are sinks in. */
  words: Set<string>;
  sinkWords: Map<LanguageId, Set<string>>;
  /** Python names needed only under a condition, each with the conditions of every entry it comes from. */
  pythonGates: Map<string, Gate[]>;
  /** Words every language but Python needs (Python has a gate for each). */
  otherWords: Set<string>;
  fragments: Set<string>;
  unknown: string[];
}

/** What python.ts qualifiedName gives for an unbound builtin name, and the spellings it resolves to it. */
const PYTHON_BUILTINS_MODULE = 'builtins';
const PYTHON_BUILTINS_ROOTS = ['builtins', '__builtins__'];

/** sink-context.yml fields, by what they do: a condition the pre-filter reads, or one it may ignore (it only narrows). */
const CONTEXT_READ = new Set(['languages', 'api', 'method', 'requiresImport', 'receiverFrom', 'receiverInclude']);
const CONTEXT_NARROWING = new Set(['receiverExclude', 'codeFrom']);

/** What the sink-context entries of `spec` require of a Python file's text (each inner list: one word of it). */
function contextWords(spec: SinkSpec, contexts: SinkContext[]): string[][] {
  const out: string[][] = [];
  for (const c of contexts) {
    if (!c.languages.includes('python') || !((spec.api && c.api === spec.api) || (spec.method && c.method === spec.method))) continue;
    // A field the pre-filter does not know might widen what the entry admits: the entry is then not read at all.
    if (Object.keys(c).some((k) => !CONTEXT_READ.has(k) && !CONTEXT_NARROWING.has(k))) continue;
    if (c.requiresImport?.length) out.push([...new Set(c.requiresImport.map((m) => m.split('.')[0]!))]);
    if (c.receiverFrom?.length && !c.receiverInclude) {
      const lasts = c.receiverFrom.map(lastSegment);
      if (lasts.every((w) => /^\w+$/.test(w))) out.push([...new Set(lasts)]);
    }
  }
  return out.filter((words) => words.every((w) => /^\w+$/.test(w)));
}

/** Adds the gate of one Python sink (or setter) named by qualified `api` or by `method`. */
function addPythonGate(needed: Needed, word: string, gate: Gate): void {
  const gates = needed.pythonGates.get(word) ?? [];
  gates.push(gate);
  needed.pythonGates.set(word, gates);
}

function pythonGate(spec: { api?: string; method?: string }, contexts: SinkContext[] | undefined): Gate {
  const allOf = contextWords(spec as SinkSpec, contexts ?? []);
  const segments = spec.api?.split('.') ?? [];
  if (segments.length < 2 || !segments.every((w) => /^\w+$/.test(w))) return { anywhere: true, direct: true, roots: [], allOf };
  if (segments[0] !== PYTHON_BUILTINS_MODULE) return { anywhere: false, direct: false, roots: [segments[0]!], allOf };
  // `builtins.W`: W itself as a name; `builtins.str.format`: the builtin `str` as a root.
  return { anywhere: false, direct: segments.length === 2, roots: [...PYTHON_BUILTINS_ROOTS, ...(segments.length > 2 ? [segments[1]!] : [])], allOf };
}

/** Names the rule cards require; `unknown` lists fields the pre-filter does not know. */
function fromRules(rules: RuleCard[], contexts: SinkContext[] | undefined, needed: Needed): void {
  for (const rule of rules) {
    for (const key of Object.keys(rule)) if (!PROSE_FIELDS.has(key) && !DATA_FIELDS.has(key)) needed.unknown.push(`${rule.id}.${key}`);
    for (const sink of rule.sinks ?? []) {
      const name = sink.api ?? sink.method;
      if (!name) {
        needed.unknown.push(`${rule.id}.sinks (an entry with neither api nor method)`);
        continue;
      }
      for (const lang of sink.languages) {
        if (lang === 'python' && /^\w+$/.test(lastSegment(name))) {
          addPythonGate(needed, lastSegment(name), pythonGate(sink, contexts));
          continue;
        }
        const set = needed.sinkWords.get(lang) ?? new Set<string>();
        set.add(lastSegment(name));
        needed.sinkWords.set(lang, set);
      }
    }
    for (const marker of rule.kernelMarkers ?? []) needed.fragments.add(marker);
    for (const v of [...(rule.cacheVariables ?? []), ...(rule.cacheConfigKeys ?? [])]) needed.words.add(v);
    if ((rule.cacheVariables?.length ?? 0) > 0) PERMISSION_WORDS.forEach((w) => needed.fragments.add(w));
  }
}

/** cache-kinds.yml sections that describe cache folders on disk (cacheTrees.ts), not source files. */
const CACHE_TREE_SECTIONS = new Set(['file', 'rule', 'codeRunning', 'kinds', 'archives', 'megaCache', 'generatedCode', 'loading', 'moduleLoading', 'config']);
/** cache-kinds.yml `config` keys whose calls, methods and attributes a cache-folder finding is made at. */
const CONFIG_REQUIRED = new Set(['cacheDirSetters', 'cacheDirAttributes', 'modeCalls', 'modeMethods', 'umaskCalls']);
/** `config` keys that only qualify a value or a file a required name already selected. */
const CONFIG_QUALIFIERS = new Set(['projectPathPrefixes', 'projectPathCalls', 'projectPathNames', 'cacheDirNames', 'jitTools']);

/** Names cache-kinds.yml's `config` section (cache folders set, created or opened up) requires. */
function fromConfig(config: unknown, needed: Needed): void {
  if (!config || typeof config !== 'object') return;
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    if (CONFIG_QUALIFIERS.has(key)) continue;
    if (!CONFIG_REQUIRED.has(key) || !Array.isArray(value)) {
      needed.unknown.push(`cache-kinds.yml config.${key}`);
      continue;
    }
    for (const item of value as unknown[]) {
      const name = typeof item === 'string' ? item : item && typeof item === 'object' ? ((item as { api?: unknown; method?: unknown }).api ?? (item as { method?: unknown }).method) : undefined;
      const last = typeof name === 'string' ? name.slice(Math.max(name.lastIndexOf('.'), name.lastIndexOf('/')) + 1) : '';
      if (!/^\w+$/.test(last)) {
        needed.unknown.push(`cache-kinds.yml config.${key}: an entry with no literal name`);
        continue;
      }
      // A setter is a Python call matched by its qualified name (cacheConfig.ts): gated there like a sink.
      if (key === 'cacheDirSetters' && typeof name === 'string' && typeof (item as { api?: unknown }).api === 'string') {
        addPythonGate(needed, last, pythonGate({ api: name }, undefined));
        needed.otherWords.add(last);
      } else needed.words.add(last);
    }
  }
}

/** The `api` names a section lists (`moduleLoading.images[].api`, …): each one's last name is required. */
function apisIn(section: unknown): string[] {
  if (!section || typeof section !== 'object') return [];
  const out: string[] = [];
  for (const value of Object.values(section as Record<string, unknown>)) {
    if (!Array.isArray(value)) continue;
    for (const item of value) if (item && typeof item === 'object' && typeof (item as { api?: unknown }).api === 'string') out.push((item as { api: string }).api);
  }
  return out;
}

/** Names cache-kinds.yml's `loading` section requires. */
function fromLoading(loading: LoadingConfig, needed: Needed): void {
  const { words, unknown } = needed;
  for (const key of Object.keys(loading) as (keyof LoadingConfig)[]) {
    if (!LOADING_QUALIFIERS.has(key) && !LOADING_REQUIRED.has(key)) unknown.push(`cache-kinds.yml loading.${key}`);
  }
  const names = [
    ...loading.loaders.map((l) => l.api),
    ...loading.remoteCacheConfig,
    ...loading.cacheDirCalls,
    ...loading.remoteCacheSwitches,
    ...loading.remoteHostVariables,
    ...loading.remoteUrlVariables,
    ...loading.cacheManagerVariables,
  ];
  for (const name of names) {
    const last = lastSegment(name);
    if (/^\w+$/.test(last)) words.add(last);
    else unknown.push(`cache-kinds.yml loading: '${name}' has no literal last name`);
  }
  for (const pattern of loading.cacheDirPatterns) {
    const word = requiredWord(pattern);
    if (word) words.add(word);
    else unknown.push(`cache-kinds.yml loading.cacheDirPatterns: '${pattern}' has no required word`);
  }
}

/** `\b(?:word|…)\b|fragment|…`, or a pattern that matches nothing. */
function anyOf(words: string[], fragments: string[]): RegExp {
  const alternatives = [...(words.length > 0 ? [`\\b(?:${words.map(escapeRegExp).join('|')})\\b`] : []), ...fragments.map(escapeRegExp)];
  // `\b` treats `$` as a boundary: `$TRITON_CACHE_DIR` matches, and so does `$eval` (a harmless extra file).
  return new RegExp(alternatives.length > 0 ? alternatives.join('|') : '[^\\s\\S]');
}

const wordSearches = new Map<string, RegExp>();

/** Whether `word` occurs in `text` as a whole word. */
function wordIn(text: string, word: string): boolean {
  let re = wordSearches.get(word);
  if (!re) {
    re = new RegExp(`\\b${escapeRegExp(word)}\\b`);
    wordSearches.set(word, re);
  }
  return re.test(text);
}

/**
 * Whether the name at `at` is an attribute (`x.W`, `f().W`, `x[0] . W`): a `.` before it on the same line,
 * itself after a name, a closing bracket or a string. Anything else (a dot at a line's start, `...`, a
 * line continuation) counts as a plain name, which only lets more files through.
 */
function afterDot(text: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
  if (text[i] !== '.') return false;
  i--;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
  return i >= 0 && /[\w)\]}'"]/.test(text[i]!);
}

const built = new WeakMap<Catalog, Prefilter>();

/** The pre-filter for a catalog (built once per catalog object). */
export function prefilterFor(catalog: Catalog): Prefilter {
  const cached = built.get(catalog);
  if (cached) return cached;
  const needed: Needed = { words: new Set(), sinkWords: new Map(), pythonGates: new Map(), otherWords: new Set(), fragments: new Set(), unknown: [] };
  fromRules(catalog.rules, catalog.sinkContexts, needed);
  try {
    const kinds = loadCacheKinds(catalog.dir, catalog);
    fromLoading(kinds.loading, needed);
    for (const key of Object.keys(kinds)) if (!CACHE_TREE_SECTIONS.has(key)) needed.unknown.push(`cache-kinds.yml ${key}`);
    // Module loads (cuModuleLoadData of a file's bytes) are reported at the loading call.
    for (const api of apisIn((kinds as unknown as Record<string, unknown>).moduleLoading)) needed.words.add(lastSegment(api));
    fromConfig((kinds as unknown as Record<string, unknown>).config, needed);
  } catch (err) {
    needed.unknown.push(`cache-kinds.yml: ${(err as Error).message}`);
  }
  const open = needed.unknown.length > 0 ? `the pre-filter does not know ${needed.unknown.join('; ')}` : undefined;
  // A gated word that is also needed unconditionally needs no gate.
  for (const word of needed.pythonGates.keys()) if (needed.words.has(word)) needed.pythonGates.delete(word);
  const searches = new Map<LanguageId, RegExp>();
  /** One regular expression per language: `\b(?:word|…)\b|fragment|…` (Python's gated words are searched apart). */
  const searchFor = (lang: LanguageId): RegExp => {
    let re = searches.get(lang);
    if (re) return re;
    const all = new Set([...needed.words, ...(needed.sinkWords.get(lang) ?? []), ...(lang === 'python' ? [] : needed.otherWords)]);
    // Names that are not plain words are searched for anywhere, which only lets more files through.
    const words = [...all].filter((w) => /^\w+$/.test(w)).sort();
    const fragments = [...new Set([...needed.fragments, ...[...all].filter((w) => !/^\w+$/.test(w))])].sort();
    re = anyOf(words, fragments);
    searches.set(lang, re);
    return re;
  };
  const gated = needed.pythonGates.size > 0 ? new RegExp(anyOf([...needed.pythonGates.keys()].sort(), []).source, 'g') : undefined;
  /** Whether a Python text meets the gate of one of the gated words it holds. */
  const gatesHold = (text: string): boolean => {
    if (!gated) return false;
    const direct = new Set<string>();
    const present = new Set<string>();
    gated.lastIndex = 0;
    for (let m = gated.exec(text); m; m = gated.exec(text)) {
      present.add(m[0]);
      if (!afterDot(text, m.index)) direct.add(m[0]);
    }
    const has = (w: string): boolean => wordIn(text, w);
    for (const word of present) {
      for (const gate of needed.pythonGates.get(word)!) {
        if ((gate.anywhere || (gate.direct && direct.has(word)) || gate.roots.some(has)) && gate.allOf.every((any) => any.some(has))) return true;
      }
    }
    return false;
  };
  const allSinkWords = new Set([...needed.sinkWords.values(), needed.pythonGates.keys(), needed.otherWords].flatMap((s) => [...s]));
  const filter: Prefilter = {
    words: [...new Set([...needed.words, ...allSinkWords])].sort(),
    fragments: [...needed.fragments].sort(),
    ...(open ? { open } : {}),
    mayFire(text: string, lang: LanguageId): boolean {
      // A notebook's code is JSON-escaped (`\nexec(`, `\u0065val`): it is decoded and analysed whole.
      if (open || lang === 'notebook') return true;
      return searchFor(lang).test(text) || (lang === 'python' && gatesHold(text));
    },
  };
  built.set(catalog, filter);
  return filter;
}
