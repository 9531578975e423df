// `sentinel merge` reads each report once: what it merges (findings, files scanned, warnings) all comes from
// the same bytes, so a report rewritten while merge runs (a CI job still uploading it) cannot come out half
// old and half new.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mergeReports, readReportFile } from '../../server/src/cli/merge';
import type { ScanReport } from '../../server/src/engine/finding';
import { loadCatalog } from '../../server/src/engine/rules/catalog';
import { makeWorkspace, removeWorkspace, runCli } from '../helpers/workspace';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';

describe('sentinel merge: each report read once', function () {
  this.timeout(120_000);
  const catalog = loadCatalog();
  let ws: string;
  let tmp: string;
  beforeEach(() => {
    ws = makeWorkspace({ 'a.py': EVAL_PY, 'clean/c.py': 'x = 1\n', 'clean/d.py': 'y = 2\n' });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-merge-inputs-'));
  });
  afterEach(() => {
    removeWorkspace(ws);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function report(name: string, format: 'json' | 'sarif', target: string): Promise<string> {
    const file = path.join(tmp, name);
    const r = await runCli(['sast', target, '--format', format, '--output', file, '--no-cache'], ws);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    return file;
  }

  for (const format of ['json', 'sarif'] as const) {
    it(`a ${format} report rewritten right after its read merges as read, not half old and half new`, async () => {
      const blocking = await report(`blocking.${format}`, format, 'a.py');
      const pristine = path.join(tmp, `pristine.${format}`);
      fs.copyFileSync(blocking, pristine);
      const clean = fs.readFileSync(await report(`clean.${format}`, format, 'clean'));
      const reads: string[] = [];
      // Another writer replaces the report's content the moment merge has read it; a second read would see it.
      const rewrittenAfterRead = (file: string): Buffer => {
        reads.push(file);
        const bytes = readReportFile(file);
        fs.writeFileSync(file, clean);
        return bytes;
      };
      const merged = mergeReports([blocking], catalog, rewrittenAfterRead);
      assert.deepEqual(reads, [blocking]);
      const expected = mergeReports([pristine], catalog);
      assert.deepEqual(merged.findings.map((f) => [f.ruleId, f.evidence.path, f.fingerprint]), [['JIT-EVAL-COMPILE', 'a.py', expected.findings[0]!.fingerprint]]);
      assert.deepEqual(merged, expected);
    });
  }

  it('hands each of several reports, JSON and SARIF, to readReport once, in order, and merges them as the CLI does', async () => {
    const files = [await report('a.json', 'json', 'a.py'), await report('c.sarif', 'sarif', 'clean')];
    const reads: string[] = [];
    const merged = mergeReports(files, catalog, (file) => {
      reads.push(file);
      return readReportFile(file);
    });
    assert.deepEqual(reads, files);
    assert.equal(merged.extras.filesScanned, 3);
    const cli = JSON.parse((await runCli(['merge', ...files, '--format', 'json'], ws)).stdout) as ScanReport;
    assert.equal(cli.filesScanned, 3);
    assert.deepEqual(
      cli.findings.map((f) => f.fingerprint),
      merged.findings.map((f) => f.fingerprint),
    );
  });
});
