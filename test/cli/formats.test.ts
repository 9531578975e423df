// The CI formats: GitHub workflow-command annotations, a Markdown PR comment, GitLab's SAST report (checked
// against a schema written from GitLab's documented fields), GitLab Code Quality and JUnit XML (parsed by a
// strict XML parser), plus --report for writing several formats from one scan.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import Ajv from 'ajv';
import { toGithub } from '../../server/src/cli/reporters/github';
import { toMarkdown } from '../../server/src/cli/reporters/markdown';
import type { CodeQualityIssue } from '../../server/src/cli/reporters/codequality';
import { type GitlabSastReport, toGitlabSast } from '../../server/src/cli/reporters/gitlab';
import type { ScanReport } from '../../server/src/engine/finding';
import { makeWorkspace, removeWorkspace, runCli } from '../helpers/workspace';

const EVAL_PY = 'def calculate(expression):\n    return eval(expression)\n';
const KERNEL_PY = 'import cupy as cp\n\ndef build(op):\n    src = f"__global__ void k(float* x) {{ x[0] = {op}; }}"\n    return cp.RawKernel(src, "k")\n';
const WEIRD = 'src/a,b:c|<d>.py';
const EVAL_OWNER = 'Application security and backend/agent owner';

const WORKSPACE = {
  'src/calc.py': EVAL_PY,
  'src/kern.py': KERNEL_PY,
  [WEIRD]: EVAL_PY,
  'src/ok.py': 'def f(e):\n    # sentinel: allow JIT-EVAL-COMPILE -- parsed by our grammar first\n    return eval(e)\n',
  '.env': 'TRITON_CACHE_DIR=/tmp/triton\n',
  'broken.ipynb': '{ not json',
};

const ajv = new Ajv({ allErrors: true, strict: false });
const schema = (name: string) => JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'schemas', name), 'utf8'));
const validateGitlab = ajv.compile(schema('gitlab-sast-report.schema.json'));
const validateCodeQuality = ajv.compile(schema('gitlab-codequality.schema.json'));

interface SaxParser {
  onerror: (e: Error) => void;
  onopentag: (tag: { name: string; attributes: Record<string, string> }) => void;
  onclosetag: (name: string) => void;
  ontext: (text: string) => void;
  write(xml: string): SaxParser;
  close(): void;
}
// A strict, well-tested XML parser already in the lockfile (through @vscode/vsce → xml2js).
const sax = createRequire(__filename)('sax') as { parser(strict: boolean): SaxParser };

interface XmlNode {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  text: string;
}

/** Parses strictly (malformed XML throws) into a small element tree. */
function parseXml(xml: string): XmlNode {
  const parser = sax.parser(true);
  const root: XmlNode = { name: '#document', attributes: {}, children: [], text: '' };
  const stack = [root];
  parser.onerror = (e) => {
    throw e;
  };
  parser.onopentag = (tag) => {
    const node: XmlNode = { name: tag.name, attributes: tag.attributes, children: [], text: '' };
    stack[stack.length - 1]!.children.push(node);
    stack.push(node);
  };
  parser.onclosetag = () => void stack.pop();
  parser.ontext = (t) => {
    stack[stack.length - 1]!.text += t;
  };
  parser.write(xml).close();
  assert.equal(root.children.length, 1, 'one root element');
  return root.children[0]!;
}

