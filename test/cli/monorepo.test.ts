// Monorepos: the nearest sentinel-policy.yml above each file decides its findings (gate, owner, allowlist,
// retest), and the report carries one gate per policy root besides the overall one.
import { strict as assert } from 'node:assert';
import type { ScanReport } from '../../server/src/engine/finding';
import { makeWorkspace, removeWorkspace, runCli } from '../helpers/workspace';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';

const TEAM_A = 'category: JIT\nfail_on: [CRITICAL, HIGH]\nticket_on: [MEDIUM]\nretest: "sentinel sast services/a"\nrules:\n  JIT-EVAL-COMPILE:\n    owner: "Team A on-call"\n';
const TEAM_B =
  'category: JIT\nfail_on: [CRITICAL]\nticket_on: [HIGH, MEDIUM]\nretest: "sentinel sast services/b"\nallowlist:\n  - rule: JIT-EVAL-COMPILE\n    path: "legacy/**"\n    reason: "frozen code, sandboxed"\n';

describe('per-directory policies (monorepo)', () => {
  let ws: string;
  before(() => {
    ws = makeWorkspace({
      'tools/build.py': EVAL_PY,
      'services/a/sentinel-policy.yml': TEAM_A,
      'services/a/src/calc.py': EVAL_PY,
      'services/b/sentinel-policy.yml': TEAM_B,
      'services/b/calc.py': EVAL_PY,
      'services/b/legacy/old.py': EVAL_PY,
      'services/c/clean.py': 'x = 1\n',
    });
  });
  after(() => removeWorkspace(ws));

  async function scan(...args: string[]) {
    const r = await runCli(['sast', ...args, '--format', 'json'], ws);
    return { code: r.code, report: JSON.parse(r.stdout) as ScanReport };
  }

  it('applies the nearest policy to each file: its gate, owner and allowlist (relative to its own folder)', async () => {
    const { code, report } = await scan('.');
    assert.equal(code, 1);
    const byPath = Object.fromEntries(report.findings.map((f) => [f.evidence.path, f]));
    assert.equal(byPath['tools/build.py']!.decision, 'block');
    assert.equal(byPath['services/a/src/calc.py']!.decision, 'block');
    assert.equal(byPath['services/a/src/calc.py']!.owner, 'Team A on-call');
    assert.equal(byPath['services/a/src/calc.py']!.retest, 'sentinel sast services/a');
    assert.equal(byPath['services/b/calc.py']!.decision, 'ticket');
    assert.equal(byPath['services/b/calc.py']!.retest, 'sentinel sast services/b');
    assert.equal(byPath['services/b/legacy/old.py']!.decision, 'suppressed');
    assert.equal(byPath['services/b/legacy/old.py']!.suppression?.source, 'services/b/sentinel-policy.yml#allowlist[0]');
    assert.equal(byPath['tools/build.py']!.owner, 'Application security and backend/agent owner');
  });

  it('summarises each policy root: a blocked team does not hide a passing one', async () => {
    const { report } = await scan('.');
    assert.deepEqual(
      report.policyRoots!.map((r) => [r.root, r.policyPath ?? 'built-in', r.summary.decision, r.summary.blocking, r.summary.tickets, r.summary.suppressed, r.summary.retest]),
      [
        ['.', 'built-in', 'blocked', 1, 0, 0, 'sentinel sast ./src/ --rule JIT'],
        ['services/a', 'services/a/sentinel-policy.yml', 'blocked', 1, 0, 0, 'sentinel sast services/a'],
        ['services/b', 'services/b/sentinel-policy.yml', 'tickets', 0, 1, 1, 'sentinel sast services/b'],
      ],
    );
    assert.equal(report.summary.decision, 'blocked');
    assert.equal(report.summary.blocking, 2);
  });

  it('prints one line per policy root in the text summary', async () => {
    const r = await runCli(['sast', '.'], ws);
    assert.ok(r.stdout.includes('Policy root services/b (services/b/sentinel-policy.yml): passed with tickets — 0 blocking, 1 tickets; retest: sentinel sast services/b\n'), r.stdout);
    assert.ok(r.stdout.includes('Policy root . (built-in policy): BLOCKED — 1 blocking, 0 tickets; retest: sentinel sast ./src/ --rule JIT\n'));
  });

  it('gates one team alone by its own policy, with no per-root list for a single policy', async () => {
    const { code, report } = await scan('services/b');
    assert.equal(code, 0);
    assert.equal(report.summary.decision, 'tickets');
    assert.equal(report.policyRoots, undefined);
    assert.equal(report.summary.retest, 'sentinel sast services/b');
  });

  it('uses one policy for every file when --policy is given', async () => {
    const { code, report } = await scan('.', '--policy', 'services/b/sentinel-policy.yml');
    assert.equal(code, 0);
    assert.equal(report.policyRoots, undefined);
    assert.ok(report.findings.every((f) => f.decision === 'ticket' || f.decision === 'suppressed'));
  });

  it('recomputes the gate of each root when decisions change after the policy (--fail-on)', async () => {
    const { code, report } = await scan('.', '--fail-on', 'never');
    assert.equal(code, 0);
    assert.deepEqual(
      report.policyRoots!.map((r) => [r.root, r.summary.decision, r.summary.blocking, r.summary.tickets, r.summary.retest]),
      [
        ['.', 'tickets', 0, 1, 'sentinel sast ./src/ --rule JIT'],
        ['services/a', 'tickets', 0, 1, 'sentinel sast services/a'],
        ['services/b', 'tickets', 0, 1, 'sentinel sast services/b'],
      ],
    );
  });

  it('exits 2 naming the file when one team policy is broken', async () => {
    const broken = makeWorkspace({ 'a.py': EVAL_PY, 'team/sentinel-policy.yml': 'fail_on: [HGH]\n', 'team/x.py': EVAL_PY });
    try {
      const r = await runCli(['sast', '.'], broken);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /team\/sentinel-policy\.yml/);
    } finally {
      removeWorkspace(broken);
    }
  });
});
