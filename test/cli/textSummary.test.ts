// The text report's summary counts the files Sentinel skipped or only partly checked, by warning code, so a
// reader of the text report alone (not stderr, not the warnings list) sees the gap in the scan. Run through the
// built CLI, as CI runs it, and through toText for codes a workspace cannot produce on demand.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { toText } from '../../server/src/cli/reporters/text';
import type { ScanReport, ScanWarning } from '../../server/src/engine/finding';
import { ensureBuiltCli, SENTINEL_BIN } from '../helpers/builtCli';
import { makeWorkspace, removeWorkspace } from '../helpers/workspace';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';

function sentinel(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SENTINEL_BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The report's blank-line separated blocks, last first: the summary, then the warnings. */
function lastBlocks(text: string): string[][] {
  return text
    .trimEnd()
    .split('\n\n')
    .reverse()
    .map((b) => b.split('\n'));
}

describe('text report: files not fully scanned', function () {
  this.timeout(120_000);
  let ws: string;
  before(() => ensureBuiltCli());
  beforeEach(() => {
    ws = makeWorkspace({
      'app/calc.py': EVAL_PY,
      'app/blob.py': Buffer.from([0x78, 0x20, 0x3d, 0x20, 0x31, 0x00, 0x00, 0x0a]),
      'app/model.js': Buffer.from([0x00, 0x01, 0x02]),
      'app/latin.py': Buffer.from('name = "caf\xe9"\n', 'latin1'),
    });
    // A name that is not UTF-8 is read by its bytes and shown escaped; a FIFO is never opened.
    fs.writeFileSync(Buffer.from(path.join(ws, 'app', 'bad\xffname.py'), 'latin1'), EVAL_PY);
    execFileSync('mkfifo', [path.join(ws, 'app', 'pipe.py')]);
  });
  afterEach(() => removeWorkspace(ws));

  it('sast: the summary counts the unchecked files by warning code, under the warnings that name them', () => {
    const r = sentinel(['sast', 'app', '--no-cache'], ws);
    assert.equal(r.code, 1, r.stderr);
    const [summary, warnings] = lastBlocks(r.stdout);
    assert.deepEqual(warnings, [
      'warning: app/blob.py: holds NUL bytes (a binary file with a source extension); not scanned [binary]',
      'warning: app/latin.py: is not valid UTF-8; scanned with invalid bytes replaced, so columns on affected lines may be off [not-utf8]',
      'warning: app/model.js: holds NUL bytes (a binary file with a source extension); not scanned [binary]',
      'warning: app/pipe.py: is a FIFO, socket or device; not opened [not-regular-file]',
    ]);
    assert.match(r.stdout, /^ {2}location: +app\/bad\\xffname\.py:2:12$/m);
    assert.deepEqual(summary, [
      'Release gate: BLOCKED — 2 HIGH findings at fail_on severities',
      'Findings: 2 HIGH; 0 suppressed',
      'Files scanned: 3',
      'Files not fully scanned: 4 (2 binary, 1 not-regular-file, 1 not-utf8)',
      'Retest: sentinel sast ./src/ --rule JIT',
    ]);
  });

  it('merge: the text report of joined shards says the same', () => {
    const shard = (k: number): string => {
      const file = path.join(ws, `shard${k}.json`);
      const r = sentinel(['sast', 'app', '--shard', `${k}/2`, '--format', 'json', '--output', file, '--no-cache'], ws);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      return file;
    };
    const r = sentinel(['merge', shard(1), shard(2)], ws);
    assert.equal(r.code, 1, r.stderr);
    const [summary] = lastBlocks(r.stdout);
    assert.deepEqual(summary!.slice(2, 4), ['Files scanned: 3', 'Files not fully scanned: 4 (2 binary, 1 not-regular-file, 1 not-utf8)']);
  });

  it('a clean workspace has no such line', () => {
    fs.rmSync(path.join(ws, 'app'), { recursive: true });
    fs.mkdirSync(path.join(ws, 'app'));
    fs.writeFileSync(path.join(ws, 'app', 'ok.py'), 'x = 1\n');
    const r = sentinel(['sast', 'app', '--no-cache'], ws);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lastBlocks(r.stdout)[0], [
      'Release gate: clean — nothing at fail_on or ticket_on severities',
      'Findings: none; 0 suppressed',
      'Files scanned: 1',
      'Retest: sentinel sast ./src/ --rule JIT',
    ]);
  });

  it('counts each file once, and not warnings that leave every file checked', () => {
    const warn = (code: ScanWarning['code'], p: string, line?: number): ScanWarning => ({ code, path: p, message: 'reason', ...(line ? { line } : {}) });
    const report: ScanReport = {
      tool: { name: 'sentinel', version: '0.0.0' },
      roots: ['/w'],
      baseDir: '/w',
      rulesRun: [],
      findings: [],
      warnings: [
        warn('internal-error', 'src/a.py'),
        warn('internal-error', 'src/b.py'),
        warn('parse-error', 'cache/m.pt'),
        warn('parse-error', 'cache/m.pt'),
        warn('incomplete-allow-comment', 'src/c.py', 3),
        warn('policy-expired-allowlist', 'sentinel-policy.yml'),
        warn('cache-refused', '/home/u/.cache/sentinel'),
      ],
      filesScanned: 9,
      summary: { decision: 'clean', bySeverity: { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFO: 0 }, blocking: 0, tickets: 0, suppressed: 0, retest: 'sentinel sast .' },
    };
    const [summary] = lastBlocks(toText(report, { color: false }));
    assert.deepEqual(summary!.slice(2, 4), ['Files scanned: 9', 'Files not fully scanned: 3 (2 internal-error, 1 parse-error)']);
  });
});