describe('CI formats', () => {
  let ws: string;
  before(() => {
    ws = makeWorkspace(WORKSPACE);
  });
  after(() => removeWorkspace(ws));

  async function run(format: string, ...extra: string[]) {
    return runCli(['sast', '.', '--format', format, ...extra], ws);
  }

  describe('--format github', () => {
    it('prints one workflow command per unsuppressed finding: errors for blockers, warnings for tickets', async () => {
      const r = await run('github');
      assert.equal(r.code, 1);
      const lines = r.stdout.trimEnd().split('\n');
      assert.deepEqual(
        lines.map((l) => l.slice(0, l.indexOf(' '))),
        ['::warning', '::error', '::error', '::error', '::warning'],
      );
      // The file the scan could not read comes after the findings, named with the reason.
      assert.match(lines[4]!, /^::warning file=broken\.ipynb,title=Sentinel%3A bad-notebook::broken\.ipynb .+/);
      assert.equal(
        lines[2],
        '::error file=src/calc.py,line=2,endLine=2,col=12,endColumn=28,title=JIT-EVAL-COMPILE HIGH%3A Dynamic eval or compile::' +
          `\`builtins.eval()\` receives \`expression\`, a parameter of \`calculate()\`. Do not compile user-controlled strings. Owner: ${EVAL_OWNER}. Retest: sentinel sast ./src/ --rule JIT`,
      );
      assert.ok(lines[0]!.startsWith('::warning file=.env,line=1,'), lines[0]);
      // Commas and colons in a path cannot split the properties.
      assert.ok(lines[1]!.startsWith('::error file=src/a%2Cb%3Ac|<d>.py,line=2,'), lines[1]);
      assert.ok(!r.stdout.includes('src/ok.py'), 'the suppressed finding is not annotated');
    });

    it('makes paths relative to GITHUB_WORKSPACE when Sentinel runs in a subfolder', async () => {
      const before = process.env.GITHUB_WORKSPACE;
      process.env.GITHUB_WORKSPACE = ws;
      try {
        const r = await runCli(['sast', 'calc.py', '--format', 'github'], path.join(ws, 'src'));
        assert.match(r.stdout, /^::error file=src\/calc\.py,line=2,/);
      } finally {
        if (before === undefined) delete process.env.GITHUB_WORKSPACE;
        else process.env.GITHUB_WORKSPACE = before;
      }
    });

    it('escapes %, CR and LF so a crafted signal cannot start a second command', async () => {
      const report = JSON.parse((await run('json')).stdout) as ScanReport;
      const f = report.findings.find((x) => x.evidence.path === 'src/calc.py')!;
      f.evidence.signal = '100% sure\r\n::add-mask::secret';
      report.findings = [f];
      report.warnings = [];
      const out = toGithub(report);
      assert.equal(out.split('\n').length, 2);
      assert.ok(out.includes('::100%25 sure%0D%0A::add-mask::secret. Do not compile'), out);
    });

    it('writes no control character or bidi override from a scanned file raw into the log: shown as \\u{…}', async () => {
      const report = JSON.parse((await run('json')).stdout) as ScanReport;
      const f = report.findings.find((x) => x.evidence.path === 'src/calc.py')!;
      f.evidence.path = 'src/\x1b]0;pwned\x07\u202ecalc.py';
      f.evidence.signal = 'ring \x07 the bell';
      report.findings = [f];
      report.warnings = [{ code: 'binary', path: 'bin/\x1b[2Jx.py', message: 'holds NUL bytes' }];
      const out = toGithub(report);
      assert.ok(!/[\x00-\x08\x0b-\x1f\x7f\u202e]/.test(out), JSON.stringify(out));
      assert.ok(out.includes('file=src/\\u{1b}]0;pwned\\u{7}\\u{202e}calc.py'), out);
      assert.ok(out.includes('ring \\u{7} the bell'), out);
      assert.ok(out.includes('bin/\\u{1b}[2Jx.py'), out);
      const md = toMarkdown({ ...report, summary: { ...report.summary } });
      assert.ok(!/[\x00-\x08\x0b-\x1f\x7f\u202e]/.test(md), JSON.stringify(md));
      assert.ok(md.includes('src/\\u{1b}]0;pwned\\u{7}\\u{202e}calc.py'), md);
    });
  });

  describe('--format markdown', () => {
    it('leads with the decision, tables the gating findings with owner and fix hint, ends with the retest command', async () => {
      const r = await run('markdown');
      assert.equal(r.code, 1);
      const md = r.stdout;
      assert.ok(md.startsWith('### Sentinel: release gate BLOCKED\n\n3 finding(s) at a `fail_on` severity block the release.\n'), md);
      assert.ok(md.includes(`| JIT-EVAL-COMPILE — Dynamic eval or compile | HIGH | <code>src/calc.py:2</code> | ${EVAL_OWNER} | Do not compile user-controlled strings. |\n`), md);
      assert.ok(md.includes('| JIT-CACHE-POISONING — Writable JIT Cache | MEDIUM | ticket | <code>.env:1</code> |'), md);
      assert.ok(md.includes('<summary>1 suppressed finding(s)</summary>'));
      assert.ok(md.includes('<summary>1 file(s) not fully scanned</summary>'), md);
      assert.match(md, /- <code>broken\.ipynb<\/code> \(bad-notebook\): /);
      assert.ok(md.endsWith('**Retest:** <code>sentinel sast ./src/ --rule JIT</code>\n'));
    });

    it('escapes paths so they cannot inject HTML or break the table', async () => {
      const md = (await run('markdown')).stdout;
      assert.ok(md.includes('<code>src/a,b:c&#124;&lt;d&gt;.py:2</code>'), md);
      assert.ok(!md.includes('<d>'));
      for (const row of md.split('\n').filter((l) => l.startsWith('| JIT-'))) {
        const cells = row.split('|').length;
        assert.ok(cells === 7 || cells === 8, `a row with ${cells - 2} cells: ${row}`);
      }
    });
  });

  describe('--format gitlab', () => {
    it('matches the GitLab SAST schema subset and carries rule ID, CWE, severity, location and solution', async () => {
      const r = await run('gitlab');
      assert.equal(r.code, 1);
      const report = JSON.parse(r.stdout) as GitlabSastReport;
      assert.ok(validateGitlab(report), JSON.stringify(validateGitlab.errors, null, 2));
      assert.equal(report.version, '15.0.7');
      assert.equal(report.scan.type, 'sast');
      assert.equal(report.scan.status, 'success');
      assert.equal(report.scan.analyzer.id, 'sentinel');
      assert.ok(report.scan.start_time <= report.scan.end_time);
      assert.equal(report.vulnerabilities.length, 4, 'the suppressed finding is not a vulnerability');
      const calc = report.vulnerabilities.find((v) => v.location.file === 'src/calc.py')!;
      assert.deepEqual(calc.location, { file: 'src/calc.py', start_line: 2, end_line: 2 });
      assert.equal(calc.severity, 'High');
      assert.equal(calc.name, 'Dynamic eval or compile (JIT-EVAL-COMPILE)');
      assert.match(calc.solution, /^Do not compile user-controlled strings\. /);
      assert.match(calc.description, /Observed: `builtins\.eval\(\)` receives `expression`/);
      assert.deepEqual(calc.identifiers, [
        { type: 'sentinel_rule_id', name: 'Sentinel JIT-EVAL-COMPILE', value: 'JIT-EVAL-COMPILE', url: calc.identifiers[0]!.url },
        { type: 'cwe', name: 'CWE-95', value: '95', url: 'https://cwe.mitre.org/data/definitions/95.html' },
      ]);
      assert.match(calc.identifiers[0]!.url ?? '', /^https?:\/\/.+JIT-EVAL-COMPILE/);
      assert.equal(calc.details.owner!.value, EVAL_OWNER);
      const cache = report.vulnerabilities.find((v) => v.location.file === '.env')!;
      assert.equal(cache.severity, 'Medium');
      assert.deepEqual(cache.identifiers[1], { type: 'cwe', name: 'CWE-345', value: '345', url: 'https://cwe.mitre.org/data/definitions/345.html' });
      const ids = report.vulnerabilities.map((v) => v.id);
      assert.equal(new Set(ids).size, ids.length);
      for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(JSON.parse((await run('gitlab')).stdout).vulnerabilities.map((v: { id: string }) => v.id), ids, 'IDs are stable across runs');
      const messages = report.scan.messages.map((m) => `${m.level} ${m.value}`);
      assert.ok(messages.includes('info JIT-EVAL-COMPILE at src/ok.py:3 is suppressed: parsed by our grammar first'), messages.join('\n'));
      assert.ok(messages.some((m) => m.startsWith('warn broken.ipynb: ') && m.endsWith('[bad-notebook]')), messages.join('\n'));
    });

    it('has a schema that rejects what GitLab rejects: a bad severity, a zoned time, a missing identifier, a long name', async () => {
      const good = JSON.parse((await run('gitlab')).stdout) as GitlabSastReport;
      const broken = (mutate: (r: { vulnerabilities: { severity: string; identifiers: unknown[]; name: string }[]; scan: { start_time: string; type: string } }) => void) => {
        const copy = JSON.parse(JSON.stringify(good)) as Parameters<typeof mutate>[0];
        mutate(copy);
        return validateGitlab(copy);
      };
      assert.equal(broken(() => undefined), true);
      assert.equal(broken((r) => (r.vulnerabilities[0].severity = 'HIGH')), false);
      assert.equal(broken((r) => (r.scan.start_time = '2026-01-01T00:00:00Z')), false);
      assert.equal(broken((r) => (r.vulnerabilities[0].identifiers = [])), false);
      assert.equal(broken((r) => (r.vulnerabilities[0].name = 'x'.repeat(256))), false);
      assert.equal(broken((r) => (r.scan.type = 'dast')), false);
    });

    it('cuts names to GitLab limits rather than writing a report GitLab would reject', async () => {
      const report = JSON.parse((await run('json')).stdout) as ScanReport;
      report.findings[0]!.title = 'T'.repeat(400);
      const out = toGitlabSast(report, { start: new Date(0), end: new Date(1000) });
      assert.equal(out.vulnerabilities[0]!.name.length, 255);
      assert.equal(out.scan.start_time, '1970-01-01T00:00:00');
      assert.ok(validateGitlab(out), JSON.stringify(validateGitlab.errors));
    });
  });

  describe('--format codequality', () => {
    it('lists unsuppressed findings as Code Quality issues with unique fingerprints', async () => {
      const r = await run('codequality');
      assert.equal(r.code, 1);
      const issues = JSON.parse(r.stdout) as CodeQualityIssue[];
      assert.ok(validateCodeQuality(issues), JSON.stringify(validateCodeQuality.errors));
      assert.deepEqual(
        issues.map((i) => `${i.check_name} ${i.severity} ${i.location.path}:${i.location.lines.begin}`),
        ['JIT-CACHE-POISONING major .env:1', `JIT-EVAL-COMPILE critical ${WEIRD}:2`, 'JIT-EVAL-COMPILE critical src/calc.py:2', 'JIT-DYNAMIC-KERNEL critical src/kern.py:5'],
      );
      const fingerprints = issues.map((i) => i.fingerprint);
      assert.equal(new Set(fingerprints).size, 4, 'identical code in two files still gives two issues');
    });

    it('keeps an issue fingerprint when lines are added above it', async () => {
      const other = makeWorkspace({ 'src/calc.py': `import os\n\n\n${EVAL_PY}` });
      try {
        const [moved] = JSON.parse((await runCli(['sast', '.', '--format', 'codequality'], other)).stdout);
        const original = JSON.parse((await run('codequality')).stdout).find((i: { location: { path: string } }) => i.location.path === 'src/calc.py');
        assert.notEqual(moved.location.lines.begin, original.location.lines.begin);
        assert.equal(moved.fingerprint, original.fingerprint);
      } finally {
        removeWorkspace(other);
      }
    });
  });

  describe('--format junit', () => {
    function suites(xml: string): XmlNode[] {
      const root = parseXml(xml);
      assert.equal(root.name, 'testsuites');
      return root.children;
    }

    it('has one test case per rule and file, failures for gating findings and skipped cases for unreadable inputs', async () => {
      const r = await run('junit');
      assert.equal(r.code, 1);
      const root = parseXml(r.stdout);
      assert.deepEqual(
        { tests: root.attributes.tests, failures: root.attributes.failures, skipped: root.attributes.skipped },
        { tests: '6', failures: '3', skipped: '1' },
      );
      const shape = root.children.map((s) => [
        s.attributes.name,
        s.children.map((c) => `${c.attributes.name}:${c.children.map((x) => x.name).join('+') || 'pass'}`),
      ]);
      assert.deepEqual(shape, [
        ['JIT-CACHE-POISONING', ['.env:system-out']],
        ['JIT-DYNAMIC-KERNEL', ['src/kern.py:failure']],
        ['JIT-EVAL-COMPILE', [`${WEIRD}:failure`, 'src/calc.py:failure', 'src/ok.py:system-out']],
        ['sentinel.inputs', ['broken.ipynb:skipped']],
      ]);
      const calc = root.children[2]!.children[1]!;
      assert.equal(calc.attributes.classname, 'JIT-EVAL-COMPILE');
      const failure = calc.children[0]!;
      assert.equal(failure.attributes.type, 'HIGH');
      assert.equal(failure.attributes.message, '1 finding(s) block the release: Dynamic eval or compile at line 2');
      assert.match(failure.text, /^src\/calc\.py:2:12 JIT-EVAL-COMPILE HIGH block\n {2}`builtins\.eval\(\)` receives `expression`/);
      assert.match(root.children[2]!.children[2]!.children[0]!.text, /suppressed: parsed by our grammar first/);
    });

    it('passes a rule with no findings as one case, and fails nothing that is already in the baseline', async () => {
      const saved = path.join(ws, '..', `${path.basename(ws)}-base.json`);
      try {
        assert.equal((await run('json', '--output', saved)).code, 1);
        const r = await run('junit', '--baseline', saved);
        assert.equal(r.code, 0);
        const all = suites(r.stdout);
        assert.ok(all.every((s) => s.attributes.failures === '0'));
        assert.match(all[1]!.children[0]!.children[0]!.text, /\[in the baseline, does not gate\]/);
        const only = suites((await runCli(['sast', 'src/ok.py', '--format', 'junit'], ws)).stdout);
        assert.deepEqual(only[0]!.children.map((c) => [c.attributes.name, c.children.length]), [['1 file(s) scanned', 0]]);
      } finally {
        fs.rmSync(saved, { force: true });
      }
    });
  });

  describe('--report', () => {
    it('writes several formats from one scan, besides the main output', async () => {
      const out = path.join(ws, '..', `${path.basename(ws)}-reports`);
      try {
        const r = await run('text', '--report', `json=${out}/r.json`, '--report', `junit=${out}/r.xml`, '--report', `markdown=${out}/r.md`);
        assert.equal(r.code, 1);
        assert.match(r.stdout, /Release gate: BLOCKED/);
        assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'r.json'), 'utf8')) as ScanReport).findings.length, 5);
        assert.equal(parseXml(fs.readFileSync(path.join(out, 'r.xml'), 'utf8')).attributes.failures, '3');
        assert.match(fs.readFileSync(path.join(out, 'r.md'), 'utf8'), /^### Sentinel: release gate BLOCKED/);
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    });

    for (const spec of ['xml=out.xml', 'json=', 'json']) {
      it(`exits 2 on --report ${spec}`, async () => {
        const r = await run('text', '--report', spec);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /--report needs FORMAT=FILE/);
      });
    }

    it('lists every format in the unknown-format error', async () => {
      const r = await run('xml');
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown format 'xml' \(text, json, sarif, github, markdown, gitlab, codequality, junit\)/);
    });
  });
});
