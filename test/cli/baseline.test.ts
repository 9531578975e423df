// New-findings-only gating: --baseline-ref on a scratch repository's history (an old finding, a commit adding a
// new one, a commit moving the old one's file, a commit fixing one), --baseline with saved JSON and SARIF
// reports, the matching rules for moved code, the baseline in every output, and --fail-on.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv from 'ajv';
import { classifyAgainstBaseline } from '../../server/src/engine/baseline';
import type { Finding, ScanReport } from '../../server/src/engine/finding';
import { commitAll, git, makeGitRepo, writeFiles } from '../helpers/gitRepo';
import { sarifErrors } from '../helpers/sarifValidator';
import { makeWorkspace, removeWorkspace, runCli } from '../helpers/workspace';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';
const KERNEL_PY = 'import cupy as cp\n\ndef build(op):\n    src = f"__global__ void k(float* x) {{ x[0] = {op}; }}"\n    return cp.RawKernel(src, "k")\n';
const CACHE_ENV = 'TRITON_CACHE_DIR=/tmp/triton\n';

interface Counts {
  new: number;
  unchanged: number;
  updated: number;
  absent: number;
}

function countsOf(report: ScanReport): Counts {
  assert.ok(report.baseline, 'the report has a baseline section');
  const { new: fresh, unchanged, updated, absent } = report.baseline;
  return { new: fresh, unchanged, updated, absent };
}

function states(report: ScanReport): string[] {
  return report.findings.map((f) => `${f.evidence.path}:${f.baselineState}`).sort();
}

const reportSchema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../rules/report.schema.json'), 'utf8'));
const validateReport = new Ajv({ allErrors: true, strict: true }).compile(reportSchema);

