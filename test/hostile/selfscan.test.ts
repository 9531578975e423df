// Sentinel scans its own source with its own rules, as CI would scan a customer's: no unsuppressed finding,
// and every file of ours parses. A true positive is fixed or allowlisted with a reason; a false positive is a bug.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import type { ScanReport } from '../../server/src/engine/finding';
import { ensureBuiltCli, REPO_ROOT, SENTINEL_BIN } from '../helpers/builtCli';

describe('self-scan', function () {
  this.timeout(180_000);

  it('`sentinel sast server client shared rules bench esbuild.mjs --rule JIT` reports no unsuppressed finding', () => {
    ensureBuiltCli();
    const args = ['sast', 'server', 'client', 'shared', 'rules', 'bench', 'esbuild.mjs', '--rule', 'JIT', '--format', 'json'];
    const r = spawnSync(process.execPath, [SENTINEL_BIN, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(r.error, undefined);
    const report = JSON.parse(r.stdout) as ScanReport;
    const open = report.findings.filter((f) => f.decision !== 'suppressed');
    assert.deepEqual(
      open.map((f) => `${f.ruleId} ${f.evidence.path}:${f.evidence.startLine} ${f.evidence.snippet}`),
      [],
      'unsuppressed findings in Sentinel\'s own source',
    );
    for (const f of report.findings) assert.ok(f.suppression?.reason, `${f.evidence.path}:${f.evidence.startLine} is suppressed without a reason`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(report.summary.decision, 'clean');
    // Our own files must all be read and parsed: a warning here means the engine misreads TypeScript we write.
    // (This includes allow comments: the code-action rewrites build them in template strings, which are not comments.)
    assert.deepEqual(report.warnings, []);
    assert.ok(report.filesScanned > 50, `only ${report.filesScanned} files scanned`);
  });
});
