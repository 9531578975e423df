// The `sentinel` command as CI and security teams use it: formats, exit codes, policy cases, bad input and
// fingerprints that survive code moving. Runs the CLI in-process on temporary workspaces.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import type { ScanReport } from '../../server/src/engine/finding';
import { makeWorkspace, removeWorkspace, runCli } from '../helpers/workspace';
import { sarifErrors } from '../helpers/sarifValidator';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';
const KERNEL_PY = 'import cupy as cp\n\ndef build(op):\n    src = f"__global__ void k(float* x) {{ x[0] = {op}; }}"\n    return cp.RawKernel(src, "k")\n';
const CACHE_ENV = 'TRITON_CACHE_DIR=/tmp/triton\n';
const CLEAN_PY = 'import re\n\ndef f(model, p):\n    model.eval()\n    return re.compile(p)\n';

function parseJson(stdout: string): ScanReport {
  return JSON.parse(stdout) as ScanReport;
}

describe('sentinel sast', () => {
  let ws: string;
  afterEach(() => ws && removeWorkspace(ws));

  it('prints the spec three lines for each rule, the location, owner and a blocked summary; exits 1', async () => {
    ws = makeWorkspace({ 'src/calc.py': EVAL_PY, 'src/kern.py': KERNEL_PY, 'deploy/.env': CACHE_ENV });
    const r = await runCli(['sast', '.', '--rule', 'JIT'], ws);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stdout.includes('JIT-EVAL-COMPILE HIGH\nDynamic eval or compile\nDo not compile user-controlled strings.'), r.stdout);
    assert.ok(r.stdout.includes('JIT-DYNAMIC-KERNEL HIGH\nDynamic Kernel Generation\nSeparate kernel code from runtime data.'));
    assert.ok(r.stdout.includes('JIT-CACHE-POISONING MEDIUM\nWritable JIT Cache\nProtect compiled caches from untrusted writes.'));
    assert.match(r.stdout, /src\/calc\.py:2:12/);
    assert.match(r.stdout, /Application security and backend\/agent owner/);
    assert.match(r.stdout, /Release gate: BLOCKED/);
    assert.match(r.stdout, /Retest: sentinel sast \.\/src\/ --rule JIT/);
  });

  it('exits 0 with tickets only when nothing reaches fail_on', async () => {
    ws = makeWorkspace({ '.env': CACHE_ENV });
    const r = await runCli(['sast', '.', '--rule', 'JIT'], ws);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /tickets: 1 MEDIUM finding/);
  });

  it('exits 0 and says clean on look-alikes', async () => {
    ws = makeWorkspace({ 'a.py': CLEAN_PY });
    const r = await runCli(['sast', 'a.py'], ws);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Release gate: clean/);
  });

  it('writes the full record as JSON', async () => {
    ws = makeWorkspace({ 'src/calc.py': EVAL_PY });
    const r = await runCli(['sast', 'src', '--format', 'json'], ws);
    assert.equal(r.code, 1);
    const report = parseJson(r.stdout);
    assert.equal(report.findings.length, 1);
    const f = report.findings[0];
    assert.equal(f.ruleId, 'JIT-EVAL-COMPILE');
    assert.equal(f.cwe, 'CWE-95');
    assert.equal(f.owaspLlm, 'LLM01 — Prompt Injection');
    assert.equal(f.decision, 'block');
    assert.equal(f.retest, 'sentinel sast ./src/ --rule JIT');
    assert.equal(f.evidence.path, 'src/calc.py');
    assert.deepEqual([f.evidence.startLine, f.evidence.startColumn, f.evidence.endLine, f.evidence.endColumn], [2, 12, 2, 28]);
    assert.equal(f.evidence.nodeType, 'call');
    assert.equal(f.evidence.snippet, 'eval(expression)');
    assert.equal(f.confidence, 'medium');
    assert.match(f.evidence.signal, /parameter of `calculate\(\)`/);
    assert.match(f.fingerprint, /^[0-9a-f]{32}$/);
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../rules/report.schema.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    assert.ok(validate(JSON.parse(r.stdout)), JSON.stringify(validate.errors));
  });

  it('writes SARIF 2.1.0 that passes the validator with GitHub rules, to a file with --output', async () => {
    ws = makeWorkspace({ 'src/calc.py': EVAL_PY, 'src/kern.py': KERNEL_PY, '.env': CACHE_ENV, 'sentinel-policy.yml': 'category: JIT\nfail_on: [CRITICAL, HIGH]\nticket_on: [MEDIUM]\nretest: "sentinel sast . --rule JIT"\nallowlist:\n  - rule: JIT-CACHE-POISONING\n    path: ".env"\n    reason: "dev-only container, rebuilt per run"\n' });
    const r = await runCli(['sast', '.', '--format', 'sarif', '--output', 'out/report.sarif'], ws);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /report written to out\/report\.sarif/);
    const sarif = JSON.parse(fs.readFileSync(path.join(ws, 'out/report.sarif'), 'utf8'));
    assert.equal(sarif.version, '2.1.0');
    const ids = sarif.runs[0].results.map((x: { ruleId: string }) => x.ruleId).sort();
    assert.deepEqual(ids, ['JIT-CACHE-POISONING', 'JIT-DYNAMIC-KERNEL', 'JIT-EVAL-COMPILE']);
    const suppressed = sarif.runs[0].results.find((x: { ruleId: string }) => x.ruleId === 'JIT-CACHE-POISONING');
    assert.equal(suppressed.suppressions[0].justification, 'dev-only container, rebuilt per run');
    const { errors } = sarifErrors(sarif);
    assert.deepEqual(errors, []);
  });

  it('exits 0 when a policy allowlists every finding, and still lists them as suppressed', async () => {
    ws = makeWorkspace({
      'src/calc.py': EVAL_PY,
      'src/kern.py': KERNEL_PY,
      'sentinel-policy.yml': 'category: JIT\nfail_on: [CRITICAL, HIGH]\nticket_on: [MEDIUM]\nretest: "sentinel sast ./src/ --rule JIT"\nallowlist:\n  - rule: JIT\n    path: "src/**"\n    reason: "sandboxed evaluator, risk accepted by AppSec"\n',
    });
    const r = await runCli(['sast', 'src', '--format', 'json'], ws);
    assert.equal(r.code, 0, r.stdout);
    const report = parseJson(r.stdout);
    assert.equal(report.findings.length, 2);
    assert.ok(report.findings.every((f) => f.decision === 'suppressed' && f.suppression?.reason === 'sandboxed evaluator, risk accepted by AppSec'));
    assert.equal(report.summary.decision, 'clean');
  });

  it('honours an inline allow comment with a reason, and keeps the finding', async () => {
    ws = makeWorkspace({ 'a.py': 'def f(e):\n    # sentinel: allow JIT-EVAL-COMPILE -- input is validated by the grammar in parse()\n    return eval(e)\n' });
    const r = await runCli(['sast', 'a.py', '--format', 'json'], ws);
    assert.equal(r.code, 0);
    const [f] = parseJson(r.stdout).findings;
    assert.equal(f.decision, 'suppressed');
    assert.equal(f.suppression?.kind, 'inline');
    assert.match(f.suppression?.reason ?? '', /validated by the grammar/);
  });

  it('applies per-rule fail_on from the policy', async () => {
    ws = makeWorkspace({
      '.env': CACHE_ENV,
      'sentinel-policy.yml': 'category: JIT\nfail_on: [CRITICAL, HIGH]\nticket_on: [MEDIUM]\nretest: "sentinel sast . --rule JIT"\nrules:\n  JIT-CACHE-POISONING:\n    owner: "Platform team"\n    fail_on: ["CRITICAL", "HIGH", "MEDIUM"]\n',
    });
    const r = await runCli(['sast', '.', '--format', 'json'], ws);
    assert.equal(r.code, 1);
    const [f] = parseJson(r.stdout).findings;
    assert.equal(f.owner, 'Platform team');
    assert.equal(f.decision, 'block');
    assert.equal(f.retest, 'sentinel sast . --rule JIT');
  });

  it('warns about an expired allowlist entry and gates again', async () => {
    ws = makeWorkspace({
      'a.py': EVAL_PY,
      'sentinel-policy.yml': 'category: JIT\nfail_on: [HIGH]\nticket_on: [MEDIUM]\nretest: "sentinel sast . --rule JIT"\nallowlist:\n  - rule: JIT-EVAL-COMPILE\n    path: "a.py"\n    reason: "temporary"\n    expires: 2020-01-01\n',
    });
    const r = await runCli(['sast', '.', '--format', 'json'], ws);
    assert.equal(r.code, 1);
    const report = parseJson(r.stdout);
    assert.equal(report.findings[0].decision, 'block');
    assert.ok(report.warnings.some((w) => w.code === 'policy-expired-allowlist' && /expired on 2020-01-01/.test(w.message)));
  });

  it('uses --policy over the nearest policy file', async () => {
    ws = makeWorkspace({ 'a.py': EVAL_PY, 'gate/strict.yml': 'category: JIT\nfail_on: [CRITICAL]\nticket_on: [HIGH]\nretest: "sentinel sast a.py"\n' });
    const r = await runCli(['sast', 'a.py', '--policy', 'gate/strict.yml'], ws);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Retest: sentinel sast a\.py/);
  });

  for (const [name, args, pattern] of [
    ['a missing path', ['sast', 'nope/'], /path 'nope\/' does not exist/],
    ['an unknown rule', ['sast', '.', '--rule', 'XSS'], /unknown rule or category 'XSS'/],
    ['an unknown format', ['sast', '.', '--format', 'xml'], /unknown format 'xml'/],
    ['an unknown option', ['sast', '.', '--frobnicate'], /Unknown option '--frobnicate'/],
    ['no path', ['sast'], /needs at least one path/],
    ['an unknown command', ['scan', '.'], /unknown command 'scan'/],
    ['a missing policy file', ['sast', '.', '--policy', 'missing.yml'], /policy file 'missing.yml' does not exist/],
  ] as const) {
    it(`exits 2 on ${name}`, async () => {
      ws = makeWorkspace({ 'a.py': EVAL_PY });
      const r = await runCli([...args], ws);
      assert.equal(r.code, 2);
      assert.match(r.stderr, pattern);
    });
  }

  it('exits 2 on a broken policy and names the file and the reason', async () => {
    ws = makeWorkspace({ 'a.py': EVAL_PY, 'sentinel-policy.yml': 'fail_on: [HGH]\n' });
    const r = await runCli(['sast', '.'], ws);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /sentinel-policy\.yml/);
    assert.match(r.stderr, /HGH/);
  });

  it('keeps scanning past binary, non-UTF-8, oversized, unparsable files and symlink loops, with a warning for each', async () => {
    ws = makeWorkspace({
      'good.py': EVAL_PY,
      'blob.py': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2]),
      'latin1.py': Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from('\ndef g(x):\n    exec(x)\n')]),
      'big.py': `x = 1\n${'# padding\n'.repeat(2000)}`,
      'broken.py': 'def f(x:\n    pass\n\ndef g(y):\n    return eval(y)\n',
      'nb.ipynb': '{ not json',
    });
    fs.symlinkSync(ws, path.join(ws, 'loop'));
    fs.symlinkSync('/etc', path.join(ws, 'outside'));
    fs.symlinkSync(path.join(ws, 'gone.py'), path.join(ws, 'dangling.py'));
    const r = await runCli(['sast', '.', '--format', 'json', '--max-file-size', '10000'], ws);
    const report = parseJson(r.stdout);
    const codes = (p: string) => report.warnings.filter((w) => w.path === p).map((w) => w.code);
    assert.deepEqual(codes('blob.py'), ['binary']);
    assert.deepEqual(codes('latin1.py'), ['not-utf8']);
    assert.deepEqual(codes('big.py'), ['too-large']);
    assert.deepEqual(codes('broken.py'), ['parse-error']);
    assert.deepEqual(codes('nb.ipynb'), ['bad-notebook']);
    assert.deepEqual(codes('outside'), ['symlink-outside-root']);
    assert.deepEqual(codes('dangling.py'), ['symlink-loop']);
    assert.ok(report.warnings.some((w) => w.code === 'symlink-loop' && w.path === 'loop'), JSON.stringify(report.warnings));
    const found = report.findings.map((f) => `${f.evidence.path}:${f.evidence.startLine}`).sort();
    assert.deepEqual(found, ['broken.py:5', 'good.py:2', 'latin1.py:3']);
    assert.equal(r.code, 1);
  });

  it('skips .git, node_modules, virtualenvs, build output and .gitignored paths', async () => {
    ws = makeWorkspace({
      'src/a.py': EVAL_PY,
      '.git/hooks/x.py': EVAL_PY,
      'node_modules/pkg/index.js': 'eval(process.argv[2])\n',
      'env/pyvenv.cfg': 'home = /usr/bin\n',
      'env/lib/x.py': EVAL_PY,
      'dist/bundle.js': 'eval(process.argv[2])\n',
      'generated/x.py': EVAL_PY,
      '.gitignore': 'generated/\n',
    });
    const r = await runCli(['sast', '.', '--format', 'json'], ws);
    assert.deepEqual(parseJson(r.stdout).findings.map((f) => f.evidence.path), ['src/a.py']);
  });

  it('scans a .gitignored file when it is named explicitly', async () => {
    ws = makeWorkspace({ 'generated/x.py': EVAL_PY, '.gitignore': 'generated/\n' });
    const r = await runCli(['sast', 'generated/x.py', '--format', 'json'], ws);
    assert.equal(parseJson(r.stdout).findings.length, 1);
  });

  it('keeps fingerprints when lines are added above and when the tree moves to another root', async () => {
    ws = makeWorkspace({ 'one/src/calc.py': EVAL_PY, 'two/deep/src/calc.py': `import os\n\n# helper\n\n${EVAL_PY.replace('    return', '        return').replace('def', 'def')}` });
    const first = parseJson((await runCli(['sast', 'one', '--format', 'json'], ws)).stdout).findings[0];
    const moved = parseJson((await runCli(['sast', 'src', '--format', 'json'], path.join(ws, 'two/deep'))).stdout).findings[0];
    assert.notEqual(first.evidence.startLine, moved.evidence.startLine);
    assert.equal(first.fingerprint, moved.fingerprint);
  });

  it('changes the fingerprint when the finding itself changes', async () => {
    ws = makeWorkspace({ 'a.py': EVAL_PY, 'b.py': EVAL_PY.replace('eval(expression)', 'exec(expression)') });
    const report = parseJson((await runCli(['sast', '.', '--format', 'json'], ws)).stdout);
    const [a, b] = report.findings;
    assert.notEqual(a.fingerprint, b.fingerprint);
  });

  it('reports notebook findings on the right cell and on the .ipynb line', async () => {
    const nb = {
      cells: [
        { cell_type: 'markdown', metadata: {}, source: ['# Demo\n'] },
        { cell_type: 'code', metadata: {}, execution_count: 1, outputs: [], source: ['%pip install cupy\n', 'expr = input("formula: ")\n'] },
        { cell_type: 'code', metadata: {}, execution_count: 2, outputs: [], source: ['!ls\n', 'result = eval(expr)\n'] },
      ],
      metadata: {},
      nbformat: 4,
      nbformat_minor: 5,
    };
    const text = JSON.stringify(nb, null, 1);
    ws = makeWorkspace({ 'nb.ipynb': text });
    const report = parseJson((await runCli(['sast', 'nb.ipynb', '--format', 'json'], ws)).stdout);
    assert.equal(report.findings.length, 1);
    const f = report.findings[0];
    assert.deepEqual(f.evidence.cell, { cell: 2, line: 2, column: 10 });
    const jsonLine = text.split('\n').findIndex((l) => l.includes('result = eval(expr)')) + 1;
    assert.equal(f.evidence.startLine, jsonLine);
    assert.equal(f.confidence, 'high');
    assert.equal(f.trace[0].kind, 'source');
  });

  it('counts columns in UTF-16 code units after an emoji and CJK text', async () => {
    ws = makeWorkspace({ 'u.py': 'def f(x):\n    s = "😀中文"; eval(x)\n' });
    const [f] = parseJson((await runCli(['sast', 'u.py', '--format', 'json'], ws)).stdout).findings;
    // 4 spaces + `s = "` (5) + emoji (2 units) + 2 CJK + `"; ` (3) → eval starts at UTF-16 column 17.
    assert.equal(f.evidence.startColumn, 17);
  });
});

describe('sentinel rules / --help / --version', () => {
  it('lists the catalog with the spec three lines', async () => {
    const r = await runCli(['rules']);
    assert.equal(r.code, 0);
    for (const id of ['JIT-EVAL-COMPILE HIGH', 'JIT-DYNAMIC-KERNEL HIGH', 'JIT-CACHE-POISONING MEDIUM']) assert.ok(r.stdout.includes(id));
    assert.match(r.stdout, /CWE-345 · LLM03 — Supply Chain/);
  });

  it('lists the catalog as JSON', async () => {
    const r = await runCli(['rules', '--format', 'json']);
    assert.deepEqual(JSON.parse(r.stdout).map((x: { id: string }) => x.id), ['JIT-CACHE-POISONING', 'JIT-DYNAMIC-KERNEL', 'JIT-EVAL-COMPILE']);
  });

  it('prints help and version', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /sentinel sast <paths\.\.\.>/);
    const version = await runCli(['--version']);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