describe('sentinel sast --baseline-ref on a repository history', () => {
  let repo: string;
  const c: Record<'c1' | 'c2' | 'c3' | 'c4', string> = { c1: '', c2: '', c3: '', c4: '' };

  before(() => {
    repo = makeGitRepo({ 'app/calc.py': EVAL_PY });
    c.c1 = git(repo, 'rev-parse', 'HEAD');
    writeFiles(repo, { 'app/kern.py': KERNEL_PY });
    c.c2 = commitAll(repo, 'add a kernel built from a runtime value');
    writeFiles(repo, { 'app/calc.py': null, 'lib/calc.py': `import os\n\n# moved here, lines added above\n${EVAL_PY}` });
    c.c3 = commitAll(repo, 'move the calculator');
    writeFiles(repo, { 'app/kern.py': null });
    c.c4 = commitAll(repo, 'remove the kernel');
  });
  after(() => removeWorkspace(repo));
  afterEach(() => git(repo, 'checkout', '-q', 'main'));

  async function scanAt(head: keyof typeof c, base: keyof typeof c, ...extra: string[]) {
    git(repo, 'checkout', '-q', c[head]);
    const r = await runCli(['sast', '.', '--baseline-ref', c[base], '--format', 'json', ...extra], repo);
    return { code: r.code, report: JSON.parse(r.stdout) as ScanReport, stderr: r.stderr };
  }

  const TABLE: [keyof typeof c, keyof typeof c, Counts, number, string[]][] = [
    ['c1', 'c1', { new: 0, unchanged: 1, updated: 0, absent: 0 }, 0, ['app/calc.py:unchanged']],
    ['c2', 'c1', { new: 1, unchanged: 1, updated: 0, absent: 0 }, 1, ['app/calc.py:unchanged', 'app/kern.py:new']],
    ['c2', 'c2', { new: 0, unchanged: 2, updated: 0, absent: 0 }, 0, ['app/calc.py:unchanged', 'app/kern.py:unchanged']],
    ['c3', 'c1', { new: 1, unchanged: 0, updated: 1, absent: 0 }, 1, ['app/kern.py:new', 'lib/calc.py:updated']],
    ['c3', 'c2', { new: 0, unchanged: 1, updated: 1, absent: 0 }, 0, ['app/kern.py:unchanged', 'lib/calc.py:updated']],
    ['c3', 'c3', { new: 0, unchanged: 2, updated: 0, absent: 0 }, 0, ['app/kern.py:unchanged', 'lib/calc.py:unchanged']],
    ['c4', 'c3', { new: 0, unchanged: 1, updated: 0, absent: 1 }, 0, ['lib/calc.py:unchanged']],
    ['c4', 'c1', { new: 0, unchanged: 0, updated: 1, absent: 0 }, 0, ['lib/calc.py:updated']],
  ];
  for (const [head, base, counts, exit, expected] of TABLE) {
    it(`at ${head} against ${base}: ${counts.new} new, ${counts.unchanged} unchanged, ${counts.updated} updated, ${counts.absent} absent; exit ${exit}`, async () => {
      const { code, report, stderr } = await scanAt(head, base);
      assert.equal(code, exit, stderr);
      assert.deepEqual(countsOf(report), counts);
      assert.deepEqual(states(report), expected);
      assert.equal(report.baseline?.commit, c[base]);
      assert.equal(report.summary.blocking, counts.new);
      assert.equal(report.summary.decision, counts.new > 0 ? 'blocked' : 'clean');
    });
  }

  it('blocks the same tree without a baseline: the baseline is what lets old findings pass', async () => {
    git(repo, 'checkout', '-q', c.c3);
    const r = await runCli(['sast', '.', '--format', 'json'], repo);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as ScanReport;
    assert.equal(report.summary.blocking, 2);
    assert.equal(report.baseline, undefined);
    assert.ok(report.findings.every((f) => f.baselineState === undefined));
  });

  it('says "1 new HIGH, 0 unchanged, 1 updated, 0 fixed" in the text summary and gates on the new finding only', async () => {
    git(repo, 'checkout', '-q', c.c3);
    const r = await runCli(['sast', '.', '--baseline-ref', c.c1], repo);
    assert.equal(r.code, 1);
    assert.ok(r.stdout.includes(`Baseline (${c.c1} at ${c.c1.slice(0, 12)}): 1 new HIGH, 0 unchanged, 1 updated, 0 fixed\n`), r.stdout);
    assert.ok(r.stdout.includes('Release gate: BLOCKED — 1 HIGH finding at fail_on severities (new since the baseline)\n'), r.stdout);
    assert.match(r.stdout, /location: {4}app\/kern\.py:5:12\n(?:.*\n)*? {2}baseline: {4}new \(not in the baseline\)\n/);
    assert.match(r.stdout, /location: {4}lib\/calc\.py:5:12\n(?:.*\n)*? {2}baseline: {4}updated \(in the baseline, moved or changed; does not gate\)\n/);
    // The new finding is printed first.
    assert.ok(r.stdout.indexOf('app/kern.py:5:12') < r.stdout.indexOf('lib/calc.py:5:12'));
  });

  it('lists the fixed finding and says "0 new, 1 unchanged, 1 fixed"', async () => {
    git(repo, 'checkout', '-q', c.c4);
    const r = await runCli(['sast', '.', '--baseline-ref', 'HEAD~1'], repo);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.includes(`Baseline (HEAD~1 at ${c.c3.slice(0, 12)}): 0 new, 1 unchanged, 1 fixed\n`), r.stdout);
    assert.ok(r.stdout.includes('Fixed since the baseline:\n  JIT-DYNAMIC-KERNEL HIGH app/kern.py:5:12 '), r.stdout);
    assert.match(r.stdout, /Release gate: clean — no new finding at fail_on or ticket_on severities/);
  });

  it('keeps every class in the JSON report, which still matches rules/report.schema.json', async () => {
    const { report } = await scanAt('c4', 'c3');
    const [absent] = report.baseline!.absentFindings;
    assert.equal(report.baseline!.absentFindings.length, 1);
    assert.equal(absent!.ruleId, 'JIT-DYNAMIC-KERNEL');
    assert.equal(absent!.evidence.path, 'app/kern.py');
    assert.equal(absent!.baselineState, 'absent');
    assert.equal(report.baseline!.kind, 'git');
    assert.equal(report.baseline!.source, c.c3);
    const raw = JSON.parse(JSON.stringify(report)) as { findings: { baselineState?: string }[] };
    assert.ok(validateReport(raw), JSON.stringify(validateReport.errors));
    // The schema knows the states: a made-up one is rejected.
    raw.findings[0].baselineState = 'old';
    assert.equal(validateReport(raw), false);
  });

  it('writes baselineState into SARIF (absent results as passes) and stays valid for the SARIF validator with GitHub rules', async () => {
    git(repo, 'checkout', '-q', c.c4);
    const r = await runCli(['sast', '.', '--baseline-ref', c.c3, '--format', 'sarif'], repo);
    assert.equal(r.code, 0);
    const sarif = JSON.parse(r.stdout);
    const results = sarif.runs[0].results as { ruleId: string; baselineState: string; kind?: string; level: string }[];
    assert.deepEqual(
      results.map((x) => [x.ruleId, x.baselineState, x.kind ?? 'fail', x.level]),
      [
        ['JIT-EVAL-COMPILE', 'unchanged', 'fail', 'error'],
        ['JIT-DYNAMIC-KERNEL', 'absent', 'pass', 'none'],
      ],
    );
    assert.match(sarif.runs[0].baselineGuid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(sarif.runs[0].properties.baseline, { kind: 'git', source: c.c3, commit: c.c3, new: 0, unchanged: 1, updated: 0, absent: 1 });
    assert.deepEqual(sarifErrors(sarif).errors, []);
    const omitted = JSON.parse((await runCli(['sast', '.', '--baseline-ref', c.c3, '--format', 'sarif', '--sarif-omit-absent'], repo)).stdout);
    assert.deepEqual(omitted.runs[0].results.map((x: { baselineState: string }) => x.baselineState), ['unchanged']);
  });

  it('leaves the working tree, the index and HEAD as they were, uncommitted changes included', async () => {
    git(repo, 'checkout', '-q', c.c3);
    writeFiles(repo, { 'app/extra.py': 'def run(code):\n    exec(code)\n' });
    const indexBefore = fs.readFileSync(path.join(repo, '.git/index'));
    const statusBefore = git(repo, 'status', '--porcelain');
    try {
      const r = await runCli(['sast', '.', '--baseline-ref', c.c2, '--format', 'json'], repo);
      assert.equal(r.code, 1);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.deepEqual(states(report), ['app/extra.py:new', 'app/kern.py:unchanged', 'lib/calc.py:updated']);
      assert.equal(git(repo, 'rev-parse', 'HEAD'), c.c3);
      assert.equal(git(repo, 'status', '--porcelain'), statusBefore);
      assert.equal(statusBefore, '?? app/extra.py');
      assert.deepEqual(fs.readFileSync(path.join(repo, '.git/index')), indexBefore);
      assert.equal(git(repo, 'stash', 'list'), '');
    } finally {
      fs.rmSync(path.join(repo, 'app/extra.py'));
    }
  });

  it('matches a file moved into the scanned folder from outside it (updated, not new)', async () => {
    git(repo, 'checkout', '-q', c.c3);
    const r = await runCli(['sast', 'lib', '--baseline-ref', c.c2, '--format', 'json'], repo);
    const report = JSON.parse(r.stdout) as ScanReport;
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(states(report), ['lib/calc.py:updated']);
    // app/kern.py was not scanned, so it is not reported as fixed.
    assert.deepEqual(countsOf(report), { new: 0, unchanged: 0, updated: 1, absent: 0 });
  });

  for (const [name, args, pattern] of [
    ['an unknown ref', ['--baseline-ref', 'no-such-branch'], /--baseline-ref: unknown git ref 'no-such-branch'/],
    ['a ref that looks like an option', ['--baseline-ref=--output=x'], /--baseline-ref: '--output=x' is not a git ref/],
    ['both kinds of baseline', ['--baseline-ref', 'HEAD', '--baseline', 'x.json'], /--baseline and --baseline-ref are two baselines/],
  ] as const) {
    it(`exits 2 on ${name}`, async () => {
      const r = await runCli(['sast', '.', ...args], repo);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, pattern);
    });
  }

  it('exits 2 outside a git repository', async () => {
    const ws = makeWorkspace({ 'a.py': EVAL_PY });
    try {
      const r = await runCli(['sast', '.', '--baseline-ref', 'HEAD'], ws);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--baseline-ref: .* is not inside a git repository/);
    } finally {
      removeWorkspace(ws);
    }
  });
});

