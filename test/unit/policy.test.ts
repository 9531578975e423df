// Tests for sentinel-policy.yml: loading and its error messages, finding the file, applying it to
// findings (owner, retest, allowlist, expiry warnings, decisions) and the report summary.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Finding, Severity } from '../../server/src/engine/finding';
import {
  MAX_POLICY_BYTES,
  PolicyError,
  applyPolicy,
  defaultPolicy,
  findPolicy,
  loadPolicy,
  policyTemplate,
  summarize,
  type Policy,
} from '../../server/src/engine/policy';
import { loadCatalog, ruleSummary, type Catalog } from '../../server/src/engine/rules/catalog';

const FIXTURES = path.resolve(__dirname, '../../fixtures/policy');
const SPEC_RETEST = 'sentinel sast ./src/ --rule JIT';
const catalog = loadCatalog();

function fixture(...parts: string[]): string {
  return path.join(FIXTURES, ...parts);
}

function makeFinding(ruleId: string, evidencePath: string, overrides: Partial<Finding> = {}): Finding {
  const card = catalog.byId.get(ruleId);
  assert.ok(card, `rule ${ruleId} is in the catalog`);
  return {
    ...ruleSummary(card),
    confidence: 'high',
    evidence: {
      path: evidencePath,
      startLine: 3,
      startColumn: 1,
      endLine: 3,
      endColumn: 10,
      startOffset: 20,
      endOffset: 29,
      nodeType: 'call',
      snippet: 'eval(expr)',
      signal: 'eval() called with `expr`, a parameter',
    },
    trace: [],
    fingerprint: `fp-${ruleId}-${evidencePath}`,
    retest: card.retest,
    decision: 'report',
    ...overrides,
  };
}

