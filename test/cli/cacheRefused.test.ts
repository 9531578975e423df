// A result cache folder Sentinel refuses (others could plant results there) is reported where CI shows it:
// a `cache-refused` warning in the report, its JSON, SARIF and text forms, besides the line on stderr.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv from 'ajv';
import type { ScanReport } from '../../server/src/engine/finding';
import { openResultCache } from '../../server/src/engine/resultCache';
import { sarifErrors } from '../helpers/sarifValidator';
import { makeWorkspace, removeWorkspace, runCli } from '../helpers/workspace';

const SOURCE = { 'a.py': 'def f(s):\n    return eval(s)\n' };

interface SarifLike {
  runs: { invocations?: { toolExecutionNotifications?: { level: string; message: { text: string }; descriptor?: { id: string }; locations?: { physicalLocation: { artifactLocation: { uri: string } } }[] }[] }[] }[];
}

describe('a refused result cache in the report', function () {
  this.timeout(60_000);
  let ws: string;
  let tmp: string;
  beforeEach(function () {
    if (process.platform === 'win32') this.skip(); // folder modes do not describe Windows ACLs
    ws = makeWorkspace(SOURCE);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-cache-refused-'));
  });
  afterEach(() => {
    if (ws) removeWorkspace(ws);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('openResultCache gives the refusal as a ScanWarning naming the folder and why', () => {
    const dir = path.join(tmp, 'shared');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o777);
    const opened = openResultCache(dir, { engine: 'e' });
    assert.equal(opened.cache, undefined);
    assert.deepEqual(opened.refusal, {
      code: 'cache-refused',
      path: dir,
      message: 'is world-writable (mode 0777); others could plant results there, so this scan ran without the result cache. Use a folder only you can write (chmod 700), --cache-dir DIR, or --no-cache',
    });
    const safe = openResultCache(path.join(tmp, 'mine'), { engine: 'e' });
    assert.ok(safe.cache);
    assert.equal(safe.refusal, undefined);
  });

  it('puts a group-writable --cache-dir in the JSON report (valid against report.schema.json), keeps stderr, and still scans', async () => {
    const dir = path.join(tmp, 'group');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o775);
    const r = await runCli(['sast', '.', '--format', 'json', '--cache-dir', dir], ws);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`sentinel: warning: not using the result cache: ${dir} is group-writable (mode 0775)`), r.stderr);
    const report = JSON.parse(r.stdout) as ScanReport;
    assert.equal(report.findings.length, 1, 'the scan ran without the cache');
    assert.deepEqual(
      report.warnings.filter((w) => w.code === 'cache-refused'),
      [
        {
          code: 'cache-refused',
          path: dir,
          message: 'is group-writable (mode 0775); others could plant results there, so this scan ran without the result cache. Use a folder only you can write (chmod 700), --cache-dir DIR, or --no-cache',
        },
      ],
    );
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../rules/report.schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    assert.ok(validate(report), JSON.stringify(validate.errors));
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing was written there');
  });

  it('shows a symlinked --cache-dir as a SARIF tool notification and a text warning', async () => {
    const real = path.join(tmp, 'real');
    fs.mkdirSync(real, { mode: 0o700 });
    const link = path.join(tmp, 'link');
    fs.symlinkSync(real, link);
    const sarifFile = path.join(tmp, 'out.sarif');
    const r = await runCli(['sast', '.', '--format', 'text', '--no-color', '--cache-dir', link, '--report', `sarif=${sarifFile}`], ws);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not using the result cache: .*link is a symbolic link/);
    assert.ok(r.stdout.includes(`warning: ${link}: is a symbolic link; others could plant results there, so this scan ran without the result cache.`), r.stdout);
    assert.match(r.stdout, /\[cache-refused\]/);
    const sarif = JSON.parse(fs.readFileSync(sarifFile, 'utf8')) as SarifLike;
    assert.deepEqual(sarifErrors(sarif).errors, []);
    const notes = sarif.runs[0].invocations?.[0]?.toolExecutionNotifications ?? [];
    const refused = notes.filter((n) => n.descriptor?.id === 'cache-refused');
    assert.equal(refused.length, 1, JSON.stringify(notes));
    assert.equal(refused[0].level, 'warning');
    assert.match(refused[0].message.text, /link: is a symbolic link/);
    assert.equal(refused[0].locations?.[0]?.physicalLocation.artifactLocation.uri, `file://${link}`);
    assert.deepEqual(fs.readdirSync(real), [], 'nothing was written through the link');
  });

  it('adds no cache warning when the cache is used or turned off', async () => {
    const used = await runCli(['sast', '.', '--format', 'json', '--cache-dir', path.join(tmp, 'ok')], ws);
    const off = await runCli(['sast', '.', '--format', 'json', '--no-cache'], ws);
    for (const r of [used, off]) {
      assert.equal(r.stderr, '');
      assert.deepEqual((JSON.parse(r.stdout) as ScanReport).warnings, []);
    }
  });
});
