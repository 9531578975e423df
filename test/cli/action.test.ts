// The GitHub Action (action.yml) run locally, step by step, on a scratch pull request: the base branch has an
// old finding, the branch adds a new one. Checks the annotations, the job summary, the outputs, the exit code
// and the SARIF log (Microsoft's validator with GitHub's rules).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCompositeAction } from '../helpers/actionRunner';
import { ensureBuiltCli, REPO_ROOT } from '../helpers/builtCli';
import { commitAll, git, makeGitRepo, writeFiles } from '../helpers/gitRepo';
import { sarifErrors } from '../helpers/sarifValidator';
import { removeWorkspace } from '../helpers/workspace';

const ACTION = path.join(REPO_ROOT, 'action.yml');
const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';
const TOOL_PY = 'def tool(args):\n    return exec(args["code"])\n';

describe('GitHub Action (action.yml, steps run locally)', () => {
  let repo: string;

  before(() => {
    ensureBuiltCli();
    repo = makeGitRepo({ 'app/calc.py': EVAL_PY, 'README.md': '# service\n' });
    git(repo, 'checkout', '-q', '-b', 'feature');
    writeFiles(repo, { 'app/tool.py': TOOL_PY });
    commitAll(repo, 'add an agent tool');
  });
  after(() => removeWorkspace(repo));
  afterEach(() => fs.rmSync(path.join(repo, 'sentinel.sarif'), { force: true }));

  const onPullRequest = (inputs: Record<string, string> = {}) => runCompositeAction(ACTION, { workspace: repo, inputs, github: { base_ref: 'main' } });

  it('on a pull request: fails on the new finding only, annotates it, writes the summary, outputs and SARIF', () => {
    const run = onPullRequest();
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(run.steps, [
      { name: 'Prepare Sentinel', code: 0 },
      { name: 'Scan', code: 1 },
    ]);
    const commands = run.stdout.split('\n').filter((l) => l.startsWith('::'));
    assert.deepEqual(commands.map((l) => l.slice(0, l.indexOf('::', 2) + 2).replace(/,title=.*::$/, '::')), ['::error file=app/tool.py,line=2,endLine=2,col=12,endColumn=30::']);
    assert.match(commands[0]!, /title=JIT-EVAL-COMPILE HIGH%3A Dynamic eval or compile::.*Do not compile user-controlled strings\. Owner: Application security and backend\/agent owner\./);
    assert.ok(!run.stdout.includes('file=app/calc.py'), 'the finding already on main is not annotated');

    assert.ok(run.summary.startsWith('### Sentinel: release gate BLOCKED\n\n1 new finding(s) at a `fail_on` severity block the release.\n'), run.summary);
    assert.ok(run.summary.includes('**Baseline** <code>main</code> at '), run.summary);
    assert.ok(run.summary.includes(': 1 new HIGH, 1 unchanged, 0 fixed.'), run.summary);
    assert.ok(
      run.summary.includes('| JIT-EVAL-COMPILE — Dynamic eval or compile | HIGH | <code>app/tool.py:2</code> | Application security and backend/agent owner | Do not compile user-controlled strings. |'),
      run.summary,
    );
    assert.ok(run.summary.includes('**Retest:** <code>sentinel sast ./src/ --rule JIT</code>'));

    assert.deepEqual(run.outputs, { decision: 'blocked', 'new-findings': '1', blocking: '1', 'sarif-file': 'sentinel.sarif', 'exit-code': '1' });

    const sarif = JSON.parse(fs.readFileSync(path.join(repo, 'sentinel.sarif'), 'utf8'));
    assert.deepEqual(
      sarif.runs[0].results.map((r: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[]; baselineState: string }) => [
        r.locations[0]!.physicalLocation.artifactLocation.uri,
        r.baselineState,
      ]),
      [
        ['app/calc.py', 'unchanged'],
        ['app/tool.py', 'new'],
      ],
    );
    assert.deepEqual(sarifErrors(sarif).errors, []);
  });

  it('passes once the branch removes its new finding, although the old one remains', () => {
    writeFiles(repo, { 'app/tool.py': 'import json\n\ndef tool(args):\n    return json.loads(args["code"])\n' });
    try {
      const run = onPullRequest();
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(run.stdout.split('\n').filter((l) => l.startsWith('::error')).length, 0);
      assert.ok(run.summary.startsWith('### Sentinel: release gate clean\n\nNo new finding at a `fail_on` or `ticket_on` severity.\n'), run.summary);
      assert.ok(run.summary.includes('<summary>1 finding(s) already in the baseline (not gating)</summary>'));
      assert.deepEqual(run.outputs, { decision: 'clean', 'new-findings': '0', blocking: '0', 'sarif-file': 'sentinel.sarif', 'exit-code': '0' });
    } finally {
      git(repo, 'checkout', '--', 'app/tool.py');
    }
  });

  it('gates on every finding with baseline-ref "none", and honours paths, fail-on and sarif-file', () => {
    const all = onPullRequest({ 'baseline-ref': 'none' });
    assert.equal(all.code, 1);
    assert.deepEqual(
      all.stdout.split('\n').filter((l) => l.startsWith('::error')).map((l) => /file=([^,]+)/.exec(l)![1]),
      ['app/calc.py', 'app/tool.py'],
    );
    assert.equal(all.outputs['new-findings'], '2');

    const lenient = onPullRequest({ 'fail-on': 'never', paths: 'app/tool.py\nREADME.md', 'sarif-file': 'out/gate.sarif' });
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.equal(lenient.outputs.decision, 'tickets');
    assert.equal(lenient.outputs['sarif-file'], 'out/gate.sarif');
    assert.ok(fs.existsSync(path.join(repo, 'out/gate.sarif')));
    fs.rmSync(path.join(repo, 'out'), { recursive: true });
  });

  it('reports a configuration error as exit code 2 and still fails the job', () => {
    const run = onPullRequest({ 'baseline-ref': 'no-such-branch' });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--baseline-ref: unknown git ref 'no-such-branch'/);
    assert.equal(run.outputs['exit-code'], '2');
    assert.equal(run.summary, '');
  });
});