let tmpRoot: string;
before(() => {
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-policy-test-'));
});
after(() => {
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

let tmpCount = 0;
function tmpPolicy(text: string | Buffer, name = 'sentinel-policy.yml'): string {
  const dir = path.join(tmpRoot, `case-${tmpCount++}`);
  fs.mkdirSync(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function loadError(file: string, withCatalog?: Catalog): PolicyError {
  try {
    loadPolicy(file, withCatalog);
  } catch (err) {
    assert.ok(err instanceof PolicyError, `expected a PolicyError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${file} loaded but should have been rejected`);
}

describe('defaultPolicy', () => {
  it('is the spec CI policy with no rules and no allowlist', () => {
    assert.deepEqual(defaultPolicy('/repo'), {
      path: undefined,
      dir: path.resolve('/repo'),
      category: 'JIT',
      failOn: ['CRITICAL', 'HIGH'],
      ticketOn: ['MEDIUM'],
      retest: SPEC_RETEST,
      rules: {},
      allowlist: [],
    });
  });

  it('makes globs relative to the working directory when no base is given', () => {
    assert.equal(defaultPolicy().dir, process.cwd());
  });

  it('returns fresh severity lists, so one caller cannot change another caller’s default', () => {
    const first = defaultPolicy('/repo');
    first.failOn.push('LOW');
    assert.deepEqual(defaultPolicy('/repo').failOn, ['CRITICAL', 'HIGH']);
  });
});

describe('loadPolicy', () => {
  it('loads the spec policy to exactly the default policy, located at the file', () => {
    const file = fixture('spec', 'sentinel-policy.yml');
    assert.deepEqual(loadPolicy(file), { ...defaultPolicy(path.dirname(file)), path: file });
  });

  it('loads per-rule overrides in camelCase and keeps the top-level gate', () => {
    const policy = loadPolicy(fixture('overrides', 'sentinel-policy.yml'));
    assert.deepEqual(policy.failOn, ['CRITICAL', 'HIGH']);
    assert.deepEqual(policy.ticketOn, ['MEDIUM']);
    assert.deepEqual(policy.rules, {
      'JIT-EVAL-COMPILE': {
        owner: 'Application security and backend/agent owner',
        failOn: ['CRITICAL', 'HIGH'],
        retest: SPEC_RETEST,
      },
      'JIT-CACHE-POISONING': {
        owner: 'Platform team',
        failOn: ['CRITICAL', 'HIGH', 'MEDIUM'],
        retest: 'sentinel sast ./deploy/ --rule JIT-CACHE-POISONING',
      },
      'JIT-DYNAMIC-KERNEL': { failOn: [], ticketOn: ['HIGH'] },
    });
  });

  it('loads allowlist entries with their index and line', () => {
    const policy = loadPolicy(fixture('allowlist', 'sentinel-policy.yml'));
    assert.deepEqual(policy.allowlist, [
      {
        rule: 'JIT-EVAL-COMPILE',
        path: 'src/legacy/**',
        reason: 'Legacy formula engine runs in a sandboxed worker; replaced in Q3',
        expires: '2026-09-30',
        index: 0,
        line: 7,
      },
      {
        rule: 'JIT-DYNAMIC-KERNEL',
        fingerprint: 'fp-kernel-0001',
        reason: 'Kernel template is built from a fixed enum, reviewed by appsec',
        index: 1,
        line: 11,
      },
      { rule: 'JIT-EVAL-COMPILE', path: 'src/old/**', reason: 'Old importer, to be deleted', expires: '2026-01-01', index: 2, line: 14 },
      { rule: 'JIT', path: '.cache/**', reason: 'Generated cache files are rebuilt in CI', index: 3, line: 18 },
      {
        rule: '*',
        path: 'vendor/**',
        fingerprint: 'fp-vendor-0002',
        reason: 'Vendored code, tracked upstream',
        index: 4,
        line: 21,
      },
    ]);
  });

  it('fills fields the file leaves out from the spec defaults', () => {
    const file = tmpPolicy('rules:\n  JIT-EVAL-COMPILE:\n    owner: "AppSec"\n');
    assert.deepEqual(loadPolicy(file), {
      ...defaultPolicy(path.dirname(file)),
      path: file,
      rules: { 'JIT-EVAL-COMPILE': { owner: 'AppSec' } },
    });
  });

  it('accepts empty `rules:` and `allowlist:` (all entries commented out)', () => {
    const file = tmpPolicy('category: JIT\nrules:\nallowlist:\n#  - rule: JIT\n');
    const policy = loadPolicy(file);
    assert.deepEqual(policy.rules, {});
    assert.deepEqual(policy.allowlist, []);
  });

  it('loads the template to the default gate plus the spec rule example', () => {
    const text = policyTemplate();
    for (const specLine of [
      'category: JIT',
      'fail_on:\n  - CRITICAL\n  - HIGH',
      'ticket_on:\n  - MEDIUM',
      'retest: "sentinel sast ./src/ --rule JIT"',
      'rules:\n  JIT-EVAL-COMPILE:\n    owner: "Application security and backend/agent owner"\n    fail_on: ["CRITICAL", "HIGH"]\n    retest: "sentinel sast ./src/ --rule JIT"',
    ]) {
      assert.ok(text.includes(specLine), `template holds the spec text:\n${specLine}`);
    }
    const file = tmpPolicy(text);
    assert.deepEqual(loadPolicy(file), {
      ...defaultPolicy(path.dirname(file)),
      path: file,
      rules: {
        'JIT-EVAL-COMPILE': {
          owner: 'Application security and backend/agent owner',
          failOn: ['CRITICAL', 'HIGH'],
          retest: SPEC_RETEST,
        },
      },
    });
  });

  it('accepts the .yaml spelling and a UTF-8 byte order mark', () => {
    const file = tmpPolicy(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('category: JIT\n')]), 'sentinel-policy.yaml');
    assert.equal(loadPolicy(file).category, 'JIT');
  });

  describe('rejects broken files with a PolicyError naming the file, the field and the line', () => {
    const cases: Array<{ name: string; reason: string; line: number | undefined }> = [
      { name: 'bad-severity.yml', reason: "fail_on[1]: 'HGH' is not a severity (CRITICAL, HIGH, MEDIUM, LOW, INFO)", line: 4 },
      {
        name: 'unknown-key.yml',
        reason: 'fail_onn: is not a known field (known: category, fail_on, ticket_on, retest, rules, allowlist, models)',
        line: 3,
      },
      {
        name: 'unknown-rule-key.yml',
        reason: 'rules.JIT-EVAL-COMPILE.failOn: is not a known field (known: owner, fail_on, ticket_on, retest)',
        line: 4,
      },
      {
        name: 'unknown-rule.yml',
        reason: 'rules.JIT-EVAL-COMPLE: is not a rule in the catalog (known: JIT-CACHE-POISONING, JIT-DYNAMIC-KERNEL, JIT-EVAL-COMPILE)',
        line: 5,
      },
      {
        name: 'unknown-allow-rule.yml',
        reason:
          "allowlist[0].rule: 'JIT-EVAL' is not a rule ID, a category or * (rules: JIT-CACHE-POISONING, JIT-DYNAMIC-KERNEL, JIT-EVAL-COMPILE; categories: JIT)",
        line: 3,
      },
      { name: 'bad-date.yml', reason: "allowlist[0].expires: '2026-02-30' is not a real date", line: 6 },
      {
        name: 'bad-date-format.yml',
        reason: "allowlist[0].expires: must be a date written YYYY-MM-DD (found '30.09.2026')",
        line: 6,
      },
      { name: 'missing-reason.yml', reason: 'allowlist[0].reason: is required but missing', line: 3 },
      { name: 'no-target.yml', reason: 'allowlist[0]: needs `path` or `fingerprint` to say which findings it accepts', line: 3 },
      { name: 'fail-on-string.yml', reason: "fail_on: must be a list of severities, not the text 'HIGH'", line: 1 },
      {
        name: 'not-a-mapping.yml',
        reason: 'must be a mapping of policy fields (category, fail_on, ticket_on, retest, rules, allowlist, models), not a list',
        line: 1,
      },
      { name: 'broken-yaml.yml', reason: 'is not valid YAML (line 3, column 1): deficient indentation', line: 3 },
      { name: 'empty.yml', reason: 'is empty; write at least `category: JIT` or delete the file', line: undefined },
      {
        name: 'comments-only.yml',
        reason: 'is empty (it holds only comments); write at least `category: JIT` or delete the file',
        line: undefined,
      },
      { name: 'not-utf8.yml', reason: 'is not UTF-8 text (first bad byte on line 3); save it as UTF-8', line: 3 },
      // A key that is not allowed is named as the key (not '[object Object]', its value).
      { name: 'unknown-model-language.yml', reason: "models.sources.ruby: 'ruby' is not an allowed value (python, javascript, cuda)", line: 4 },
      // The deepest complaint, not the other oneOf branch's ("must be equal to constant").
      { name: 'bad-sink-args.yml', reason: 'models: extra sink 0: args.0 must be integer', line: 2 },
    ];
    for (const { name, reason, line } of cases) {
      it(name, () => {
        const file = fixture('invalid', name);
        const err = loadError(file);
        assert.equal(err.file, file);
        assert.equal(err.reason, reason);
        assert.equal(err.message, `${file}: ${reason}`);
        assert.equal(err.line, line);
      });
    }
  });

  it('names the file as the caller gave it', () => {
    const err = loadError(path.relative(process.cwd(), fixture('invalid', 'bad-severity.yml')));
    assert.equal(
      err.message,
      "fixtures/policy/invalid/bad-severity.yml: fail_on[1]: 'HGH' is not a severity (CRITICAL, HIGH, MEDIUM, LOW, INFO)",
    );
  });

  it('refuses the billion-laughs bomb at the first alias instead of expanding it', () => {
    const started = process.hrtime.bigint();
    const err = loadError(fixture('invalid', 'billion-laughs.yml'));
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(err.reason, 'uses a YAML alias (*name) at line 3, column 8; policy files may not use aliases, write the value out');
    assert.equal(err.line, 3);
    assert.ok(elapsedMs < 1000, `rejected in ${elapsedMs} ms`);
  });

  it('refuses even a single harmless alias', () => {
    const err = loadError(tmpPolicy('fail_on: &gate [CRITICAL]\nticket_on: *gate\n'));
    assert.equal(err.reason, 'uses a YAML alias (*name) at line 2, column 12; policy files may not use aliases, write the value out');
  });

  it('refuses a file over 1 MiB without parsing it, and accepts one of exactly 1 MiB', () => {
    const head = 'category: JIT\n';
    const exact = head + '#'.repeat(MAX_POLICY_BYTES - head.length - 1) + '\n';
    assert.equal(Buffer.byteLength(exact), MAX_POLICY_BYTES);
    assert.equal(loadPolicy(tmpPolicy(exact)).category, 'JIT');
    const err = loadError(tmpPolicy(exact + '\n'));
    assert.equal(err.reason, `is larger than 1 MiB (${MAX_POLICY_BYTES + 1} bytes); a policy is a few lines of YAML`);
  });

  it('reports a missing file and a folder', () => {
    const missing = path.join(tmpRoot, 'nope', 'sentinel-policy.yml');
    assert.equal(loadError(missing).message, `${missing}: cannot be read: no such file (ENOENT)`);
    assert.equal(loadError(tmpRoot).message, `${tmpRoot}: is a folder, not a regular file; a policy must be a regular YAML file`);
  });

  it('reports a repeated severity', () => {
    const err = loadError(tmpPolicy('fail_on: [CRITICAL, HIGH, CRITICAL]\n'));
    assert.equal(err.reason, "fail_on[2]: 'CRITICAL' is listed twice (also at [0])");
    assert.equal(err.line, 1);
  });

  it('reports a lower-case severity inside a rule override', () => {
    const err = loadError(tmpPolicy('rules:\n  JIT-DYNAMIC-KERNEL:\n    ticket_on:\n      - high\n'));
    assert.equal(err.reason, "rules.JIT-DYNAMIC-KERNEL.ticket_on[0]: 'high' is not a severity (CRITICAL, HIGH, MEDIUM, LOW, INFO)");
    assert.equal(err.line, 4);
  });

  it('reports a rule key that is not shaped like a rule ID', () => {
    const err = loadError(tmpPolicy('rules:\n  eval:\n    owner: AppSec\n'));
    assert.equal(err.reason, 'rules.eval: is not a rule ID (rule IDs look like JIT-EVAL-COMPILE)');
    assert.equal(err.line, 2);
  });

  it('reports a category that is not in the catalog', () => {
    const err = loadError(tmpPolicy('category: SQLI\n'));
    assert.equal(err.reason, "category: 'SQLI' is not a rule category in the catalog (JIT)");
  });

  it('reports blank reasons, duplicate keys and unsafe allowlist globs', () => {
    const entry = (extra: string) => `allowlist:\n  - rule: JIT\n    reason: "ok"\n${extra}`;
    assert.equal(
      loadError(tmpPolicy('allowlist:\n  - rule: JIT\n    path: src/**\n    reason: "  "\n')).reason,
      "allowlist[0].reason: must say why the finding is accepted, not be blank (found '  ')",
    );
    assert.equal(
      loadError(tmpPolicy(entry('    path: src\\legacy\\**\n'))).reason,
      "allowlist[0].path: 'src\\legacy\\**' uses backslashes; write globs with forward slashes",
    );
    assert.equal(
      loadError(tmpPolicy(entry('    path: /srv/app/**\n'))).reason,
      "allowlist[0].path: '/srv/app/**' is absolute; write it relative to the policy file's folder",
    );
    assert.equal(
      loadError(tmpPolicy(entry('    path: ../other/**\n'))).reason,
      "allowlist[0].path: '../other/**' leaves the policy file's folder; move the policy up or the entry into another policy",
    );
    assert.equal(
      loadError(tmpPolicy('category: JIT\ncategory: JIT\n')).reason,
      'is not valid YAML (line 2, column 1): duplicated mapping key',
    );
  });

  it('validates rule IDs against the catalog it is given', () => {
    const evalOnly = catalog.byId.get('JIT-EVAL-COMPILE');
    assert.ok(evalOnly);
    const small: Catalog = { dir: catalog.dir, rules: [evalOnly], byId: new Map([[evalOnly.id, evalOnly]]), sources: {} };
    const err = loadError(fixture('overrides', 'sentinel-policy.yml'), small);
    assert.equal(err.reason, 'rules.JIT-CACHE-POISONING: is not a rule in the catalog (known: JIT-EVAL-COMPILE)');
    assert.equal(err.line, 11);
  });
});

describe('findPolicy', () => {
  it('walks up from a folder to the nearest policy (.yaml spelling)', () => {
    assert.equal(findPolicy(fixture('tree', 'src', 'deep')), fixture('tree', 'sentinel-policy.yaml'));
  });

  it('starts from the folder of a file', () => {
    assert.equal(findPolicy(fixture('tree', 'src', 'deep', 'model.py')), fixture('tree', 'sentinel-policy.yaml'));
  });

  it('finds a policy in the start folder itself and resolves relative paths', () => {
    const relative = path.relative(process.cwd(), fixture('spec'));
    assert.equal(findPolicy(relative), fixture('spec', 'sentinel-policy.yml'));
  });

  it('prefers sentinel-policy.yml over .yaml in the same folder, and finds a folder of that name (which loading refuses)', () => {
    const dir = path.join(tmpRoot, 'both');
    fs.mkdirSync(path.join(dir, 'sub', 'sentinel-policy.yml'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sentinel-policy.yml'), 'category: JIT\n');
    fs.writeFileSync(path.join(dir, 'sentinel-policy.yaml'), 'category: JIT\n');
    assert.equal(findPolicy(dir), path.join(dir, 'sentinel-policy.yml'));
    // A folder where the policy should be is not skipped in silence: the scan stops on it (exit 2).
    const folder = path.join(dir, 'sub', 'sentinel-policy.yml');
    assert.equal(findPolicy(path.join(dir, 'sub')), folder);
    assert.match(loadError(folder).message, /is a folder, not a regular file/);
  });

  it('returns undefined when no folder up to the root holds a policy', () => {
    const dir = path.join(tmpRoot, 'empty', 'a', 'b');
    fs.mkdirSync(dir, { recursive: true });
    assert.equal(findPolicy(dir), undefined);
  });
});

describe('applyPolicy', () => {
  const allowPolicy = () => loadPolicy(fixture('allowlist', 'sentinel-policy.yml'));
  const allowDir = fixture('allowlist');
  const beforeExpiry = new Date('2025-12-01T00:00:00Z');
  const afterSecondExpiry = new Date('2026-03-01T00:00:00Z');

  it('decides block, ticket and report from the default gate by severity', () => {
    const findings = (['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'] as Severity[]).map((severity) =>
      makeFinding('JIT-EVAL-COMPILE', `src/${severity}.py`, { severity }),
    );
    const warnings = applyPolicy(findings, defaultPolicy('/repo'), { baseDir: '/repo' });
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      findings.map((f) => f.decision),
      ['block', 'block', 'ticket', 'report', 'report'],
    );
    assert.ok(findings.every((f) => f.suppression === undefined));
  });

  it('applies per-rule owner, gate and retest overrides', () => {
    const policy = loadPolicy(fixture('overrides', 'sentinel-policy.yml'));
    const evalFinding = makeFinding('JIT-EVAL-COMPILE', 'src/a.py');
    const cache = makeFinding('JIT-CACHE-POISONING', 'Dockerfile');
    const kernel = makeFinding('JIT-DYNAMIC-KERNEL', 'src/k.py');
    applyPolicy([evalFinding, cache, kernel], policy, { baseDir: policy.dir });

    assert.equal(cache.severity, 'MEDIUM');
    assert.equal(cache.decision, 'block');
    assert.equal(cache.owner, 'Platform team');
    assert.equal(cache.retest, 'sentinel sast ./deploy/ --rule JIT-CACHE-POISONING');

    assert.equal(kernel.severity, 'HIGH');
    assert.equal(kernel.decision, 'ticket');
    assert.equal(kernel.owner, 'Application security and backend/agent owner');
    assert.equal(kernel.retest, SPEC_RETEST);

    assert.equal(evalFinding.decision, 'block');
    assert.equal(evalFinding.owner, 'Application security and backend/agent owner');
  });

  it('replaces every finding’s retest with the policy retest when no rule overrides it', () => {
    const policy: Policy = { ...defaultPolicy('/repo'), retest: 'make sentinel' };
    const finding = makeFinding('JIT-DYNAMIC-KERNEL', 'k.py', { owner: 'Kernel team' });
    applyPolicy([finding], policy, { baseDir: '/repo' });
    assert.equal(finding.retest, 'make sentinel');
    assert.equal(finding.owner, 'Kernel team');
  });

  it('suppresses a finding under an allowlisted path glob, naming the entry and its expiry', () => {
    const finding = makeFinding('JIT-EVAL-COMPILE', 'src/legacy/formulas/engine.py');
    const warnings = applyPolicy([finding], allowPolicy(), { baseDir: allowDir, now: beforeExpiry });
    assert.deepEqual(warnings, []);
    assert.equal(finding.decision, 'suppressed');
    assert.deepEqual(finding.suppression, {
      kind: 'policy',
      reason: 'Legacy formula engine runs in a sandboxed worker; replaced in Q3',
      source: 'sentinel-policy.yml#allowlist[0]',
      expires: '2026-09-30',
    });
  });

  it('matches globs exactly: not a sibling folder, not another rule', () => {
    const sibling = makeFinding('JIT-EVAL-COMPILE', 'src/legacy.py');
    const prefix = makeFinding('JIT-EVAL-COMPILE', 'src/legacyx/a.py');
    const otherRule = makeFinding('JIT-DYNAMIC-KERNEL', 'src/legacy/k.py');
    applyPolicy([sibling, prefix, otherRule], allowPolicy(), { baseDir: allowDir, now: beforeExpiry });
    assert.deepEqual(
      [sibling, prefix, otherRule].map((f) => [f.decision, f.suppression]),
      [
        ['block', undefined],
        ['block', undefined],
        ['block', undefined],
      ],
    );
  });

  it('resolves finding paths against the scan baseDir before matching the policy folder', () => {
    const finding = makeFinding('JIT-EVAL-COMPILE', 'legacy/engine.py');
    applyPolicy([finding], allowPolicy(), { baseDir: path.join(allowDir, 'src'), now: beforeExpiry });
    assert.equal(finding.decision, 'suppressed');
    // The policy sits above the scan root, so its path is written out in full.
    assert.equal(finding.suppression?.source, `${fixture('allowlist', 'sentinel-policy.yml')}#allowlist[0]`);
  });

  it('does not match files outside the policy folder', () => {
    const finding = makeFinding('JIT-EVAL-COMPILE', 'elsewhere/src/legacy/engine.py');
    applyPolicy([finding], allowPolicy(), { baseDir: FIXTURES, now: beforeExpiry });
    assert.equal(finding.decision, 'block');
  });

  it('suppresses by fingerprint anywhere, and only that fingerprint', () => {
    const accepted = makeFinding('JIT-DYNAMIC-KERNEL', 'anywhere/kernels.py', { fingerprint: 'fp-kernel-0001' });
    const other = makeFinding('JIT-DYNAMIC-KERNEL', 'anywhere/kernels.py', { fingerprint: 'fp-kernel-9999' });
    applyPolicy([accepted, other], allowPolicy(), { baseDir: allowDir, now: beforeExpiry });
    assert.deepEqual(accepted.suppression, {
      kind: 'policy',
      reason: 'Kernel template is built from a fixed enum, reviewed by appsec',
      source: 'sentinel-policy.yml#allowlist[1]',
    });
    assert.equal(accepted.decision, 'suppressed');
    assert.equal(other.decision, 'block');
  });

  it('matches a category entry for every rule in it, including dot folders', () => {
    const findings = ['JIT-EVAL-COMPILE', 'JIT-DYNAMIC-KERNEL', 'JIT-CACHE-POISONING'].map((id) => makeFinding(id, '.cache/gen/x.py'));
    applyPolicy(findings, allowPolicy(), { baseDir: allowDir, now: beforeExpiry });
    assert.deepEqual(
      findings.map((f) => f.suppression?.source),
      ['sentinel-policy.yml#allowlist[3]', 'sentinel-policy.yml#allowlist[3]', 'sentinel-policy.yml#allowlist[3]'],
    );
  });

  it('needs both path and fingerprint when an entry gives both', () => {
    const both = makeFinding('JIT-CACHE-POISONING', 'vendor/lib/cache.py', { fingerprint: 'fp-vendor-0002' });
    const pathOnly = makeFinding('JIT-CACHE-POISONING', 'vendor/lib/cache.py', { fingerprint: 'fp-other' });
    const fingerprintOnly = makeFinding('JIT-CACHE-POISONING', 'src/cache.py', { fingerprint: 'fp-vendor-0002' });
    applyPolicy([both, pathOnly, fingerprintOnly], allowPolicy(), { baseDir: allowDir, now: beforeExpiry });
    assert.deepEqual(
      [both, pathOnly, fingerprintOnly].map((f) => f.decision),
      ['suppressed', 'ticket', 'ticket'],
    );
    assert.equal(both.suppression?.source, 'sentinel-policy.yml#allowlist[4]');
  });

  it('an expired entry stops suppressing and yields one warning for all the findings it would cover', () => {
    const first = makeFinding('JIT-EVAL-COMPILE', 'src/old/importer.py');
    const second = makeFinding('JIT-EVAL-COMPILE', 'src/old/parser.py');
    const warnings = applyPolicy([first, second], allowPolicy(), { baseDir: allowDir, now: afterSecondExpiry });
    assert.deepEqual(warnings, [
      {
        code: 'policy-expired-allowlist',
        path: 'sentinel-policy.yml',
        message:
          'allowlist[2] (JIT-EVAL-COMPILE, src/old/**) expired on 2026-01-01 and no longer suppresses; renew it with a reason or fix the finding',
        line: 14,
      },
    ]);
    assert.deepEqual(
      [first, second].map((f) => [f.decision, f.suppression]),
      [
        ['block', undefined],
        ['block', undefined],
      ],
    );
  });

  it('expires at the start of the expiry date (UTC)', () => {
    const lastDay = makeFinding('JIT-EVAL-COMPILE', 'src/old/importer.py');
    applyPolicy([lastDay], allowPolicy(), { baseDir: allowDir, now: new Date('2025-12-31T23:59:59.999Z') });
    assert.equal(lastDay.decision, 'suppressed');
    const expiryDay = makeFinding('JIT-EVAL-COMPILE', 'src/old/importer.py');
    const warnings = applyPolicy([expiryDay], allowPolicy(), { baseDir: allowDir, now: new Date('2026-01-01T00:00:00Z') });
    assert.equal(expiryDay.decision, 'block');
    assert.equal(warnings.length, 1);
  });

  it('does not warn about an expired entry that matches no finding', () => {
    const finding = makeFinding('JIT-EVAL-COMPILE', 'src/legacy/engine.py');
    const warnings = applyPolicy([finding], allowPolicy(), { baseDir: allowDir, now: afterSecondExpiry });
    assert.deepEqual(warnings, []);
    assert.equal(finding.suppression?.source, 'sentinel-policy.yml#allowlist[0]');
  });

  it('warns per expired entry, in allowlist order, when both entries lapse', () => {
    const legacy = makeFinding('JIT-EVAL-COMPILE', 'src/legacy/engine.py');
    const old = makeFinding('JIT-EVAL-COMPILE', 'src/old/importer.py');
    const warnings = applyPolicy([old, legacy], allowPolicy(), { baseDir: allowDir, now: new Date('2026-10-01T00:00:00Z') });
    assert.deepEqual(
      warnings.map((w) => w.message),
      [
        'allowlist[0] (JIT-EVAL-COMPILE, src/legacy/**) expired on 2026-09-30 and no longer suppresses; renew it with a reason or fix the finding',
        'allowlist[2] (JIT-EVAL-COMPILE, src/old/**) expired on 2026-01-01 and no longer suppresses; renew it with a reason or fix the finding',
      ],
    );
  });

  it('keeps an inline suppression and does not warn about the expired entry behind it', () => {
    const inline = { kind: 'inline' as const, reason: 'expr is parsed by ast first' };
    const finding = makeFinding('JIT-EVAL-COMPILE', 'src/old/importer.py', { suppression: { ...inline } });
    const warnings = applyPolicy([finding], allowPolicy(), { baseDir: allowDir, now: afterSecondExpiry });
    assert.deepEqual(warnings, []);
    assert.deepEqual(finding.suppression, inline);
    assert.equal(finding.decision, 'suppressed');
  });

  it('recomputes a policy suppression when a different policy is applied again', () => {
    const finding = makeFinding('JIT-EVAL-COMPILE', 'src/legacy/engine.py');
    applyPolicy([finding], allowPolicy(), { baseDir: allowDir, now: beforeExpiry });
    assert.equal(finding.decision, 'suppressed');
    applyPolicy([finding], defaultPolicy(allowDir), { baseDir: allowDir, now: beforeExpiry });
    assert.equal(finding.suppression, undefined);
    assert.equal(finding.decision, 'block');
  });
});

describe('summarize', () => {
  it('counts unsuppressed findings by severity and decides blocked', () => {
    const policy = defaultPolicy('/repo');
    const findings = [
      makeFinding('JIT-EVAL-COMPILE', 'a.py'),
      makeFinding('JIT-DYNAMIC-KERNEL', 'b.py'),
      makeFinding('JIT-CACHE-POISONING', 'c.py'),
      makeFinding('JIT-EVAL-COMPILE', 'd.py', { severity: 'LOW' }),
      makeFinding('JIT-EVAL-COMPILE', 'e.py', { suppression: { kind: 'inline', reason: 'reviewed' } }),
    ];
    applyPolicy(findings, policy, { baseDir: '/repo' });
    assert.deepEqual(summarize(findings, policy), {
      decision: 'blocked',
      bySeverity: { CRITICAL: 0, HIGH: 2, MEDIUM: 1, LOW: 1, INFO: 0 },
      blocking: 2,
      tickets: 1,
      suppressed: 1,
      retest: SPEC_RETEST,
    });
  });

  it('decides tickets when nothing blocks', () => {
    const policy = defaultPolicy('/repo');
    const findings = [makeFinding('JIT-CACHE-POISONING', 'c.py'), makeFinding('JIT-EVAL-COMPILE', 'd.py', { severity: 'INFO' })];
    applyPolicy(findings, policy, { baseDir: '/repo' });
    assert.deepEqual(summarize(findings, policy), {
      decision: 'tickets',
      bySeverity: { CRITICAL: 0, HIGH: 0, MEDIUM: 1, LOW: 0, INFO: 1 },
      blocking: 0,
      tickets: 1,
      suppressed: 0,
      retest: SPEC_RETEST,
    });
  });

  it('is clean with no findings or only suppressed ones, and carries the policy retest', () => {
    const policy: Policy = { ...defaultPolicy('/repo'), retest: 'make sentinel' };
    const empty = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFO: 0 };
    assert.deepEqual(summarize([], policy), {
      decision: 'clean',
      bySeverity: empty,
      blocking: 0,
      tickets: 0,
      suppressed: 0,
      retest: 'make sentinel',
    });
    const suppressed = [makeFinding('JIT-EVAL-COMPILE', 'a.py', { suppression: { kind: 'inline', reason: 'ok' } })];
    applyPolicy(suppressed, policy, { baseDir: '/repo' });
    assert.deepEqual(summarize(suppressed, policy), {
      decision: 'clean',
      bySeverity: empty,
      blocking: 0,
      tickets: 0,
      suppressed: 1,
      retest: 'make sentinel',
    });
  });
});
