// The result cache: per-user folder rules (0700, refused when others can write it), atomic entries, corrupt
// entries ignored, a size cap, and keys that change with the rules, the models and the engine but not the policy.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Catalog, extendCatalog, loadCatalog } from '../../server/src/engine/rules/catalog';
import { defaultCacheDir, openResultCache, type ResultCache } from '../../server/src/engine/resultCache';
import { scanPaths } from '../../server/src/engine/scanner';
import { defaultPolicy, loadPolicy } from '../../server/src/engine/policy';
import { makeWorkspace, removeWorkspace } from '../helpers/workspace';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';
const RUN_PY = 'import mylib\n\ndef go(code):\n    return mylib.run(code)\n';
const CLEAN_PY = 'def add(a, b):\n    return a + b\n';

function open(dir: string, engine = 'test-engine'): ResultCache {
  const opened = openResultCache(dir, { engine });
  assert.ok(opened.cache, opened.warning);
  return opened.cache;
}

describe('result cache', () => {
  let tmp: string;
  let ws: string | undefined;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-cache-test-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (ws) removeWorkspace(ws);
    ws = undefined;
  });

  it('lives in $XDG_CACHE_HOME/sentinel, else the platform user cache folder', () => {
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' }, 'linux'), path.join('/x/cache', 'sentinel'));
    assert.equal(defaultCacheDir({}, 'linux'), path.join(os.homedir(), '.cache', 'sentinel'));
    assert.equal(defaultCacheDir({}, 'darwin'), path.join(os.homedir(), 'Library', 'Caches', 'sentinel'));
    assert.equal(defaultCacheDir({ LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' }, 'win32'), path.join('C:\\Users\\a\\AppData\\Local', 'sentinel'));
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: 'relative' }, 'linux'), path.join(os.homedir(), '.cache', 'sentinel'), 'a relative XDG_CACHE_HOME is ignored');
  });

  it('creates its folder with mode 0700', () => {
    const dir = path.join(tmp, 'a', 'sentinel');
    open(dir);
    if (process.platform !== 'win32') assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  });

  it('refuses a group- or world-writable folder, or a symlink, naming it and its mode', function () {
    if (process.platform === 'win32') this.skip();
    for (const [mode, what] of [[0o775, 'group-writable'], [0o777, 'world-writable']] as const) {
      const dir = path.join(tmp, `m${mode.toString(8)}`);
      fs.mkdirSync(dir);
      fs.chmodSync(dir, mode);
      const opened = openResultCache(dir, { engine: 'e' });
      assert.equal(opened.cache, undefined);
      assert.ok(opened.warning?.includes(dir), opened.warning);
      assert.ok(opened.warning?.includes(what), opened.warning);
      assert.ok(opened.warning?.includes(`mode 0${mode.toString(8)}`), opened.warning);
    }
    const link = path.join(tmp, 'link');
    fs.mkdirSync(path.join(tmp, 'real'), { mode: 0o700 });
    fs.symlinkSync(path.join(tmp, 'real'), link);
    assert.match(openResultCache(link, { engine: 'e' }).warning ?? '', /symbolic link/);
  });

  it('refuses a folder owned by another user', function () {
    if (process.platform === 'win32' || process.getuid?.() !== 0) this.skip(); // only root can hand a folder to someone else
    const dir = path.join(tmp, 'theirs');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, 12345, 12345);
    const opened = openResultCache(dir, { engine: 'e' });
    assert.equal(opened.cache, undefined);
    assert.match(opened.warning ?? '', /owned by uid 12345/);
    assert.ok(opened.warning?.includes(dir));
  });

  it('stores entries atomically as 0600 files, ignores corrupt ones and writes them again', () => {
    const cache = open(path.join(tmp, 'c'));
    const key = cache.key(Buffer.from('x'), 'python', 'ctx');
    assert.equal(cache.get(key), undefined);
    cache.put(key, { findings: [], warnings: [{ code: 'parse-error', path: '', message: 'm' }] });
    assert.deepEqual(cache.get(key)?.warnings, [{ code: 'parse-error', path: '', message: 'm' }]);
    const entry = path.join(tmp, 'c', key.slice(0, 2), `${key.slice(2)}.json`);
    if (process.platform !== 'win32') assert.equal(fs.statSync(entry).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(path.dirname(entry)).filter((n) => n.startsWith('.tmp-')), [], 'no temp file is left behind');
    fs.writeFileSync(entry, '{"format": "sentinel-result/1", "key": "trunc');
    assert.equal(cache.get(key), undefined);
    cache.put(key, { findings: [], warnings: [] });
    assert.deepEqual(cache.get(key), { findings: [], warnings: [] });
  });

  it('evicts the oldest entries when it grows over its size cap', () => {
    const dir = path.join(tmp, 'small');
    const opened = openResultCache(dir, { engine: 'e', maxBytes: 4000 });
    const cache = opened.cache!;
    const big = { findings: [], warnings: [{ code: 'parse-error' as const, path: '', message: 'x'.repeat(500) }] };
    const start = Date.now() / 1000 - 100;
    for (let i = 0; i < 20; i++) {
      const key = cache.key(Buffer.from(String(i)), 'python', 'ctx');
      cache.put(key, big);
      fs.utimesSync(path.join(dir, key.slice(0, 2), `${key.slice(2)}.json`), start + i, start + i);
    }
    const { removed, bytes } = cache.evict();
    assert.ok(removed > 0 && bytes <= 4000, `removed ${removed}, ${bytes} bytes left`);
    assert.ok(cache.get(cache.key(Buffer.from('19'), 'python', 'ctx')), 'the newest entry is kept');
  });

  describe('in a scan', () => {
    async function scan(cache: ResultCache, catalog: Catalog = loadCatalog(), extra: Parameters<typeof scanPaths>[1] = {}) {
      return scanPaths([ws!], { catalog, cache, jobs: 1, baseDir: ws, policy: defaultPolicy(ws), ...extra });
    }

    it('serves an unchanged tree from the cache with the same findings and fingerprints, reading each file once', async () => {
      ws = makeWorkspace({ 'a.py': EVAL_PY, 'b.py': CLEAN_PY, 'c.ts': 'export const f = (s: string) => eval(s);\n', 'bad.py': 'def f(:\n  eval(x)\n' });
      const cache = open(path.join(tmp, 'c'));
      const uncached = await scanPaths([ws], { jobs: 1, baseDir: ws, policy: defaultPolicy(ws) });
      const cold = await scan(cache);
      assert.equal(cache.hits, 0);
      // The engine's `fs` is this module object: count what it reads during the warm scan.
      // Files are read by path (readFileSync) or opened first and read through the descriptor (openSync).
      const nodeFs = createRequire(__filename)('node:fs') as { readFileSync: typeof fs.readFileSync; openSync: typeof fs.openSync };
      const reads: string[] = [];
      const original = nodeFs.readFileSync;
      const originalOpen = nodeFs.openSync;
      const inWs = (file: unknown): boolean => typeof file === 'string' && file.startsWith(fs.realpathSync(ws!));
      nodeFs.readFileSync = ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
        if (inWs(file)) reads.push(path.basename(file as string));
        return (original as (...a: unknown[]) => unknown)(file, ...rest);
      }) as typeof fs.readFileSync;
      nodeFs.openSync = ((file: fs.PathLike, ...rest: unknown[]) => {
        if (inWs(file)) reads.push(path.basename(file as string));
        return (originalOpen as (...a: unknown[]) => unknown)(file, ...rest);
      }) as typeof fs.openSync;
      let warm;
      try {
        warm = await scan(cache);
      } finally {
        nodeFs.readFileSync = original;
        nodeFs.openSync = originalOpen;
      }
      assert.equal(cache.hits, 4);
      // (.gitignore files are read by the walk, not analysed.)
      assert.deepEqual(reads.filter((n) => n !== '.gitignore').sort(), ['a.py', 'b.py', 'bad.py', 'c.ts'], 'each source file is read exactly once');
      // As the reports print them (JSON has no `undefined` fields).
      const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
      assert.deepEqual(plain(warm.findings), plain(cold.findings));
      assert.deepEqual(plain(warm.warnings), plain(cold.warnings));
      assert.deepEqual(plain(cold.findings), plain(uncached.findings));
      assert.deepEqual(plain(cold.warnings), plain(uncached.warnings));
      assert.deepEqual(warm.findings.map((f) => f.fingerprint), uncached.findings.map((f) => f.fingerprint));
      assert.ok(warm.findings.length >= 2);
    });

    it('finds the same bytes again under another name, with that name in the findings', async () => {
      ws = makeWorkspace({ 'a.py': EVAL_PY });
      const cache = open(path.join(tmp, 'c'));
      await scan(cache);
      fs.renameSync(path.join(ws, 'a.py'), path.join(ws, 'moved.py'));
      const moved = await scan(cache);
      assert.equal(cache.hits, 1);
      assert.deepEqual(moved.findings.map((f) => f.evidence.path), ['moved.py']);
    });

    it('misses when the rules, the source/sink models or the engine change, and re-analyses a changed file', async () => {
      ws = makeWorkspace({ 'a.py': EVAL_PY, 'r.py': RUN_PY });
      const dir = path.join(tmp, 'c');
      const base = loadCatalog();
      await scan(open(dir), base);
      const again = open(dir);
      await scan(again, base);
      assert.deepEqual([again.hits, again.misses], [2, 0]);

      const withSink = extendCatalog(base, { sinks: [{ rule: 'JIT-EVAL-COMPILE', languages: ['python'], api: 'mylib.run', args: [0] }] }).catalog;
      const ruled = open(dir);
      const r = await scan(ruled, withSink);
      assert.equal(ruled.hits, 0, 'a new sink is a rule change');
      assert.ok(r.findings.some((f) => f.evidence.path === 'r.py'), 'and the new sink is found');

      const withSource = extendCatalog(base, { sources: { python: { calls: [{ api: 'mylib.fetch', note: 'in-house input' }] } } }).catalog;
      const modelled = open(dir);
      await scan(modelled, withSource);
      assert.equal(modelled.hits, 0, 'a new source model is a change');

      const otherEngine = open(dir, 'another-engine');
      await scan(otherEngine, base);
      assert.equal(otherEngine.hits, 0, 'another engine version reads none of the entries');

      fs.appendFileSync(path.join(ws, 'a.py'), 'x = 1\n');
      const edited = open(dir);
      await scan(edited, base);
      assert.deepEqual([edited.hits, edited.misses], [1, 1]);
    });

    it('analyses each file with the models of the policy above it, and misses when those models change', async () => {
      const policy = (api: string) => `models:\n  sinks:\n    - { rule: JIT-EVAL-COMPILE, languages: [python], api: ${api}, args: [0] }\n`;
      ws = makeWorkspace({ 'team/sentinel-policy.yml': policy('mylib.run'), 'team/r.py': RUN_PY, 'other/r.py': RUN_PY });
      const dir = path.join(tmp, 'c');
      const run = (c: ResultCache, jobs: number) => scanPaths([ws!], { cache: c, jobs, baseDir: ws });
      const first = await run(open(dir), 1);
      assert.deepEqual(first.findings.map((f) => f.evidence.path), ['team/r.py'], 'only the team whose policy models mylib.run');
      const pooled = await scanPaths([ws], { jobs: 2, baseDir: ws, prefilter: true });
      assert.deepEqual(pooled.findings.map((f) => f.fingerprint), first.findings.map((f) => f.fingerprint), 'workers get the per-file catalog too');
      const warm = open(dir);
      await run(warm, 1);
      assert.equal(warm.misses, 0);
      fs.writeFileSync(path.join(ws, 'team', 'sentinel-policy.yml'), policy('mylib.other'));
      const changed = open(dir);
      const after = await run(changed, 1);
      assert.ok(changed.misses >= 1, 'a changed model is a miss for the files under it');
      assert.deepEqual(after.findings, []);
    });

    it('applies the policy after the cache: a changed policy never gets stale decisions', async () => {
      ws = makeWorkspace({ 'a.py': EVAL_PY });
      const dir = path.join(tmp, 'c');
      const blocked = await scan(open(dir));
      assert.equal(blocked.summary.decision, 'blocked');
      const policyFile = path.join(tmp, 'sentinel-policy.yml');
      fs.writeFileSync(policyFile, `allowlist:\n  - rule: JIT-EVAL-COMPILE\n    fingerprint: ${blocked.findings[0]!.fingerprint}\n    reason: reviewed calculator\n`);
      const cache = open(dir);
      const allowed = await scan(cache, loadCatalog(), { policy: loadPolicy(policyFile, loadCatalog()) });
      assert.equal(cache.hits, 1);
      assert.equal(allowed.summary.decision, 'clean');
      assert.equal(allowed.findings[0]?.decision, 'suppressed');
      assert.equal(allowed.findings[0]?.fingerprint, blocked.findings[0]?.fingerprint);
      const cache2 = open(dir);
      const back = await scan(cache2);
      assert.equal(cache2.hits, 1);
      assert.equal(back.summary.decision, 'blocked', 'the cached entry holds no decision of the earlier policy');
    });
  });
});
