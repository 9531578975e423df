// --changed-since: only the files changed since a ref are scanned (committed, staged, unstaged and untracked;
// renames followed), deleted files are listed as such, and outside a git repository it is a usage error.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ScanReport } from '../../server/src/engine/finding';
import { commitAll, git, makeGitRepo, writeFiles } from '../helpers/gitRepo';
import { makeWorkspace, removeWorkspace, runCli } from '../helpers/workspace';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';
const EXEC_PY = 'def run(code):\n    exec(code)\n';
const CLEAN_PY = 'import re\n\ndef f(p):\n    return re.compile(p)\n';

describe('sentinel sast --changed-since', () => {
  let repo: string;
  let base: string;

  before(() => {
    repo = makeGitRepo({
      'a.py': EVAL_PY,
      'b.py': CLEAN_PY,
      'c.py': EVAL_PY,
      'd/x.py': EXEC_PY,
      'keep.py': EVAL_PY,
      'sub/inner.py': CLEAN_PY,
      'README.md': '# demo\n',
      'node_modules/pkg/index.js': 'module.exports = 1;\n',
    });
    base = git(repo, 'rev-parse', 'HEAD');
    // Committed after the ref: b.py gains a finding; the README and a vendored file change too.
    writeFiles(repo, { 'b.py': EXEC_PY, 'README.md': '# demo, edited\n', 'node_modules/pkg/index.js': 'eval(process.argv[2]);\n' });
    commitAll(repo, 'b gains an exec');
    // Staged: a new file, a rename (with an edit) and a deletion.
    writeFiles(repo, { 's.py': 'def other(source):\n    return exec(source)\n', 'e/x.py': `# moved\n${EXEC_PY}`, 'd/x.py': null, 'c.py': null });
    git(repo, 'add', '-A');
    // Unstaged: an edit to a.py. Untracked: u.py, and an ignored file that must stay out.
    writeFiles(repo, { 'a.py': `# edited\n${EVAL_PY}`, 'u.py': EXEC_PY, '.gitignore': 'ignored.py\n', 'ignored.py': EXEC_PY });
  });
  after(() => removeWorkspace(repo));

  async function scan(...args: string[]) {
    const r = await runCli(['sast', ...args, '--format', 'json'], repo);
    return { code: r.code, report: JSON.parse(r.stdout) as ScanReport, stderr: r.stderr };
  }

  it('scans exactly the changed files that Sentinel reads, and lists deleted and renamed ones', async () => {
    const { code, report } = await scan('.', '--changed-since', base);
    assert.equal(code, 1);
    assert.deepEqual(report.changes, {
      since: base,
      commit: base,
      scanned: ['a.py', 'b.py', 'e/x.py', 's.py', 'u.py'],
      deleted: ['c.py'],
      renamed: [{ from: 'd/x.py', to: 'e/x.py' }],
    });
    assert.equal(report.filesScanned, 5);
    assert.deepEqual(report.findings.map((f) => `${f.evidence.path}:${f.evidence.startLine}`).sort(), ['a.py:3', 'b.py:2', 'e/x.py:3', 's.py:2', 'u.py:2']);
    // Deleted files are not errors, and non-source changes (README.md, .gitignore) raise no warning.
    assert.deepEqual(report.warnings, []);
  });

  it('finds changed files whose names are not valid UTF-8 by scanning their folder, not calling them deleted', async () => {
    const other = makeGitRepo({ 'ok.py': CLEAN_PY, 'lib/keep.py': CLEAN_PY });
    try {
      const from = git(other, 'rev-parse', 'HEAD');
      fs.writeFileSync(Buffer.concat([Buffer.from(path.join(other, 'lib', 'new')), Buffer.from([0xff]), Buffer.from('.py')]), EXEC_PY);
      commitAll(other, 'a file with a Latin-1 name');
      fs.writeFileSync(Buffer.concat([Buffer.from(path.join(other, 'lib', 'u')), Buffer.from([0xfe]), Buffer.from('.py')]), EVAL_PY);
      const r = await runCli(['sast', '.', '--changed-since', from, '--format', 'json'], other);
      const report = JSON.parse(r.stdout) as ScanReport;
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(report.changes?.scanned, ['lib/new\\xff.py', 'lib/u\\xfe.py']);
      assert.deepEqual(report.changes?.deleted, []);
      assert.deepEqual(report.findings.map((f) => f.evidence.path).sort(), ['lib/new\\xff.py', 'lib/u\\xfe.py']);
      // Their folder was scanned whole: lib/keep.py (unchanged) was read too.
      assert.equal(report.filesScanned, 3);
      // Committed, they are the same findings at HEAD: git's names for them match the walk's.
      commitAll(other, 'and another');
      const against = await runCli(['sast', '.', '--baseline-ref', 'HEAD', '--format', 'json'], other);
      const compared = JSON.parse(against.stdout) as ScanReport;
      assert.equal(against.code, 0, against.stderr);
      assert.deepEqual(compared.findings.map((f) => `${f.evidence.path} ${f.baselineState}`).sort(), ['lib/new\\xff.py unchanged', 'lib/u\\xfe.py unchanged']);
    } finally {
      removeWorkspace(other);
    }
  });

  it('defaults to the current folder when no path is given, and says what changed in the text summary', async () => {
    const r = await runCli(['sast', '--changed-since', base], repo);
    assert.equal(r.code, 1);
    assert.ok(r.stdout.includes(`Changed since ${base} (${base.slice(0, 12)}): 5 files scanned; deleted: c.py; renamed: d/x.py → e/x.py\n`), r.stdout);
    assert.ok(!r.stdout.includes('keep.py'));
  });

  it('counts from the merge base, so commits on the base branch after the fork are not changes of this branch', async () => {
    git(repo, 'stash', 'push', '-q', '--include-untracked');
    try {
      git(repo, 'branch', '-q', 'trunk', base);
      git(repo, 'checkout', '-q', 'trunk');
      writeFiles(repo, { 'keep.py': `# trunk moved on\n${EVAL_PY}` });
      commitAll(repo, 'trunk edits keep.py');
      git(repo, 'checkout', '-q', 'main');
      const { report } = await scan('.', '--changed-since', 'trunk');
      assert.equal(report.changes!.commit, base);
      assert.deepEqual(report.changes!.scanned, ['b.py']);
    } finally {
      git(repo, 'checkout', '-q', 'main');
      git(repo, 'stash', 'pop', '-q');
      git(repo, 'branch', '-q', '-D', 'trunk');
    }
  });

  it('limits the changes to the paths given', async () => {
    writeFiles(repo, { 'sub/inner.py': EXEC_PY });
    try {
      const { code, report } = await scan('sub', '--changed-since', base);
      assert.equal(code, 1);
      assert.deepEqual(report.changes!.scanned, ['sub/inner.py']);
      assert.deepEqual(report.changes!.deleted, []);
      assert.deepEqual(report.findings.map((f) => f.evidence.path), ['sub/inner.py']);
    } finally {
      git(repo, 'checkout', '--', 'sub/inner.py');
    }
  });

  it('scans nothing and passes when nothing changed since HEAD under the path', async () => {
    const { code, report } = await scan('sub', '--changed-since', 'HEAD');
    assert.equal(code, 0);
    assert.equal(report.filesScanned, 0);
    assert.deepEqual(report.changes!.scanned, []);
    assert.equal(report.summary.decision, 'clean');
  });

  it('with --baseline-ref: the renamed file is updated, the deleted file fixed, the rest new', async () => {
    const { code, report } = await scan('--changed-since', base, '--baseline-ref', base);
    assert.equal(code, 1);
    assert.deepEqual(
      report.findings.map((f) => `${f.evidence.path}:${f.baselineState}`).sort(),
      ['a.py:unchanged', 'b.py:new', 'e/x.py:updated', 's.py:new', 'u.py:new'],
    );
    assert.deepEqual(report.baseline!.absentFindings.map((f) => f.evidence.path), ['c.py']);
    assert.equal(report.summary.blocking, 3);
    // keep.py was neither scanned nor read from the baseline: it is not "fixed".
    assert.equal(report.baseline!.absent, 1);
  });

  it('does not write to the index or the working tree, and does not count a touched file as changed', async () => {
    const index = path.join(repo, '.git/index');
    const status = git(repo, 'status', '--porcelain');
    // Touch a tracked file's timestamp only: a refreshing `git diff` would rewrite the index for it.
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(repo, 'keep.py'), later, later);
    const before = { bytes: fs.readFileSync(index), mtime: fs.statSync(index).mtimeMs, status };
    const { report } = await scan('.', '--changed-since', base);
    await scan('.', '--changed-since', base, '--baseline-ref', base);
    // A file whose timestamp alone changed is not a change.
    assert.deepEqual(report.changes!.scanned, ['a.py', 'b.py', 'e/x.py', 's.py', 'u.py']);
    assert.deepEqual(fs.readFileSync(index), before.bytes);
    assert.equal(fs.statSync(index).mtimeMs, before.mtime);
    assert.equal(git(repo, 'status', '--porcelain'), before.status);
  });

  for (const [name, ref, pattern] of [
    ['an unknown ref', 'nope', /--changed-since: unknown git ref 'nope'/],
    ['an empty ref', '', /--changed-since: '' is not a git ref/],
  ] as const) {
    it(`exits 2 on ${name}`, async () => {
      const r = await runCli(['sast', '.', '--changed-since', ref], repo);
      assert.equal(r.code, 2);
      assert.match(r.stderr, pattern);
    });
  }

  it('exits 2 with a clear message outside a git repository', async () => {
    const ws = makeWorkspace({ 'a.py': EVAL_PY });
    try {
      const r = await runCli(['sast', '.', '--changed-since', 'main'], ws);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^sentinel: --changed-since: .+ is not inside a git repository\n/);
      assert.equal(r.stdout, '');
    } finally {
      removeWorkspace(ws);
    }
  });
});
