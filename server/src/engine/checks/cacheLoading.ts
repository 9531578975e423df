// Cache poisoning from the loading side: code that makes a process load compiled artifacts from elsewhere
// (load_cache_artifacts of a non-constant blob, remote cache switches and hosts, cache-manager overrides,
// archives extracted into a cache folder) in Python, shell, Dockerfiles, YAML and .env files; and in CUDA C++,
// compiled GPU modules loaded from a path that is not fixed (checks/cuda.ts).
import type { Node, Tree } from 'web-tree-sitter';
import { loadCacheKinds, type LoadingConfig, nameMatcher, type NameMatcher } from '../cacheTrees';
import type { Confidence } from '../finding';
import { languageFamily } from '../languages';
import type { RuleCard } from '../rules/catalog';
import { type CheckContext, type FindingSpot, rawFindingAt, rawTraceFrom, scopeNames } from './context';
import { checkModuleLoads } from './cuda';
import { ExpressionReasoner, snippetOf } from './expressions';
import { PythonFile } from './python';
import { dockerEnvPairs, dockerInstructions, unquote, withShellTree, yamlEnvironment } from './yamlScalars';

interface LoadingData {
  rule: RuleCard;
  cfg: LoadingConfig;
  switches: Set<string>;
  hosts: Set<string>;
  urls: Set<string>;
  managers: Set<string>;
  defaultManagers: Set<string>;
  localHosts: Set<string>;
  /** The rule card's cache variables: a path built from one of them is a cache folder. */
  cacheVariables: Set<string>;
  dirPatterns: RegExp[];
  sharedPrefixes: string[];
  downloads: NameMatcher;
  cacheDirCalls: NameMatcher;
  remoteConfig: Set<string>;
}

function loadingData(ctx: CheckContext): LoadingData | undefined {
  const kinds = loadCacheKinds(ctx.catalog.dir, ctx.catalog);
  const rule = ctx.enabled.get(kinds.rule);
  if (!rule) return undefined;
  const cfg = kinds.loading;
  return {
    rule,
    cfg,
    switches: new Set(cfg.remoteCacheSwitches),
    hosts: new Set(cfg.remoteHostVariables),
    urls: new Set(cfg.remoteUrlVariables),
    managers: new Set(cfg.cacheManagerVariables),
    defaultManagers: new Set(cfg.defaultCacheManagers),
    localHosts: new Set(cfg.localHosts.map((h) => h.toLowerCase())),
    cacheVariables: new Set(rule.cacheVariables ?? []),
    dirPatterns: cfg.cacheDirPatterns.map((p) => new RegExp(p)),
    sharedPrefixes: rule.sharedPathPrefixes ?? [],
    downloads: nameMatcher(cfg.downloadCalls),
    cacheDirCalls: nameMatcher(cfg.cacheDirCalls),
    remoteConfig: new Set(cfg.remoteCacheConfig),
  };
}

/**
 * `setting` is reported as the finding's `api`, not its `variable`: editors offer the per-user cache folder
 * rewrite to config findings that carry a `variable`, and a Redis host or a cache manager is no folder.
 */
interface Emit {
  (at: FindingSpot, what: { signal: string; confidence: Confidence; setting?: string; value?: string; api?: string; trace?: ReturnType<typeof rawTraceFrom> }): void;
}

function emitter(ctx: CheckContext, data: LoadingData): Emit {
  return (at, what) =>
    ctx.emit({
      ...rawFindingAt(data.rule.id, at, what.signal, what.confidence),
      ...(what.value !== undefined ? { value: what.value } : {}),
      ...(what.api ?? what.setting ? { api: what.api ?? what.setting } : {}),
      ...(what.trace ? { trace: what.trace } : {}),
    });
}

function isLocalHost(host: string, data: LoadingData): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return data.localHosts.has(h) || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** A value as the settings see it: literal text, or a description of where a non-literal comes from. */
type SettingValue = { literal: string } | { dynamic: string; high?: boolean; trace?: ReturnType<typeof rawTraceFrom> };

