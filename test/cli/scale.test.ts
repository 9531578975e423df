// Scans at scale: the worker pool reports exactly what one thread does, the result cache refuses a folder
// others can write, shards add up to the whole scan, and `sentinel merge` gates the joined reports once.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Finding, ScanReport } from '../../server/src/engine/finding';
import { AnalysisPool, closeSharedPools, defaultJobs, sharedPool, workerLimit } from '../../server/src/engine/pool';
import { openResultCache } from '../../server/src/engine/resultCache';
import { loadCatalog } from '../../server/src/engine/rules/catalog';
import { analyzeDocument, catalogKey } from '../../server/src/engine/scanner';
import { loadCacheKinds } from '../../server/src/engine/cacheTrees';
import { scanPaths, shardOf } from '../../server/src/engine/scanner';
import { ensureBuiltCli, REPO_ROOT, SENTINEL_BIN } from '../helpers/builtCli';
import { makeWorkspace, removeWorkspace, runCli } from '../helpers/workspace';

const FIXTURES = path.join(REPO_ROOT, 'fixtures');

/** What identifies a finding and where it is, in report order. */
function identity(findings: Finding[]): string[] {
  return findings.map((f) => `${f.evidence.path}:${f.evidence.startLine}:${f.evidence.startColumn} ${f.ruleId} ${f.fingerprint} ${f.decision}`);
}

function runBuilt(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SENTINEL_BIN, ...args], { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 3) : 0, stdout, stderr });
    });
  });
}

/** A tree of many small files: some with sinks, some with cache settings, most clean. */
function manyFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 24; i++) {
    files[`pkg${i % 4}/mod${i}.py`] = i % 3 === 0 ? `def f${i}(expr):\n    return eval(expr)\n` : `def f${i}(a, b):\n    return a + b\n`;
    files[`web${i % 3}/part${i}.js`] = i % 4 === 0 ? `module.exports = (s) => new Function(s);\n` : `module.exports = (a) => a * ${i};\n`;
  }
  files['deploy/.env'] = 'TRITON_CACHE_DIR=/tmp/triton\n';
  files['deploy/warm.sh'] = '#!/bin/sh\nexport TORCHINDUCTOR_CACHE_DIR=/tmp/inductor\n';
  return files;
}

