// Hostile inputs to the CLI: an empty --rule or --cache-dir, policies, baselines and reports that are FIFOs,
// folders or endless /proc files, a cache folder that cannot be created, a source file whose fstat size lies,
// a report merged twice and a file Sentinel failed on. Each gets a message naming the file and the reason and
// its own exit code, and none hangs. Inputs that used to hang (a FIFO blocks open(2); /proc/nope made Node's
// recursive mkdir spin) run main() in a child process with a timeout, so a regression fails instead of
// freezing the test run; the rest call main() in-process.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deliverReport, readInputFile } from '../../server/src/cli/main';
import type { ScanReport, ScanWarning } from '../../server/src/engine/finding';
import { loadPolicy } from '../../server/src/engine/policy';
import { UsageError } from '../../server/src/engine/scanner';
import { ensureBuiltCli, SENTINEL_BIN } from '../helpers/builtCli';
import { type CliRun, makeWorkspace, removeWorkspace, runCli } from '../helpers/workspace';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';
const CLEAN_PY = 'import re\n\ndef f(p):\n    return re.compile(p)\n';
const MAIN = path.resolve(__dirname, '../../server/src/cli/main.ts');
const TSX = require.resolve('tsx/cjs');
const linux = process.platform === 'linux';

/** `sentinel <args>` from source in a child process, killed after 30 s: `timedOut` says it hung. */
function runIsolated(args: string[], cwd: string): CliRun & { timedOut: boolean } {
  const script =
    `require(${JSON.stringify(MAIN)}).main(${JSON.stringify(args)})` +
    '.then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 99; });';
  const r = spawnSync(process.execPath, ['-r', TSX, '-e', script], { cwd, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, timedOut: r.error !== undefined || r.signal !== null };
}

function mkfifo(file: string): void {
  const r = spawnSync('mkfifo', [file]);
  assert.equal(r.status, 0, `mkfifo ${file}: ${r.stderr?.toString()}`);
}

describe('CLI hostile inputs', function () {
  this.timeout(120_000);
  let ws: string;
  let tmp: string;
  beforeEach(() => {
    ws = makeWorkspace({ 'a.py': EVAL_PY, 'clean/c.py': CLEAN_PY });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-hostile-cli-'));
  });
  afterEach(() => {
    removeWorkspace(ws);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('--rule', () => {
    for (const sel of ['', ',', ' , ']) {
      it(`--rule '${sel}' selects no rule: exit 2 with a message, not a clean scan of nothing`, async () => {
        const r = await runCli(['sast', 'a.py', '--rule', sel, '--no-cache'], ws);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.match(r.stderr, /--rule '.*' selects no rule/);
        assert.equal(r.stdout, '');
      });
    }

    it('an empty --rule among real ones is still a usage error; a trailing comma is not', async () => {
      assert.equal((await runCli(['sast', 'a.py', '--rule', '', '--rule', ','], ws)).code, 2);
      const r = await runCli(['sast', 'a.py', '--rule', 'JIT,', '--no-cache'], ws);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /JIT-EVAL-COMPILE HIGH/);
    });
  });

  it('/dev/stdin as a path (a pipe behind two links) is named as not a regular file, not as missing', () => {
    ensureBuiltCli();
    const r = spawnSync(process.execPath, [SENTINEL_BIN, 'sast', '/dev/stdin', '--no-cache'], { input: 'eval(input())\n', encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^warning: stdin: is not a regular file or folder; not opened \[not-regular-file\]$/m);
  });

  it('a reader that closes the pipe early (| head -c 1) changes nothing: the gate\'s exit code, no stack trace', async function () {
    this.timeout(120_000);
    ensureBuiltCli();
    const args = [SENTINEL_BIN, 'sast', path.join(__dirname, '..', '..', 'fixtures', 'rules'), '--format', 'json', '--no-cache'];
    const whole = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 100_000, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(whole.status, 1, whole.stderr);
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', (c) => resolve({ code: c, stderr: err }));
    });
    assert.equal(stderr, '');
    assert.equal(code, 1);
  });

  it('a current folder or a path holding bytes that are not UTF-8 is exit 2 saying so, not a clean scan of nothing', () => {
    ensureBuiltCli();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-lossy-'));
    try {
      const raw = Buffer.concat([Buffer.from(`${dir}/pr`), Buffer.from([0xff]), Buffer.from('oj')]);
      fs.mkdirSync(Buffer.concat([raw, Buffer.from('/src')]), { recursive: true });
      fs.writeFileSync(Buffer.concat([raw, Buffer.from('/src/a.py')]), 'def f(s):\n    return eval(s)\n');
      fs.symlinkSync(raw, path.join(dir, 'link'));
      // `cd -P` makes the physical path (with the 0xFF byte) the process's current folder.
      const fromInside = spawnSync('sh', ['-c', 'cd -P link && exec "$0" "$@"', process.execPath, SENTINEL_BIN, 'sast', 'src', '--no-cache'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      assert.equal(fromInside.status, 2, fromInside.stdout);
      assert.match(fromInside.stderr, /the current folder's path \(.*\) holds bytes that are not valid UTF-8/);
      const byName = spawnSync(process.execPath, [SENTINEL_BIN, 'sast', 'pr\uFFFDoj/src', '--no-cache'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      assert.equal(byName.status, 2, byName.stdout);
      assert.match(byName.stderr, /path 'pr\uFFFDoj\/src' cannot be opened: it holds bytes that are not valid UTF-8/);
      // Scanned from above, the file is read by its bytes.
      const fromAbove = spawnSync(process.execPath, [SENTINEL_BIN, 'sast', '.', '--no-cache'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      assert.equal(fromAbove.status, 1, fromAbove.stderr);
      assert.match(fromAbove.stdout, /location: +pr\\xffoj\/src\/a\.py:2:12/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('policy files', () => {
    it('a folder named sentinel-policy.yml, given or found by discovery, is exit 2 naming it (not the built-in policy)', async () => {
      fs.mkdirSync(path.join(ws, 'clean', 'sentinel-policy.yml'));
      const found = await runCli(['sast', 'clean', '--no-cache'], ws);
      assert.equal(found.code, 2, found.stdout + found.stderr);
      assert.match(found.stderr, /clean[/\\]sentinel-policy\.yml: is a folder, not a regular file/);
      const given = await runCli(['sast', 'a.py', '--policy', 'clean/sentinel-policy.yml', '--no-cache'], ws);
      assert.equal(given.code, 2);
      assert.match(given.stderr, /sentinel-policy\.yml: is a folder, not a regular file/);
    });

    it('a policy over 1 MiB is exit 2 with its size', async () => {
      fs.writeFileSync(path.join(tmp, 'big.yml'), `# ${'x'.repeat(1024 * 1024)}\ncategory: JIT\n`);
      const r = await runCli(['sast', 'a.py', '--policy', path.join(tmp, 'big.yml'), '--no-cache'], ws);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /big\.yml: is larger than 1 MiB \(\d+ bytes\)/);
    });

    it('--policy FIFO and a discovered FIFO are exit 2 naming the file, without waiting for a writer', function () {
      if (!linux) this.skip();
      mkfifo(path.join(tmp, 'policy.yml'));
      const given = runIsolated(['sast', 'a.py', '--policy', path.join(tmp, 'policy.yml'), '--no-cache'], ws);
      assert.equal(given.timedOut, false, 'sentinel hung on a FIFO policy');
      assert.equal(given.code, 2, given.stderr);
      assert.match(given.stderr, /policy\.yml: is a FIFO \(named pipe\), not a regular file/);
      mkfifo(path.join(ws, 'clean', 'sentinel-policy.yml'));
      const found = runIsolated(['sast', 'clean', '--no-cache'], ws);
      assert.equal(found.timedOut, false, 'sentinel hung on a discovered FIFO policy');
      assert.equal(found.code, 2, found.stdout + found.stderr);
      assert.match(found.stderr, /clean[/\\]sentinel-policy\.yml: is a FIFO \(named pipe\), not a regular file/);
    });

    it('--policy /proc/self/pagemap (fstat says 0 bytes, reads are endless) is exit 2: larger than 1 MiB', function () {
      if (!linux || !fs.existsSync('/proc/self/pagemap')) this.skip();
      const r = runIsolated(['sast', 'a.py', '--policy', '/proc/self/pagemap', '--no-cache'], ws);
      assert.equal(r.timedOut, false, 'sentinel hung reading /proc/self/pagemap');
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /\/proc\/self\/pagemap: is larger than 1 MiB \(more than 1048576 bytes read\)/);
      assert.throws(() => loadPolicy('/proc/self/pagemap'), /larger than 1 MiB/);
    });
  });

  describe('sentinel merge inputs', () => {
    async function jsonReport(name: string, args: string[] = ['a.py']): Promise<string> {
      const file = path.join(tmp, name);
      const r = await runCli(['sast', ...args, '--format', 'json', '--output', file, '--no-cache'], ws);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      return file;
    }

    it('a finding with a severity the gate does not know is exit 2 naming the report and the finding, not a pass', async () => {
      ws = makeWorkspace({ 'a.py': 'def f(s):\n    return eval(s)\n' });
      const file = await jsonReport('ultra.json');
      const data = JSON.parse(fs.readFileSync(file, 'utf8')) as ScanReport;
      (data.findings[0] as { severity: string }).severity = 'ULTRA';
      fs.writeFileSync(file, JSON.stringify(data));
      const r = await runCli(['merge', file], ws);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /ultra\.json' findings\[0\] has severity "ULTRA", not one of CRITICAL, HIGH, MEDIUM, LOW, INFO/);
    });

    it('a FIFO report is exit 2 naming it, without waiting for a writer', function () {
      if (!linux) this.skip();
      mkfifo(path.join(tmp, 'shard.json'));
      const r = runIsolated(['merge', path.join(tmp, 'shard.json')], ws);
      assert.equal(r.timedOut, false, 'merge hung on a FIFO');
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /report '.*shard\.json' is a FIFO \(named pipe\), not a regular file/);
    });

    it('a folder is exit 2 naming it; a broken report is called a report, not a baseline', async () => {
      const dir = await runCli(['merge', 'clean'], ws);
      assert.equal(dir.code, 2);
      assert.match(dir.stderr, /report 'clean' is a folder, not a regular file/);
      fs.writeFileSync(path.join(tmp, 'bad.json'), '{"format": "sentinel-report/1"');
      const bad = await runCli(['merge', path.join(tmp, 'bad.json')], ws);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /report '.*bad\.json' is not JSON/);
      fs.writeFileSync(path.join(tmp, 'other.json'), '{"hello": 1}');
      const other = await runCli(['merge', path.join(tmp, 'other.json')], ws);
      assert.equal(other.code, 2);
      assert.match(other.stderr, /report '.*other\.json' is neither a Sentinel JSON report/);
      assert.doesNotMatch(bad.stderr + other.stderr, /baseline/);
    });

    it('reads inputs only up to the cap, whatever fstat says (/proc/self/pagemap says 0)', function () {
      if (!linux || !fs.existsSync('/proc/self/pagemap')) this.skip();
      assert.throws(
        () => readInputFile('/proc/self/pagemap', 'report', 4096),
        (err: unknown) => err instanceof UsageError && /report '\/proc\/self\/pagemap' is more than 4096 bytes, over the 4096-byte/.test(err.message),
      );
      fs.writeFileSync(path.join(tmp, 'small.json'), 'x'.repeat(5000));
      assert.throws(() => readInputFile(path.join(tmp, 'small.json'), 'report', 4096), /is 5000 bytes, over the 4096-byte/);
      assert.equal(readInputFile(path.join(tmp, 'small.json'), 'report', 5000).length, 5000);
    });

    it('the same report file given twice (or through a link) counts once with a warning: filesScanned is not doubled', async () => {
      const one = await jsonReport('one.json', ['.']);
      const single = JSON.parse((await runCli(['merge', one, '--format', 'json'], ws)).stdout) as ScanReport;
      assert.equal(single.filesScanned, 2);
      const twice = await runCli(['merge', one, one, '--format', 'json'], ws);
      assert.equal(twice.code, 1);
      assert.equal((JSON.parse(twice.stdout) as ScanReport).filesScanned, 2);
      assert.match(twice.stderr, /warning: report '.*one\.json' is given twice; counted once/);
      fs.symlinkSync(one, path.join(tmp, 'link.json'));
      const linked = await runCli(['merge', one, path.join(tmp, 'link.json'), '--output', path.join(tmp, 'm.json'), '--format', 'json'], ws);
      assert.equal((JSON.parse(fs.readFileSync(path.join(tmp, 'm.json'), 'utf8')) as ScanReport).filesScanned, 2);
      assert.match(linked.stderr, /report '.*link\.json' is the same file as report '.*one\.json'; counted once/);
      assert.match(linked.stderr, /from 1 report\(s\) \(1 given twice, counted once\), 2 file\(s\)/);
    });

    it('byte-identical reports from different files are both counted (equal shards write equal reports), with a warning', async () => {
      const shard = makeWorkspace({ 'f1.py': 'x = 1\n', 'f2.py': 'x = 2\n', 'f3.py': 'x = 3\n', 'f4.py': 'x = 4\n' });
      try {
        // Two clean shards of the same size write the same bytes: both count.
        const counts: number[] = [];
        for (const k of [1, 2]) {
          await runCli(['sast', '.', '--shard', `${k}/2`, '--format', 'json', '--output', path.join(tmp, `s${k}.json`), '--no-cache'], shard);
          counts.push((JSON.parse(fs.readFileSync(path.join(tmp, `s${k}.json`), 'utf8')) as ScanReport).filesScanned);
        }
        fs.copyFileSync(path.join(tmp, 's1.json'), path.join(tmp, 'copy.json'));
        const r = await runCli(['merge', path.join(tmp, 's1.json'), path.join(tmp, 'copy.json'), '--format', 'json'], shard);
        assert.equal(r.code, 0, r.stderr);
        assert.equal((JSON.parse(r.stdout) as ScanReport).filesScanned, 2 * counts[0]!);
        assert.match(r.stderr, /report '.*copy\.json' holds the same bytes as report '.*s1\.json'; both are counted/);
        const both = await runCli(['merge', path.join(tmp, 's1.json'), path.join(tmp, 's2.json'), '--format', 'json'], shard);
        assert.equal((JSON.parse(both.stdout) as ScanReport).filesScanned, 4);
      } finally {
        removeWorkspace(shard);
      }
    });

    it('keeps a backslash in a file name (legal on Linux) from a JSON report and from a SARIF %5C URI', async function () {
      if (process.platform === 'win32') this.skip();
      fs.writeFileSync(path.join(ws, 'a\\b.py'), EVAL_PY);
      const json = await jsonReport('bs.json', ['a\\b.py']);
      const fromJson = JSON.parse((await runCli(['merge', json, '--format', 'json'], ws)).stdout) as ScanReport;
      assert.deepEqual(fromJson.findings.map((f) => f.evidence.path), ['a\\b.py']);
      // The reader decodes what the SARIF says; writing `a%5Cb.py` for this file is the SARIF reporter's part.
      const sarifFile = path.join(tmp, 'bs.sarif');
      await runCli(['sast', 'a\\b.py', '--format', 'sarif', '--output', sarifFile, '--no-cache'], ws);
      fs.writeFileSync(sarifFile, fs.readFileSync(sarifFile, 'utf8').split('"uri": "a/b.py"').join('"uri": "a%5Cb.py"'));
      const fromSarif = JSON.parse((await runCli(['merge', sarifFile, '--format', 'json'], ws)).stdout) as ScanReport;
      assert.deepEqual(fromSarif.findings.map((f) => f.evidence.path), ['a\\b.py']);
    });

    it('a report holding an internal-error exits 3 when the gate passes, and 1 when it blocks', async () => {
      const failure: ScanWarning = { code: 'internal-error', path: 'clean/c.py', message: 'could not be analysed: boom' };
      const withFailure = (file: string): string => {
        const data = JSON.parse(fs.readFileSync(file, 'utf8')) as ScanReport;
        data.warnings.push(failure);
        fs.writeFileSync(file, JSON.stringify(data));
        return file;
      };
      const clean = withFailure(await jsonReport('clean.json', ['clean']));
      const passing = await runCli(['merge', clean, '--output', path.join(tmp, 'merged.json'), '--format', 'json'], ws);
      assert.equal(passing.code, 3, passing.stderr);
      assert.match(passing.stderr, /gate clean .*; 1 file\(s\) could not be analysed \(Sentinel failed on them: internal-error\)/);
      const blocked = withFailure(await jsonReport('blocked.json', ['a.py']));
      const both = await runCli(['merge', blocked, clean], ws);
      assert.equal(both.code, 1, 'the blocking finding decides the exit code');
      assert.match(both.stderr, /1 file\(s\) could not be analysed/);
    });
  });

  describe('--baseline', () => {
    it('a FIFO baseline is exit 2 naming it, without waiting for a writer', function () {
      if (!linux) this.skip();
      mkfifo(path.join(tmp, 'base.json'));
      const r = runIsolated(['sast', 'a.py', '--baseline', path.join(tmp, 'base.json'), '--no-cache'], ws);
      assert.equal(r.timedOut, false, 'sast hung on a FIFO baseline');
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /baseline file '.*base\.json' is a FIFO \(named pipe\), not a regular file/);
    });

    it('a folder baseline is exit 2 naming it', async () => {
      const r = await runCli(['sast', 'a.py', '--baseline', 'clean', '--no-cache'], ws);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /baseline file 'clean' is a folder, not a regular file/);
    });
  });

  describe('--cache-dir', () => {
    it("--cache-dir '' is exit 2 and writes nothing into the working directory", async () => {
      const before = fs.readdirSync(ws).sort();
      const r = await runCli(['sast', 'a.py', '--cache-dir', ''], ws);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--cache-dir '' names no folder/);
      assert.deepEqual(fs.readdirSync(ws).sort(), before);
    });

    it('a folder that cannot be created (/proc/nope) is refused with the cache-refused warning, not a busy loop', function () {
      if (!linux || !fs.existsSync('/proc/self')) this.skip();
      const r = runIsolated(['sast', 'a.py', '--cache-dir', '/proc/nope', '--format', 'json'], ws);
      assert.equal(r.timedOut, false, 'sentinel spun on --cache-dir /proc/nope');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /warning: not using the result cache: \/proc\/nope cannot be created \(ENOENT\)/);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.deepEqual(
        report.warnings.filter((w) => w.code === 'cache-refused').map((w) => w.path),
        ['/proc/nope'],
      );
    });

    it('a missing nested cache folder is still created, mode 0700', async function () {
      if (process.platform === 'win32') this.skip();
      const dir = path.join(tmp, 'x', 'y', 'cache');
      const r = await runCli(['sast', 'a.py', '--cache-dir', dir], ws);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
      assert.ok(fs.readdirSync(dir).length > 0, 'the scan wrote cache entries');
    });
  });

  describe('source files whose size fstat misreports', () => {
    it('a source file that yields more than --max-file-size bytes while fstat says 0 gets the too-large warning', function () {
      if (!linux || !fs.existsSync('/proc/self/pagemap')) this.skip();
      fs.symlinkSync('/proc/self/pagemap', path.join(ws, 'pagemap.py'));
      const r = runIsolated(['sast', 'pagemap.py', '--max-file-size', '65536', '--format', 'json', '--no-cache'], ws);
      assert.equal(r.timedOut, false, 'sentinel read /proc/self/pagemap without bound');
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.deepEqual(
        report.warnings.map((w) => `${w.code} ${w.path} ${w.message}`),
        ['too-large pagemap.py yields more than 65536 bytes (fstat said 0), over the limit (--max-file-size); not scanned'],
      );
    });
  });

  describe('exit 3 for a file Sentinel failed on', () => {
    function report(decision: 'blocked' | 'clean', warnings: ScanWarning[]): ScanReport {
      return {
        tool: { name: 'sentinel', version: 'test' },
        roots: ['.'],
        baseDir: ws,
        rulesRun: [],
        findings: [],
        warnings,
        filesScanned: 2,
        summary: { decision, blocking: decision === 'blocked' ? 1 : 0, tickets: 0, suppressed: 0 },
      } as unknown as ScanReport;
    }
    function deliver(r: ScanReport, output?: string): CliRun {
      let stdout = '';
      let stderr = '';
      const code = deliverReport({ stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), isTty: false }, r, {
        format: 'json',
        extra: [],
        ...(output ? { output } : {}),
        ctx: { catalog: undefined as never, times: { start: new Date(), end: new Date() }, omitAbsent: false },
        summary: 'SUMMARY',
      });
      return { code, stdout, stderr };
    }
    const failed = (p: string): ScanWarning => ({ code: 'internal-error', path: p, message: 'could not be analysed: boom' });

    it('exits 3 and counts the files (once each) when the gate would pass; 1 when it blocks; 0 without one', () => {
      const three = deliver(report('clean', [failed('a.py'), failed('a.py'), failed('b.py'), { code: 'binary', path: 'c.py', message: 'holds NUL bytes' }]));
      assert.equal(three.code, 3);
      assert.equal(three.stderr, 'sentinel: SUMMARY; 2 file(s) could not be analysed (Sentinel failed on them: internal-error)\n');
      assert.equal(deliver(report('blocked', [failed('a.py')])).code, 1);
      const clean = deliver(report('clean', [{ code: 'binary', path: 'c.py', message: 'holds NUL bytes' }]));
      assert.equal(clean.code, 0);
      assert.equal(clean.stderr, '');
      const out = path.join(tmp, 'r.json');
      const written = deliver(report('clean', [failed('a.py')]), out);
      assert.equal(written.code, 3);
      assert.equal(written.stderr, `sentinel: SUMMARY; 1 file(s) could not be analysed (Sentinel failed on them: internal-error); report written to ${out}\n`);
    });
  });
});