describe('sentinel sast --baseline <report>', () => {
  let repo: string;
  let saved: string;

  before(async () => {
    repo = makeGitRepo({ 'app/calc.py': EVAL_PY, 'app/kern.py': KERNEL_PY, '.env': CACHE_ENV });
    saved = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-saved-'));
    assert.equal((await runCli(['sast', '.', '--format', 'json', '--output', path.join(saved, 'base.json')], repo)).code, 1);
    assert.equal((await runCli(['sast', '.', '--format', 'sarif', '--output', path.join(saved, 'base.sarif')], repo)).code, 1);
    // Then: the calculator moves with lines added above, the cache setting is fixed, a new eval arrives.
    writeFiles(repo, { 'app/calc.py': null, 'lib/calc.py': `import os\n\n${EVAL_PY}`, '.env': 'TRITON_CACHE_DIR=/var/cache/triton-$USER\n', 'app/tool.py': 'def tool(args):\n    return eval(args["expr"])\n' });
    commitAll(repo, 'move, fix, add');
  });
  after(() => {
    removeWorkspace(repo);
    removeWorkspace(saved);
  });

  for (const file of ['base.json', 'base.sarif']) {
    it(`classifies against a saved ${path.extname(file).slice(1).toUpperCase()} report: 1 new, 1 unchanged, 1 updated, 1 absent`, async () => {
      const r = await runCli(['sast', '.', '--baseline', path.join(saved, file), '--format', 'json'], repo);
      assert.equal(r.code, 1, r.stderr);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.deepEqual(countsOf(report), { new: 1, unchanged: 1, updated: 1, absent: 1 });
      assert.deepEqual(states(report), ['app/kern.py:unchanged', 'app/tool.py:new', 'lib/calc.py:updated']);
      assert.deepEqual(report.baseline!.absentFindings.map((f) => `${f.ruleId} ${f.evidence.path}`), ['JIT-CACHE-POISONING .env']);
      assert.equal(report.baseline!.kind, 'file');
      assert.equal(report.summary.blocking, 1);
      assert.deepEqual(report.summary.bySeverity, { CRITICAL: 0, HIGH: 1, MEDIUM: 0, LOW: 0, INFO: 0 });
    });
  }

  it('passes when nothing is new', async () => {
    writeFiles(repo, { 'app/tool.py': 'import ast\n\ndef tool(args):\n    return ast.literal_eval(args["expr"])\n' });
    try {
      const r = await runCli(['sast', '.', '--baseline', path.join(saved, 'base.json')], repo);
      assert.equal(r.code, 0, r.stdout);
      assert.ok(r.stdout.includes(': 0 new, 1 unchanged, 1 updated, 1 fixed\n'), r.stdout);
    } finally {
      git(repo, 'checkout', '--', 'app/tool.py');
    }
  });

  for (const [name, content, pattern] of [
    ['not JSON', '{ nope', /baseline .*bad\.json: is not JSON/],
    ['JSON of another kind', '{"findings": 3}', /is neither a Sentinel JSON report .* nor a SARIF 2\.1\.0 log/],
    ['a report with a broken finding', '{"format": "sentinel-report/1", "findings": [{"ruleId": "X"}]}', /findings\[0\] lacks ruleId, fingerprint or evidence\.path/],
  ] as const) {
    it(`exits 2 on a baseline that is ${name}, naming the file`, async () => {
      fs.writeFileSync(path.join(saved, 'bad.json'), content);
      const r = await runCli(['sast', '.', '--baseline', path.join(saved, 'bad.json')], repo);
      assert.equal(r.code, 2);
      assert.match(r.stderr, pattern);
      // Refused before the scan: no report was written.
      assert.equal(r.stdout, '');
    });
  }

  it('exits 2 on a missing baseline file', async () => {
    const r = await runCli(['sast', '.', '--baseline', 'missing.json'], repo);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /baseline file 'missing\.json' does not exist/);
  });
});