/** What setting `name` to `value` means for the cache, or undefined when it is harmless. */
function judgeSetting(name: string, value: SettingValue, data: LoadingData): { signal: string; confidence: Confidence; value: string } | undefined {
  const shown = 'literal' in value ? value.literal : value.dynamic;
  if (data.switches.has(name)) {
    if (!('literal' in value) || !/^(1|true|yes|on)$/i.test(value.literal.trim())) return undefined;
    return {
      signal: `\`${name}=${value.literal}\` turns on torch's remote compiled-graph cache: entries are fetched from Redis (TORCHINDUCTOR_REDIS_HOST, by default localhost) without authentication and loaded as compiled code, so whoever can write that Redis runs code in this process`,
      confidence: 'medium',
      value: value.literal,
    };
  }
  if (data.hosts.has(name)) {
    if ('literal' in value) {
      if (isLocalHost(value.literal, data) || value.literal.trim() === '') return undefined;
      return {
        signal: `\`${name}\` points the remote compiled-code cache at \`${value.literal}\`, another machine: host/port settings carry no authentication, so whoever can write that Redis runs code in every process that loads from it`,
        confidence: 'medium',
        value: value.literal,
      };
    }
    return {
      signal: `\`${name}\` is set from ${value.dynamic}, which may name any host: host/port settings carry no authentication, so whoever can write that Redis runs code in every process that loads from it`,
      confidence: value.high ? 'high' : 'medium',
      value: shown,
    };
  }
  if (data.urls.has(name)) {
    if (!('literal' in value)) return undefined;
    const m = /^[a-z][a-z0-9+.-]*:\/\/(?:([^@/]*)@)?(\[[^\]]+\]|[^:/?#]*)/i.exec(value.literal.trim());
    if (!m) return undefined;
    const credentials = m[1] ?? '';
    if (isLocalHost(m[2] ?? '', data) || credentials.includes(':')) return undefined;
    return {
      signal: `\`${name}\` points the remote compiled-code cache at \`${m[2]}\` without credentials: whoever can write that Redis runs code in every process that loads from it`,
      confidence: 'medium',
      value: value.literal,
    };
  }
  if (data.managers.has(name)) {
    if ('literal' in value && (data.defaultManagers.has(value.literal.trim()) || value.literal.trim() === '')) return undefined;
    const remote = /remote|redis/i.test(shown);
    return {
      signal: `\`${name}\` replaces Triton's cache with \`${shown}\`: that code decides which compiled kernels are loaded${remote ? ', here from a remote store' : ''}, and it runs inside the compiler`,
      confidence: 'literal' in value ? 'medium' : value.high ? 'high' : 'medium',
      value: shown,
    };
  }
  return undefined;
}

function watchedVariable(name: string, data: LoadingData): boolean {
  return data.switches.has(name) || data.hosts.has(name) || data.urls.has(name) || data.managers.has(name);
}

/** Whether a path text names a compiled cache: a cache variable (`$TRITON_CACHE_DIR`) or a known cache folder. */
function cacheDestination(text: string, data: LoadingData): string | undefined {
  for (const m of text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) if (data.cacheVariables.has(m[1]!)) return `$${m[1]}`;
  const normal = unquote(text).replace(/\\/g, '/');
  for (const re of data.dirPatterns) if (re.test(normal)) return normal;
  return undefined;
}

// ---- Python -----------------------------------------------------------------------------------------------

interface Collected {
  strings: string[];
  calls: string[];
}

/** String literals and callees an expression is built from, following local names to their assigned values. */
function collect(node: Node, file: PythonFile, depth = 0, seen = new Set<number>(), out: Collected = { strings: [], calls: [] }): Collected {
  if (depth > 8 || seen.has(node.id)) return out;
  seen.add(node.id);
  const visit = (n: Node): void => {
    if (n.type === 'string') {
      const own = file.ownLiteralText(n);
      if (own !== undefined) out.strings.push(...own.split('\u0000'));
    } else if (n.type === 'call') {
      const fn = n.childForFieldName('function');
      const api = fn ? file.qualifiedName(fn) : undefined;
      if (api) out.calls.push(api);
    } else if (n.type === 'identifier') {
      for (const b of file.bindingsOf(n)) if (b.kind === 'assign' || b.kind === 'augassign') collect(b.value, file, depth + 1, seen, out);
    }
    for (const c of n.namedChildren) if (c) visit(c);
  };
  visit(node);
  return out;
}

function sharedPrefixOf(value: string, prefixes: string[]): string | undefined {
  const v = value.replace(/^file:\/\//, '');
  return prefixes.find((p) => v === p || v.startsWith(`${p}/`) || v.startsWith(`${p}\\`));
}

function pythonCacheDestination(node: Node, file: PythonFile, data: LoadingData): string | undefined {
  const c = collect(node, file);
  const variable = c.strings.find((s) => data.cacheVariables.has(s));
  if (variable) return variable;
  const call = c.calls.find((api) => data.cacheDirCalls(api));
  if (call) return `${call}()`;
  return c.strings.find((s) => data.dirPatterns.some((re) => re.test(s.replace(/\\/g, '/'))));
}

/** The last names of the Python calls this check looks at: everything else is skipped before resolving names. */
const PY_SETTING_CALLS = ['setdefault', 'putenv', '__setitem__', 'update', 'patch'];

function checkPython(ctx: CheckContext, tree: Tree, data: LoadingData, emit: Emit): void {
  const file = PythonFile.of(tree, ctx.catalog.sources.python ?? { calls: [], attributes: [] });
  const reason = new ExpressionReasoner(file);
  const at = (n: Node) => ({ start: n.startIndex, end: n.endIndex, nodeType: n.type, scope: scopeNames(n) });
  const valueOf = (v: Node): SettingValue => {
    if (reason.isConstant(v)) return { literal: reason.literalText(v) };
    const hops = reason.traceSource(v);
    if (hops) return { dynamic: `\`${snippetOf(v, 60)}\`, ${hops[0]!.note}`, high: true, trace: rawTraceFrom(hops) };
    return { dynamic: reason.explain(v) };
  };
  const setting = (node: Node, name: string, v: Node): void => {
    if (!watchedVariable(name, data)) return;
    const value = valueOf(v);
    const judged = judgeSetting(name, value, data);
    if (judged) emit(at(node), { ...judged, setting: name, ...('trace' in value && value.trace ? { trace: value.trace } : {}) });
  };
  const constantKey = (n: Node | null | undefined): string | undefined => {
    if (!n) return undefined;
    const own = file.ownLiteralText(n);
    return own !== undefined && !own.includes('\u0000') ? own : undefined;
  };
  const isEnviron = (n: Node | null | undefined): boolean => !!n && file.qualifiedName(n) === 'os.environ';
  const loaders = new Map(data.cfg.loaders.map((l) => [l.api, l]));
  const remoteConfigNames = new Map([...data.remoteConfig].map((q) => [q.slice(q.lastIndexOf('.') + 1), q]));
  const lastName = (q: string): string => q.slice(q.lastIndexOf('.') + 1);
  const callNames = new Set([
    ...PY_SETTING_CALLS,
    ...data.cfg.loaders.map((l) => lastName(l.api)),
    ...data.cfg.extractCalls.map((c) => ('api' in c ? lastName(c.api) : c.method)),
  ]);

  // Cheap tests on the text first: resolving names walks scopes.
  // The assignments, then the calls whose callee's last name is one of these (looked up once per file).
  // The left side's text is in the file's: a file that names neither `environ` nor an attribute has none.
  const assignments = ['environ', ...remoteConfigNames.keys()].some((w) => ctx.text.includes(w)) ? file.assignmentInfos : [];
  for (const { node, left, right, leftType } of assignments) {
    if (!left || !right) continue;
    if (leftType === 'subscript' && left.text.includes('environ') && isEnviron(left.childForFieldName('value'))) {
      const key = constantKey(left.childForFieldName('subscript'));
      if (key) setting(node, key, right);
    } else if (leftType === 'attribute' && remoteConfigNames.has(left.childForFieldName('attribute')?.text ?? '')) {
      const q = file.qualifiedName(left);
      if (q && data.remoteConfig.has(q) && right.type === 'true') {
        emit(at(node), {
          signal: `\`${q} = True\` turns on a remote compiled-code cache: entries are fetched from Redis without authentication and loaded as compiled code, so whoever can write that Redis runs code in this process`,
          confidence: 'medium',
          api: q,
        });
      }
    }
  }
  for (const { call: node, fn, last } of file.callsNamed(callNames)) {
    if (!fn || !last) continue;
    const api = file.qualifiedName(fn);
    const args = file.positionalArgs(node);
    if (api === 'os.environ.setdefault' || api === 'os.putenv' || api === 'os.environ.__setitem__') {
      const key = constantKey(args[0]);
      if (key && args[1]) setting(node, key, args[1]);
      continue;
    }
    if (api === 'os.environ.update') {
      // Each pair is its own place: two settings in one call are two findings.
      for (const a of node.childForFieldName('arguments')?.namedChildren ?? []) {
        if (a?.type === 'keyword_argument') {
          const name = a.childForFieldName('name')?.text;
          const v = a.childForFieldName('value');
          if (name && v) setting(a, name, v);
        } else if (a?.type === 'dictionary') {
          for (const p of a.namedChildren) {
            const key = constantKey(p?.childForFieldName('key'));
            const v = p?.childForFieldName('value');
            if (p && key && v) setting(p, key, v);
          }
        }
      }
      continue;
    }
    // torch._inductor.config.patch(fx_graph_remote_cache=True) / .patch({"fx_graph_remote_cache": True})
    if (api && api.startsWith('torch.') && /\.config\.patch$/.test(api)) {
      const prefix = api.slice(0, -'.patch'.length);
      const pairs: [string, Node][] = [];
      for (const a of node.childForFieldName('arguments')?.namedChildren ?? []) {
        if (a?.type === 'keyword_argument') {
          const name = a.childForFieldName('name')?.text;
          const v = a.childForFieldName('value');
          if (name && v) pairs.push([name, v]);
        } else if (a?.type === 'dictionary') {
          for (const p of a.namedChildren) {
            const key = constantKey(p?.childForFieldName('key'));
            const v = p?.childForFieldName('value');
            if (key && v) pairs.push([key, v]);
          }
        }
      }
      for (const [name, v] of pairs) {
        const q = remoteConfigNames.get(name);
        if (q && q === `${prefix}.${name}` && v.type === 'true') {
          emit(at(node), {
            signal: `\`${name}=True\` in \`${api}()\` turns on a remote compiled-code cache: entries are fetched from Redis without authentication and loaded as compiled code, so whoever can write that Redis runs code in this process`,
            confidence: 'medium',
            api: q,
          });
        }
      }
      continue;
    }
    const loader = api ? loaders.get(api) : undefined;
    if (loader && api) {
      const arg = loader.args.map((i) => args[i]).find((a): a is Node => !!a) ?? (loader.keywords ?? []).map((k) => file.keywordArg(node, k)).find((a): a is Node => !!a);
      if (!arg || reason.isConstant(arg)) continue;
      const hops = reason.traceSource(arg);
      const parts = collect(arg, file);
      const download = parts.calls.find((c) => data.downloads(c));
      const shared = parts.strings.map((s) => sharedPrefixOf(s, data.sharedPrefixes)).find((p): p is string => !!p);
      // A download or a shared temp file names where the blob comes from better than a source note of the
      // same read does.
      const from = download
        ? `data downloaded by \`${download}()\``
        : shared
          ? `a file under ${shared}, which other users can write`
          : hops
            ? `${hops[0]!.note}`
            : reason.explain(arg);
      emit(at(node), {
        signal: `\`${api}()\` loads compiled artifacts from ${from}: every graph and kernel in them is installed into the local caches and runs on the next compile, so whoever controls that blob runs code here`,
        confidence: hops || download || shared ? 'high' : 'medium',
        api,
        ...(hops ? { trace: rawTraceFrom(hops) } : {}),
      });
      continue;
    }
    // tarfile.open(x).extractall(cache_dir), shutil.unpack_archive(x, cache_dir)
    for (const spec of data.cfg.extractCalls) {
      const method = 'method' in spec ? spec.method : undefined;
      const matches = 'api' in spec ? api === spec.api : fn?.type === 'attribute' && fn.childForFieldName('attribute')?.text === method;
      if (!matches) continue;
      const dest = spec.args.map((i) => args[i]).find((a): a is Node => !!a) ?? (spec.keywords ?? []).map((k) => file.keywordArg(node, k)).find((a): a is Node => !!a);
      const place = dest ? pythonCacheDestination(dest, file, data) : undefined;
      if (!place) continue;
      const source = fn?.type === 'attribute' && method ? fn.childForFieldName('object') : args[0];
      const feed = source ? collect(source, file) : { strings: [], calls: [] };
      const download = feed.calls.find((c) => data.downloads(c)) ?? feed.strings.find((s) => /^https?:\/\//.test(s));
      emit(at(node), {
        signal: `an archive is extracted straight into a compiled cache (${place})${download ? `, from \`${download}\`` : ''}: the kernels and graphs in it are loaded as if this machine had compiled them`,
        confidence: download ? 'high' : 'medium',
        api: api ?? `.${method}`,
      });
      break;
    }
  }
}

// ---- shell, Dockerfile, YAML, .env ------------------------------------------------------------------------

function shellValue(node: Node): SettingValue {
  const hasExpansion = node.descendantsOfType(['simple_expansion', 'expansion', 'command_substitution', 'process_substitution']).some((n) => !!n);
  if (!hasExpansion && (node.type === 'word' || node.type === 'raw_string' || node.type === 'string' || node.type === 'number')) return { literal: unquote(node.text) };
  return { dynamic: `\`${node.text}\`` };
}

function commandArgs(cmd: Node): Node[] {
  return cmd.childrenForFieldName('argument').filter((a): a is Node => !!a);
}

/** The extraction destination of a tar/unzip command, or undefined when it does not extract. */
function extractionDestination(cmd: Node, data: LoadingData): { command: string; dest: string } | undefined {
  const name = cmd.childForFieldName('name')?.text;
  const spec = data.cfg.extractCommands.find((s) => s.command === name);
  if (!spec || !name) return undefined;
  const args = commandArgs(cmd).map((a) => a.text);
  const extracts =
    spec.extractFlags.length === 0 ||
    args.some((a, i) => spec.extractFlags.includes(a) || (/^-[A-Za-z]+$/.test(a) && spec.extractFlags.some((f) => f.length === 1 && a.includes(f))) || (i === 0 && /^[A-Za-z]+$/.test(a) && spec.extractFlags.some((f) => f.length === 1 && a.includes(f))));
  if (!extracts) return undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const flag of spec.destinationFlags) {
      if (a === flag && args[i + 1] !== undefined) return { command: name, dest: args[i + 1]! };
      if (flag.startsWith('--') && a.startsWith(`${flag}=`)) return { command: name, dest: a.slice(flag.length + 1) };
    }
  }
  return undefined;
}

function checkShellTree(tree: Tree, base: number, data: LoadingData, emit: Emit): void {
  for (const node of tree.rootNode.descendantsOfType('variable_assignment')) {
    const name = node?.childForFieldName('name')?.text;
    const value = node?.childForFieldName('value');
    if (!node || !name || !value || !watchedVariable(name, data)) continue;
    const judged = judgeSetting(name, shellValue(value), data);
    const at = node.parent?.type === 'declaration_command' ? node.parent : node;
    if (judged) emit({ start: base + at.startIndex, end: base + at.endIndex, nodeType: at.type }, { ...judged, setting: name });
  }
  for (const cmd of tree.rootNode.descendantsOfType('command')) {
    if (!cmd) continue;
    const found = extractionDestination(cmd, data);
    const place = found ? cacheDestination(found.dest, data) : undefined;
    if (!found || !place) continue;
    // `curl … | tar -x -C $CACHE`: the archive comes straight from the network.
    let feeder: string | undefined;
    if (cmd.parent?.type === 'pipeline') {
      for (const sibling of cmd.parent.namedChildren) {
        if (!sibling || sibling.id === cmd.id) break;
        const n = sibling.type === 'command' ? sibling.childForFieldName('name')?.text : undefined;
        if (n && data.cfg.downloadCommands.includes(n)) feeder = n;
      }
    }
    emit(
      { start: base + cmd.startIndex, end: base + cmd.endIndex, nodeType: cmd.type },
      {
        signal: `\`${found.command}\` extracts an archive straight into a compiled cache (${place})${feeder ? `, downloaded by \`${feeder}\`` : ''}: the kernels and graphs in it are loaded as if this machine had compiled them`,
        confidence: feeder ? 'high' : 'medium',
        api: found.command,
      },
    );
  }
}

async function checkShellText(text: string, base: number, data: LoadingData, emit: Emit): Promise<void> {
  await withShellTree(text, (tree) => checkShellTree(tree, base, data, emit));
}

async function checkDockerfile(ctx: CheckContext, data: LoadingData, emit: Emit): Promise<void> {
  for (const ins of dockerInstructions(ctx.text)) {
    const at = { start: ins.start, end: ins.end, nodeType: `${ins.keyword.toLowerCase()}_instruction` };
    // Continuations blanked to the same length, so offsets in `body` are offsets in the instruction's arguments.
    const body = ins.args.replace(/\\\r?\n/g, (m) => ' '.repeat(m.length));
    if (ins.keyword === 'ENV') {
      // `ENV A=1 B=2`: each pair is its own place, so two settings on one line are two findings.
      for (const { name, raw, start, end, nodeType } of dockerEnvPairs(ins)) {
        if (!watchedVariable(name, data)) continue;
        const v = unquote(raw);
        const judged = judgeSetting(name, /\$/.test(v) ? { dynamic: `\`${v}\`` } : { literal: v }, data);
        if (judged) emit({ start, end, nodeType }, { ...judged, setting: name });
      }
    } else if (ins.keyword === 'RUN') {
      await checkShellText(ins.args, ins.argsOffset, data, emit);
    } else if (ins.keyword === 'ADD') {
      // ADD unpacks local tar archives into the destination; remote URLs are copied as they are.
      let words: string[];
      const trimmed = body.trim();
      if (trimmed.startsWith('[')) {
        try {
          words = (JSON.parse(trimmed) as unknown[]).map(String);
        } catch {
          continue;
        }
      } else words = trimmed.split(/\s+/);
      words = words.filter((w) => !w.startsWith('--'));
      if (words.length < 2) continue;
      const dest = words[words.length - 1]!;
      const archive = words.slice(0, -1).find((w) => !/^[a-z]+:\/\//i.test(w) && data.cfg.archiveSuffixes.some((s) => w.toLowerCase().endsWith(s)));
      const place = archive ? cacheDestination(dest, data) : undefined;
      if (archive && place) {
        emit(at, {
          signal: `\`ADD ${archive}\` unpacks an archive straight into a compiled cache (${place}): the kernels and graphs in it are loaded as if the image had compiled them`,
          confidence: 'medium',
          api: 'ADD',
        });
      }
    }
  }
}

function checkDotenv(ctx: CheckContext, data: LoadingData, emit: Emit): void {
  const re = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*?)[ \t]*\r?$/gm;
  for (let m = re.exec(ctx.text); m; m = re.exec(ctx.text)) {
    const name = m[1]!;
    if (!watchedVariable(name, data)) continue;
    const v = unquote(m[2]!.replace(/\s+#.*$/, ''));
    const judged = judgeSetting(name, /\$/.test(v) ? { dynamic: `\`${v}\`` } : { literal: v }, data);
    const start = m.index + (m[0].length - m[0].trimStart().length);
    if (judged) emit({ start, end: m.index + m[0].trimEnd().length, nodeType: 'dotenv_assignment' }, { ...judged, setting: name });
  }
}

async function checkYaml(tree: Tree, data: LoadingData, emit: Emit): Promise<void> {
  const yamlValue = (text: string): SettingValue => (/\$/.test(text) ? { dynamic: `\`${text}\`` } : { literal: text });
  const { settings, scripts } = yamlEnvironment(tree);
  for (const s of settings) {
    if (!watchedVariable(s.name, data)) continue;
    const judged = judgeSetting(s.name, yamlValue(s.value.text), data);
    if (judged) emit({ start: s.at.startIndex, end: s.at.endIndex, nodeType: s.at.type }, { ...judged, setting: s.name });
  }
  for (const s of scripts) if (/\b(tar|bsdtar|unzip)\b/.test(s.text)) await checkShellText(s.text, s.start, data, emit);
}

/** Reports code that loads compiled artifacts from elsewhere, under the rule rules/cache-kinds.yml names. */
export async function checkCacheLoading(ctx: CheckContext): Promise<void> {
  // Compiled GPU modules loaded from a path that is not fixed: its own rule (cache-kinds.yml `moduleLoading`).
  const modules = loadCacheKinds(ctx.catalog.dir, ctx.catalog).moduleLoading;
  if (modules && ctx.lang === 'cuda') checkModuleLoads(ctx, modules);
  const data = loadingData(ctx);
  if (!data) return;
  const emit = emitter(ctx, data);
  const family = languageFamily(ctx.lang);
  if (family === 'python' && ctx.tree) checkPython(ctx, ctx.tree, data, emit);
  else if (ctx.lang === 'shell' && ctx.tree) checkShellTree(ctx.tree, 0, data, emit);
  else if (ctx.lang === 'yaml' && ctx.tree) await checkYaml(ctx.tree, data, emit);
  else if (ctx.lang === 'dockerfile') await checkDockerfile(ctx, data, emit);
  else if (ctx.lang === 'dotenv') checkDotenv(ctx, data, emit);
}