describe('scans at scale', () => {
  let ws: string | undefined;
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-scale-'));
  });
  afterEach(() => {
    if (ws) removeWorkspace(ws);
    ws = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  after(() => closeSharedPools());

  describe('worker pool', () => {
    for (const dir of ['rules', 'demo']) {
      it(`reports on fixtures/${dir} what one thread reports: findings, fingerprints, warnings and order`, async () => {
        const one = await scanPaths([path.join(FIXTURES, dir)], { jobs: 1 });
        const pooled = await scanPaths([path.join(FIXTURES, dir)], { jobs: 2 });
        assert.ok(one.findings.length > 0);
        assert.deepEqual(identity(pooled.findings), identity(one.findings));
        assert.deepEqual(JSON.parse(JSON.stringify(pooled)), JSON.parse(JSON.stringify(one)));
      });
    }

    it('keeps the order whatever the workers finish first, over many files', async () => {
      ws = makeWorkspace(manyFiles());
      const one = await scanPaths([ws], { jobs: 1, baseDir: ws });
      for (let round = 0; round < 2; round++) {
        const pooled = await scanPaths([ws], { jobs: 3, baseDir: ws });
        assert.deepEqual(identity(pooled.findings), identity(one.findings));
        assert.deepEqual(pooled.warnings, one.warnings);
        assert.equal(pooled.filesScanned, one.filesScanned);
      }
    });

    it('runs from the bundle: dist/cli.js starts dist/worker.js and reports what --jobs 1 reports', async function () {
      this.timeout(300_000);
      ensureBuiltCli();
      assert.ok(fs.existsSync(path.join(REPO_ROOT, 'dist', 'worker.js')), 'esbuild builds dist/worker.js');
      const dir = path.join(FIXTURES, 'rules');
      const one = await runBuilt(['sast', dir, '--format', 'json', '--jobs', '1', '--no-cache'], REPO_ROOT);
      const pooled = await runBuilt(['sast', dir, '--format', 'json', '--jobs', '2', '--no-cache'], REPO_ROOT);
      assert.equal(pooled.code, one.code, pooled.stderr);
      const a = JSON.parse(one.stdout) as ScanReport;
      const b = JSON.parse(pooled.stdout) as ScanReport;
      assert.deepEqual(identity(b.findings), identity(a.findings));
      assert.deepEqual(b.warnings, a.warnings);
    });

    it('hands the longest waiting text to the free worker first, and each result to its own file', async () => {
      const catalog = loadCatalog();
      const pool = new AnalysisPool(1);
      try {
        const ended: string[] = [];
        const task = (name: string, sinks: number) => {
          const text = Array.from({ length: sinks }, (_, i) => `def f${i}(s):\n    return eval(s)\n`).join('');
          return pool.analyze({ catalog, catalogKey: catalogKey(catalog), enabled: ['JIT-EVAL-COMPILE'], lang: 'python', text, path: `${name}.py` }).then((r) => {
            ended.push(name);
            assert.equal(r.findings.length, sinks, name);
            assert.ok(r.findings.every((f) => f.evidence.path === `${name}.py`));
          });
        };
        // The first goes to the worker at once; the others wait, and leave the queue longest first.
        await Promise.all([task('first', 1), task('small', 2), task('large', 40), task('medium', 10)]);
        assert.deepEqual(ended, ['first', 'large', 'medium', 'small']);
      } finally {
        await pool.close();
      }
    });

    it('gives workers the cache kinds the main thread read: they need not read cache-kinds.yml again', async () => {
      // A copy of the rules folder whose cache-kinds.yml is gone once the main thread has loaded it: a worker that
      // read the file itself would fail on every finding that needs the cache kinds.
      const rules = path.join(tmp, 'rules-copy');
      fs.cpSync(path.join(REPO_ROOT, 'rules'), rules, { recursive: true });
      const catalog = loadCatalog(rules);
      loadCacheKinds(rules, catalog);
      fs.rmSync(path.join(rules, 'cache-kinds.yml'));
      const file = path.join(FIXTURES, 'rules', 'JIT-CACHE-POISONING', 'remote_cache_settings.py');
      const text = fs.readFileSync(file, 'utf8');
      const task = { catalog, catalogKey: catalogKey(catalog), enabled: ['JIT-CACHE-POISONING'], lang: 'python' as const, text, path: 'remote_cache_settings.py' };
      const expected = await analyzeDocument(task.path, text, 'python', { catalog, enabled: new Map([['JIT-CACHE-POISONING', catalog.byId.get('JIT-CACHE-POISONING')!]]) });
      assert.ok(expected.findings.length >= 3, `only ${expected.findings.length} findings in the fixture`);
      const pool = new AnalysisPool(1);
      try {
        const got = await pool.analyze(task);
        assert.deepEqual(identity(got.findings), identity(expected.findings));
        assert.deepEqual(got.warnings, expected.warnings);
      } finally {
        await pool.close();
      }
    });

    it('starts no worker for a large scan the result cache serves entirely', async () => {
      const files: Record<string, string> = {};
      for (let i = 0; i < 70; i++) files[`pkg/m${i}.py`] = i % 7 === 0 ? `def f(s):\n    return eval(s)\n` : `x = ${i}\n`;
      ws = makeWorkspace(files);
      const opened = openResultCache(path.join(tmp, 'cache'), { engine: 'test' });
      assert.ok(opened.cache);
      const cold = await scanPaths([ws], { jobs: 2, baseDir: ws, cache: opened.cache });
      assert.equal(cold.findings.length, 10);
      await closeSharedPools();
      const warm = await scanPaths([ws], { jobs: 2, baseDir: ws, cache: opened.cache });
      assert.deepEqual(identity(warm.findings), identity(cold.findings));
      assert.equal(sharedPool(2).started, 0, 'no worker was started');
      const uncached = await scanPaths([ws], { jobs: 2, baseDir: ws });
      assert.deepEqual(identity(uncached.findings), identity(cold.findings));
      assert.equal(sharedPool(2).started, 2, 'a large scan without a cache starts every worker');
    });

    it('starts no more workers than the CPUs before the walk, and no more than four per CPU ever', async () => {
      assert.equal(workerLimit(100_000), 4 * defaultJobs());
      assert.equal(workerLimit(3), Math.min(3, 4 * defaultJobs()));
      await closeSharedPools();
      // An uncached scan of an empty folder with --jobs 64: the workers started before the walk are the CPUs' count.
      ws = makeWorkspace({});
      const report = await scanPaths([ws], { jobs: 64, baseDir: ws });
      assert.equal(report.filesScanned, 0);
      const started = sharedPool(workerLimit(64)).started;
      assert.ok(started >= 1 && started <= defaultJobs(), `${started} workers started for no file`);
      await closeSharedPools();
    });

    it('rejects a --jobs that is not a whole number of 1 or more', async () => {
      ws = makeWorkspace({ 'a.py': 'x = 1\n' });
      for (const bad of ['0', 'two', '1.5']) {
        const r = await runCli(['sast', '.', '--jobs', bad, '--no-cache'], ws);
        assert.equal(r.code, 2, bad);
        assert.match(r.stderr, /--jobs needs a whole number/);
      }
    });
  });

  describe('result cache from the CLI', () => {
    it('refuses a group-writable --cache-dir with a warning naming it and its mode, and still scans', async function () {
      if (process.platform === 'win32') this.skip();
      ws = makeWorkspace({ 'a.py': 'def f(s):\n    return eval(s)\n' });
      const dir = path.join(tmp, 'shared-cache');
      fs.mkdirSync(dir);
      fs.chmodSync(dir, 0o775);
      const r = await runCli(['sast', '.', '--format', 'json', '--cache-dir', dir], ws);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`not using the result cache: ${dir} is group-writable (mode 0775)`), r.stderr);
      assert.equal((JSON.parse(r.stdout) as ScanReport).findings.length, 1);
      assert.deepEqual(fs.readdirSync(dir), [], 'nothing was written there');
    });

    it('gives the same report from a warm cache, and --no-cache writes nothing', async () => {
      ws = makeWorkspace(manyFiles());
      const dir = path.join(tmp, 'cache');
      const cold = await runCli(['sast', '.', '--format', 'json', '--cache-dir', dir], ws);
      const warm = await runCli(['sast', '.', '--format', 'json', '--cache-dir', dir], ws);
      assert.equal(warm.code, cold.code);
      assert.deepEqual((JSON.parse(warm.stdout) as ScanReport).findings, (JSON.parse(cold.stdout) as ScanReport).findings);
      assert.ok(fs.readdirSync(dir).length > 0);
      const none = path.join(tmp, 'none');
      const saved = process.env.XDG_CACHE_HOME;
      process.env.XDG_CACHE_HOME = none;
      try {
        const r = await runCli(['sast', '.', '--format', 'json', '--no-cache'], ws);
        assert.equal(r.code, cold.code);
        assert.equal(fs.existsSync(none), false, '--no-cache creates no cache folder');
        await runCli(['sast', '.', '--format', 'json'], ws);
        assert.ok(fs.existsSync(path.join(none, 'sentinel')), 'the default folder is $XDG_CACHE_HOME/sentinel');
      } finally {
        if (saved === undefined) delete process.env.XDG_CACHE_HOME;
        else process.env.XDG_CACHE_HOME = saved;
      }
      assert.equal((await runCli(['sast', '.', '--no-cache', '--cache-dir', dir], ws)).code, 2);
    });
  });

  describe('shards', () => {
    it('split the files by path hash: every file in exactly one shard, and the union is the whole scan', async () => {
      ws = makeWorkspace(manyFiles());
      const whole = JSON.parse((await runCli(['sast', '.', '--format', 'json', '--no-cache'], ws)).stdout) as ScanReport;
      const shards: ScanReport[] = [];
      for (let k = 1; k <= 3; k++) shards.push(JSON.parse((await runCli(['sast', '.', '--format', 'json', '--no-cache', '--shard', `${k}/3`], ws)).stdout) as ScanReport);
      const union = shards.flatMap((s) => identity(s.findings)).sort();
      assert.deepEqual(union, identity(whole.findings).sort());
      assert.equal(shards.reduce((n, s) => n + s.filesScanned, 0), whole.filesScanned);
      assert.ok(shards.every((s) => s.filesScanned > 0), 'each shard got files');
      for (const [k, s] of shards.entries()) for (const f of s.findings) assert.equal(shardOf(f.evidence.path, 3), k + 1);
      // Relative paths, not absolute ones, decide: the same tree elsewhere splits the same way.
      assert.equal(shardOf('pkg0/mod0.py', 3), shardOf('pkg0/mod0.py', 3));
    });

    it('rejects a malformed --shard', async () => {
      ws = makeWorkspace({ 'a.py': 'x = 1\n' });
      for (const bad of ['0/2', '3/2', '1', 'a/b', '1/0']) {
        const r = await runCli(['sast', '.', '--shard', bad, '--no-cache'], ws);
        assert.equal(r.code, 2, bad);
        assert.match(r.stderr, /--shard needs K\/N/);
      }
    });
  });

  describe('sentinel merge', () => {
    async function shardReports(formats: ('json' | 'sarif')[]): Promise<string[]> {
      const out: string[] = [];
      for (const [i, fmt] of formats.entries()) {
        const file = path.join(tmp, `shard${i + 1}.${fmt}`);
        const r = await runCli(['sast', '.', '--format', fmt, '--output', file, '--no-cache', '--shard', `${i + 1}/${formats.length}`], ws);
        assert.ok(r.code === 0 || r.code === 1, r.stderr);
        out.push(file);
      }
      return out;
    }

    it('joins JSON and SARIF shard reports into the findings and gate of the whole scan; exit 1 when blocked', async () => {
      ws = makeWorkspace(manyFiles());
      const whole = await runCli(['sast', '.', '--format', 'json', '--no-cache'], ws);
      const reports = await shardReports(['json', 'sarif', 'json']);
      const merged = await runCli(['merge', ...reports, '--format', 'json'], ws);
      assert.equal(merged.code, 1, merged.stderr);
      assert.equal(merged.code, whole.code);
      const a = JSON.parse(whole.stdout) as ScanReport;
      const b = JSON.parse(merged.stdout) as ScanReport;
      const key = (f: Finding) => `${f.evidence.path}:${f.evidence.startLine} ${f.ruleId} ${f.fingerprint} ${f.decision}`;
      assert.deepEqual(b.findings.map(key).sort(), a.findings.map(key).sort());
      assert.deepEqual(b.summary, a.summary);
      assert.equal(b.filesScanned, a.filesScanned);
      const again = await runCli(['merge', ...reports, ...reports, '--format', 'json'], ws);
      assert.equal((JSON.parse(again.stdout) as ScanReport).findings.length, a.findings.length, 'a report given twice counts once');
    });

    it('applies the --policy given to merge, not the shards\' decisions: exit 0 when it only tickets', async () => {
      ws = makeWorkspace(manyFiles());
      const reports = await shardReports(['json', 'json']);
      const policy = path.join(tmp, 'lenient.yml');
      fs.writeFileSync(policy, 'fail_on: [CRITICAL]\nticket_on: [HIGH, MEDIUM]\n');
      const r = await runCli(['merge', ...reports, '--policy', policy, '--format', 'json'], ws);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.equal(report.summary.decision, 'tickets');
      assert.ok(report.findings.every((f) => f.decision === 'ticket'));
      assert.equal((await runCli(['merge', ...reports, '--fail-on', 'never'], ws)).code, 0);
      const text = await runCli(['merge', ...reports, '--output', path.join(tmp, 'merged.sarif'), '--format', 'sarif'], ws);
      assert.equal(text.code, 1);
      assert.match(text.stderr, /from 2 report\(s\)/);
      assert.equal((JSON.parse(fs.readFileSync(path.join(tmp, 'merged.sarif'), 'utf8')) as { version: string }).version, '2.1.0');
    });

    it('prints the usage for --help and exits 0', async () => {
      ws = makeWorkspace({ 'a.py': 'x = 1\n' });
      const help = await runCli(['merge', '--help'], ws);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /sentinel merge <reports\.\.\.>/);
    });

    it('exits 2 on a missing or unreadable report, a bad policy and no report at all', async () => {
      ws = makeWorkspace({ 'a.py': 'x = 1\n' });
      const notReport = path.join(tmp, 'x.json');
      fs.writeFileSync(notReport, '{"hello": 1}');
      assert.equal((await runCli(['merge'], ws)).code, 2);
      assert.equal((await runCli(['merge', path.join(tmp, 'missing.json')], ws)).code, 2);
      const bad = await runCli(['merge', notReport], ws);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /neither a Sentinel JSON report/);
      const report = path.join(tmp, 'ok.json');
      await runCli(['sast', '.', '--format', 'json', '--output', report, '--no-cache'], ws);
      const brokenPolicy = path.join(tmp, 'broken.yml');
      fs.writeFileSync(brokenPolicy, 'fail_on: [NOPE]\n');
      assert.equal((await runCli(['merge', report, '--policy', brokenPolicy], ws)).code, 2);
      assert.equal((await runCli(['merge', report, '--format', 'nope'], ws)).code, 2);
    });
  });
});