describe('baseline matching', () => {
  let ws: string;
  afterEach(() => ws && removeWorkspace(ws));

  async function findingsOf(files: Record<string, string>): Promise<Finding[]> {
    ws = makeWorkspace(files);
    const r = await runCli(['sast', '.', '--format', 'json'], ws);
    removeWorkspace(ws);
    return (JSON.parse(r.stdout) as ScanReport).findings;
  }

  it('keeps a finding unchanged when only lines above it were added', async () => {
    const before = await findingsOf({ 'a.py': EVAL_PY });
    const now = await findingsOf({ 'a.py': `import os\nimport sys\n\n\n${EVAL_PY}` });
    assert.notEqual(now[0]!.evidence.startLine, before[0]!.evidence.startLine);
    assert.deepEqual(classifyAgainstBaseline(now, before).counts, { new: 0, unchanged: 1, updated: 0, absent: 0 });
  });

  it('matches code moved into another function by its text (updated), although the fingerprint changed', async () => {
    const before = await findingsOf({ 'a.py': EVAL_PY });
    const now = await findingsOf({ 'a.py': 'def evaluate(expression):\n    return eval(expression)\n' });
    assert.notEqual(now[0]!.fingerprint, before[0]!.fingerprint);
    classifyAgainstBaseline(now, before);
    assert.equal(now[0]!.baselineState, 'updated');
  });

  it('does not let a flagged line rewritten into another call pass as the old finding', async () => {
    const before = await findingsOf({ 'a.py': EVAL_PY });
    const now = await findingsOf({ 'a.py': 'def calculate(expression):\n    return exec(expression)\n' });
    const { counts } = classifyAgainstBaseline(now, before);
    assert.deepEqual(counts, { new: 1, unchanged: 0, updated: 0, absent: 1 });
  });

  it('pairs identical findings in two files one to one: deleting one copy leaves one unchanged and one absent', async () => {
    const before = await findingsOf({ 'a.py': EVAL_PY, 'b.py': EVAL_PY });
    assert.equal(before[0]!.fingerprint, before[1]!.fingerprint);
    const now = await findingsOf({ 'b.py': EVAL_PY });
    const { counts, absent } = classifyAgainstBaseline(now, before);
    assert.deepEqual(counts, { new: 0, unchanged: 1, updated: 0, absent: 1 });
    assert.equal(absent[0]!.evidence.path, 'a.py');
    assert.equal(now[0]!.baselineState, 'unchanged');
  });

  it('counts a second identical finding in the same function as new', async () => {
    const before = await findingsOf({ 'a.py': EVAL_PY });
    const now = await findingsOf({ 'a.py': 'def calculate(expression):\n    eval(expression)\n    return eval(expression)\n' });
    assert.deepEqual(classifyAgainstBaseline(now, before).counts, { new: 1, unchanged: 1, updated: 0, absent: 0 });
  });
});

