// The `sentinel-jit` pre-commit hook (.pre-commit-hooks.yaml), run for real by Debian's `pre-commit` with
// `try-repo` against a commit of this working tree (try-repo reads hooks from the repository's HEAD): it fails
// on a staged vulnerable change and passes on the clean one after it. Offline: the hook is `language: script`.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBuiltCli, REPO_ROOT } from '../helpers/builtCli';
import { commitAll, git, GIT_TEST_ENV, makeGitRepo, writeFiles } from '../helpers/gitRepo';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';
const CLEAN_PY = 'import ast\n\ndef calculate(expression):\n    return ast.literal_eval(expression)\n';

function hasPreCommit(): boolean {
  return spawnSync('pre-commit', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A repository whose HEAD is this working tree as it would be committed, with the built dist/ a release carries. */
function commitOfWorkingTree(dest: string): void {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, env: GIT_TEST_ENV, encoding: 'utf8' });
  const files = listed.split('\0').filter(Boolean);
  const copy = (rel: string): void => {
    const from = path.join(REPO_ROOT, rel);
    if (!fs.existsSync(from) || !fs.statSync(from).isFile()) return;
    const to = path.join(dest, rel);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
    fs.chmodSync(to, fs.statSync(from).mode & 0o777);
  };
  files.forEach(copy);
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, rel), { withFileTypes: true })) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else copy(child);
    }
  };
  walk('dist');
  git(dest, 'init', '-q', '-b', 'main');
  git(dest, 'add', '-A');
  git(dest, 'add', '-f', 'dist');
  git(dest, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--no-verify', '-m', 'working tree');
}

describe('pre-commit hook sentinel-jit (pre-commit try-repo)', function () {
  let scratch: string;
  let hooks: string;
  let project: string;

  before(function () {
    if (!hasPreCommit()) {
      console.log('      skipped: pre-commit is not installed (apt-get install -y pre-commit)');
      this.skip();
    }
    ensureBuiltCli();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-precommit-'));
    hooks = path.join(scratch, 'sentinel');
    fs.mkdirSync(hooks);
    commitOfWorkingTree(hooks);
    project = makeGitRepo({ 'README.md': '# a project that adopts the hook\n' });
  });
  after(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  function tryRepo(...extra: string[]) {
    const run = spawnSync('pre-commit', ['try-repo', hooks, 'sentinel-jit', '--color', 'never', ...extra], {
      cwd: project,
      encoding: 'utf8',
      timeout: 120_000,
      // Its own cache in the scratch folder; no network is needed for a `language: script` hook.
      env: { ...GIT_TEST_ENV, PRE_COMMIT_HOME: path.join(scratch, 'cache'), NO_COLOR: '1' },
    });
    return { code: run.status, output: `${run.stdout}${run.stderr}` };
  }

  it('declares the hook as pre-commit expects it', () => {
    const text = fs.readFileSync(path.join(REPO_ROOT, '.pre-commit-hooks.yaml'), 'utf8');
    assert.match(text, /^- id: sentinel-jit$/m);
    assert.match(text, /^ {2}language: script$/m);
    assert.ok(fs.statSync(path.join(REPO_ROOT, 'bin/sentinel-pre-commit')).mode & 0o111, 'the hook entry is executable');
  });

  it('fails on the commit that stages a vulnerable file, naming the finding', () => {
    writeFiles(project, { 'app/calc.py': EVAL_PY, 'docs/notes.txt': 'eval(x) in prose is not code\n' });
    git(project, 'add', '-A');
    const run = tryRepo();
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /Sentinel JIT gate\.+Failed/);
    assert.match(run.output, /- exit code: 1/);
    assert.match(run.output, /JIT-EVAL-COMPILE HIGH\nDynamic eval or compile\nDo not compile user-controlled strings\./);
    assert.match(run.output, /location: {4}app\/calc\.py:2:12/);
    assert.match(run.output, /Release gate: BLOCKED/);
    assert.ok(!run.output.includes('notes.txt'), 'files Sentinel does not read are not passed');
    commitAll(project, 'vulnerable calculator');
  });

  it('passes on the next commit, which makes the file clean', () => {
    writeFiles(project, { 'app/calc.py': CLEAN_PY });
    git(project, 'add', '-A');
    const run = tryRepo();
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /Sentinel JIT gate\.+Passed/);
    commitAll(project, 'safe calculator');
  });

  it('checks each commit as CI would (--from-ref/--to-ref with the commit checked out): the vulnerable one fails, the clean one passes', () => {
    const [initial, vulnerable, clean] = git(project, 'rev-list', '--reverse', 'HEAD').split('\n');
    try {
      git(project, 'checkout', '-q', vulnerable!);
      const first = tryRepo('--from-ref', initial!, '--to-ref', vulnerable!);
      assert.equal(first.code, 1, first.output);
      assert.match(first.output, /app\/calc\.py:2:12/);
      git(project, 'checkout', '-q', clean!);
      const second = tryRepo('--from-ref', vulnerable!, '--to-ref', clean!);
      assert.equal(second.code, 0, second.output);
    } finally {
      git(project, 'checkout', '-q', 'main');
    }
  });

  it('skips when no staged file is one Sentinel reads', () => {
    writeFiles(project, { 'docs/notes.txt': 'more prose\n' });
    git(project, 'add', '-A');
    const run = tryRepo();
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /Sentinel JIT gate\.+\(no files to check\)Skipped/);
  });
});
