// Compiled caches in the CI flows: a poisoned checkpoint added by a commit is scanned by --changed-since and
// is `new` against a baseline ref, then `unchanged` once it is in the baseline. Caches come from
// fixtures/caches/make_caches.py (python3); the archive is only disassembled, never loaded.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ScanReport } from '../../server/src/engine/finding';
import { commitAll, GIT_TEST_ENV, makeGitRepo, writeFiles } from '../helpers/gitRepo';
import { ensureBuiltCli, REPO_ROOT, SENTINEL_BIN } from '../helpers/builtCli';

function hasPython(): boolean {
  return spawnSync('python3', ['--version']).status === 0;
}

function sentinel(cwd: string, ...args: string[]): { code: number; report: ScanReport } {
  const run = spawnSync(process.execPath, [SENTINEL_BIN, 'sast', ...args, '--rule', 'JIT', '--format', 'json'], { cwd, env: GIT_TEST_ENV, encoding: 'utf8' });
  assert.ok(run.stdout, run.stderr);
  return { code: run.status ?? -1, report: JSON.parse(run.stdout) as ScanReport };
}

describe('compiled caches in CI flows', function () {
  this.timeout(60000);
  let caches: string;
  let repo: string;

  before(function () {
    if (!hasPython()) {
      console.log('      skipped: python3 is not installed (fixtures/caches/make_caches.py writes the caches)');
      this.skip();
    }
    ensureBuiltCli();
    caches = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-ci-caches-'));
    execFileSync('python3', [path.join(REPO_ROOT, 'fixtures', 'caches', 'make_caches.py'), caches], { stdio: 'ignore' });
    repo = makeGitRepo({ 'app.py': 'x = 1\n' });
    fs.mkdirSync(path.join(repo, 'models'));
    fs.copyFileSync(path.join(caches, 'tree', 'poisoned', 'models', 'backdoored.pt'), path.join(repo, 'models', 'backdoored.pt'));
    commitAll(repo, 'add a checkpoint');
  });

  after(() => {
    for (const dir of [caches, repo]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('scans a checkpoint added since the ref with --changed-since', () => {
    const { report } = sentinel(repo, '--changed-since', 'HEAD~1');
    const [f] = report.findings;
    assert.equal(report.findings.length, 1);
    assert.equal(f.evidence.path, 'models/backdoored.pt');
    assert.equal(f.evidence.cache?.import, 'os.system');
    assert.equal(f.confidence, 'high');
    assert.deepEqual(report.warnings, []);
  });

  it('classifies it new against the commit before it, and unchanged once the baseline holds it', () => {
    assert.equal(sentinel(repo, '.', '--baseline-ref', 'HEAD~1').report.findings[0].baselineState, 'new');
    writeFiles(repo, { 'app.py': 'x = 2\n' });
    commitAll(repo, 'unrelated edit');
    const later = sentinel(repo, '.', '--baseline-ref', 'HEAD~1').report;
    assert.deepEqual(later.findings.map((f) => f.baselineState), ['unchanged']);
  });
});
