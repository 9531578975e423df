// A file that exhausts tree-sitter's WebAssembly memory (here 12 MB of `1+1+…` on one line, let through by a
// raised --max-file-size) aborts the parser's instance. The scan names the crash on that file and analyses the
// files after it with a fresh instance: in a worker when the crash was in-process (--jobs 1), in a new worker
// when a worker crashed (--jobs 2). Run out of process: the abort would break this process's own parser.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ScanReport } from '../../server/src/engine/finding';
import { ensureBuiltCli, SENTINEL_BIN } from '../helpers/builtCli';

describe('hostile input: a parser crash', function () {
  this.timeout(240_000);
  let dir: string;

  before(() => {
    ensureBuiltCli();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-crash-'));
    fs.writeFileSync(path.join(dir, 'a_huge_sum.py'), `x = ${Array(6_000_000).fill('1').join('+')}\neval(input())\n`);
    for (const name of ['b_one.py', 'c_two.py', 'd_three.py']) fs.writeFileSync(path.join(dir, name), 'def f(x):\n    return eval(x)\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const jobs of ['1', '2']) {
    it(`names the crash on the file and still analyses the files after it (--jobs ${jobs})`, () => {
      const r = spawnSync(process.execPath, [SENTINEL_BIN, 'sast', dir, '--rule', 'JIT', '--no-cache', '--jobs', jobs, '--max-file-size', '200000000', '--format', 'json'], {
        encoding: 'utf8',
        timeout: 200_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      assert.equal(r.signal, null, `the scan was killed: ${r.stderr}`);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.deepEqual(report.findings.map((f) => path.basename(f.evidence.path)).sort(), ['b_one.py', 'c_two.py', 'd_three.py']);
      assert.deepEqual(
        report.warnings.map((w) => [w.code, path.basename(w.path)]),
        [['internal-error', 'a_huge_sum.py']],
      );
      assert.match(report.warnings[0].message, /tree-sitter's parser crashed on it \(it ran out of memory or aborted/);
      assert.doesNotMatch(r.stderr, /Aborted\(\)|ASSERTIONS/, 'no raw Emscripten message');
      // The gate blocks on the sinks found; a passing gate would have exited 3 for the file Sentinel failed on.
      assert.equal(r.status, 1, r.stderr);
    });
  }
});