describe('sentinel sast --fail-on', () => {
  let ws: string;
  afterEach(() => ws && removeWorkspace(ws));

  it('never: reports but does not block; the policy-blocked finding becomes a ticket', async () => {
    ws = makeWorkspace({ 'a.py': EVAL_PY });
    const r = await runCli(['sast', '.', '--fail-on', 'never', '--format', 'json'], ws);
    assert.equal(r.code, 0);
    const report = JSON.parse(r.stdout) as ScanReport;
    assert.equal(report.findings[0]!.decision, 'ticket');
    assert.equal(report.summary.decision, 'tickets');
  });

  it('MEDIUM: a MEDIUM finding the policy would ticket now blocks', async () => {
    ws = makeWorkspace({ '.env': CACHE_ENV });
    assert.equal((await runCli(['sast', '.'], ws)).code, 0);
    const r = await runCli(['sast', '.', '--fail-on', 'medium', '--format', 'json'], ws);
    assert.equal(r.code, 1);
    assert.equal((JSON.parse(r.stdout) as ScanReport).findings[0]!.decision, 'block');
  });

  it('exits 2 on an unknown severity', async () => {
    ws = makeWorkspace({ 'a.py': EVAL_PY });
    const r = await runCli(['sast', '.', '--fail-on', 'severe'], ws);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--fail-on takes CRITICAL, HIGH, MEDIUM, LOW, INFO or never, not 'severe'/);
  });
});

describe('sentinel sast --baseline-ref with a committed file that .gitignore lists', () => {
  it('finds the finding in both trees, so it is not new (git ignores nothing it tracks)', async () => {
    const repo = makeGitRepo({ '.gitignore': 'app/calc.py\n' });
    try {
      writeFiles(repo, { 'app/calc.py': EVAL_PY });
      git(repo, 'add', '-f', 'app/calc.py');
      commitAll(repo, 'commit a file the .gitignore lists');
      writeFiles(repo, { 'README.md': 'docs\n' });
      commitAll(repo, 'docs only');
      const r = await runCli(['sast', '.', '--baseline-ref', 'HEAD~1', '--format', 'json'], repo);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.deepEqual(states(report), ['app/calc.py:unchanged']);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      removeWorkspace(repo);
    }
  });
});
