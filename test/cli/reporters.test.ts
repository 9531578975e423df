// Tests the CLI reporters (text, JSON, SARIF) on a hand-built scan report that covers every rule, both
// kinds of suppression, a trace, a notebook cell and a warning; SARIF is checked by Microsoft's validator.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import type { Evidence, Finding, ScanReport, Severity, TraceStep } from '../../server/src/engine/finding';
import { SEVERITIES } from '../../server/src/engine/finding';
import { loadCatalog, ruleSummary } from '../../server/src/engine/rules/catalog';
import { toText } from '../../server/src/cli/reporters/text';
import { REPORT_FORMAT, toJson, toJsonReport } from '../../server/src/cli/reporters/json';
import { toSarif, toSarifString, type SarifLog } from '../../server/src/cli/reporters/sarif';
import { sarifErrors } from '../helpers/sarifValidator';

const catalog = loadCatalog();
const RETEST = 'sentinel sast ./src/ --rule JIT';
const BASE_DIR = '/work/projects/model-serving';

type Where = Pick<Evidence, 'path' | 'startLine' | 'startColumn' | 'endLine' | 'endColumn'>;

function span(w: Where): Evidence {
  // Offsets are not what these reporters print; any consistent numbers do.
  return { ...w, startOffset: w.startLine * 100 + w.startColumn, endOffset: w.endLine * 100 + w.endColumn } as Evidence;
}

function step(kind: TraceStep['kind'], w: Where, note: string): TraceStep {
  const s = span(w);
  return {
    kind,
    path: s.path,
    startLine: s.startLine,
    startColumn: s.startColumn,
    endLine: s.endLine,
    endColumn: s.endColumn,
    startOffset: s.startOffset,
    endOffset: s.endOffset,
    note,
  };
}

/** A finding as the engine would produce it: rule fields from the catalog card, evidence and outcome given. */
function finding(
  ruleId: string,
  evidence: Where & Partial<Evidence> & Pick<Evidence, 'nodeType' | 'snippet' | 'signal'>,
  extra: Partial<Finding> & Pick<Finding, 'fingerprint' | 'decision'>,
): Finding {
  const card = catalog.byId.get(ruleId);
  assert.ok(card, `rule ${ruleId} is in the catalog`);
  return {
    ...ruleSummary(card),
    confidence: 'medium',
    trace: [],
    retest: card.retest,
    ...extra,
    evidence: { ...span(evidence), ...evidence },
  };
}

function summarise(findings: Finding[]): ScanReport['summary'] {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) if (f.decision !== 'suppressed') bySeverity[f.severity]++;
  const blocking = findings.filter((f) => f.decision === 'block').length;
  const tickets = findings.filter((f) => f.decision === 'ticket').length;
  return {
    decision: blocking > 0 ? 'blocked' : tickets > 0 ? 'tickets' : 'clean',
    bySeverity,
    blocking,
    tickets,
    suppressed: findings.filter((f) => f.decision === 'suppressed').length,
    retest: RETEST,
  };
}

function report(findings: Finding[], warnings: ScanReport['warnings'] = []): ScanReport {
  return {
    tool: { name: 'sentinel', version: '0.1.0' },
    roots: [path.join(BASE_DIR, 'src'), path.join(BASE_DIR, 'notebooks')],
    baseDir: BASE_DIR,
    rulesRun: catalog.rules.map((r) => r.id),
    policyPath: path.join(BASE_DIR, 'sentinel-policy.yml'),
    findings,
    warnings,
    filesScanned: 7,
    summary: summarise(findings),
  };
}

const evalWithTrace = finding(
  'JIT-EVAL-COMPILE',
  {
    path: 'src/app.py',
    startLine: 14,
    startColumn: 16,
    endLine: 14,
    endColumn: 48,
    nodeType: 'call',
    api: 'builtins.compile',
    snippet: 'compiled = compile(kernel, "<jit>", "exec")',
    signal: 'compile() called with `kernel`, built from HTTP request data',
  },
  {
    confidence: 'high',
    fingerprint: '9f1c2ab07d3e4410',
    decision: 'block',
    trace: [
      step('source', { path: 'src/app.py', startLine: 11, startColumn: 23, endLine: 11, endColumn: 47 }, 'HTTP request data read here'),
      step('step', { path: 'src/app.py', startLine: 13, startColumn: 5, endLine: 13, endColumn: 11 }, 'assigned to `kernel`'),
      step('sink', { path: 'src/app.py', startLine: 14, startColumn: 16, endLine: 14, endColumn: 48 }, 'reaches compile()'),
    ],
    fix: { kind: 'operator-map', variable: 'op' },
  },
);

const notebookKernel = finding(
  'JIT-DYNAMIC-KERNEL',
  {
    path: 'notebooks/kernels.ipynb',
    startLine: 41,
    startColumn: 9,
    endLine: 43,
    endColumn: 4,
    nodeType: 'call',
    api: 'cupy.RawKernel',
    snippet: 'mod = cupy.RawKernel(\n    src, "scale"\n)',
    signal: 'cupy.RawKernel() called with `src`, an f-string with notebook variables',
    cell: { cell: 2, line: 3, column: 7 },
  },
  { fingerprint: '4be07c1d9a22f310', decision: 'block' },
);

const writableCache = finding(
  'JIT-CACHE-POISONING',
  {
    path: 'src/settings.py',
    startLine: 5,
    startColumn: 1,
    endLine: 5,
    endColumn: 46,
    nodeType: 'assignment',
    snippet: 'os.environ["TRITON_CACHE_DIR"] = "/tmp/triton"',
    signal: 'TRITON_CACHE_DIR set to `/tmp/triton`, a shared temp directory',
    variable: 'TRITON_CACHE_DIR',
    value: '/tmp/triton',
  },
  { confidence: 'high', fingerprint: 'c0ffee1234abcd55', decision: 'ticket' },
);

const inlineSuppressed = finding(
  'JIT-EVAL-COMPILE',
  {
    path: 'src/tools/calc tool/eval#1.py',
    startLine: 8,
    startColumn: 12,
    endLine: 8,
    endColumn: 22,
    nodeType: 'call',
    api: 'builtins.eval',
    snippet: 'return eval(expr)  # sentinel: ignore JIT-EVAL-COMPILE -- expr is parsed by ast first',
    signal: 'eval() called with `expr`, a parameter',
  },
  {
    fingerprint: '0d15ea5e0d15ea5e',
    decision: 'suppressed',
    suppression: { kind: 'inline', reason: 'expr is parsed by ast first' },
  },
);

const policySuppressed = finding(
  'JIT-CACHE-POISONING',
  {
    path: 'deploy/Dockerfile',
    startLine: 12,
    startColumn: 1,
    endLine: 12,
    endColumn: 36,
    nodeType: 'env_instruction',
    snippet: 'ENV NUMBA_CACHE_DIR=/tmp/numba-cache',
    signal: 'NUMBA_CACHE_DIR set to `/tmp/numba-cache`, a shared temp directory',
    variable: 'NUMBA_CACHE_DIR',
    value: '/tmp/numba-cache',
  },
  {
    fingerprint: 'feedbeef00112233',
    decision: 'suppressed',
    suppression: {
      kind: 'policy',
      reason: 'build container is single-tenant',
      source: 'sentinel-policy.yml#allowlist[0]',
      expires: '2026-12-31',
    },
  },
);

const warning: ScanReport['warnings'][number] = {
  code: 'not-utf8',
  path: 'src/legacy/loader.py',
  message: 'is not valid UTF-8 (byte 0xff at offset 120); skipped',
};

// Deliberately out of display order: the text reporter sorts.
const fullReport = report([policySuppressed, writableCache, notebookKernel, inlineSuppressed, evalWithTrace], [warning]);

function blocks(text: string): string[] {
  return text.trimEnd().split('\n\n');
}

describe('CLI reporters', () => {
  describe('text', () => {
    const text = toText(fullReport, { color: false });

    it("prints each finding with the spec's three header lines", () => {
      assert.ok(text.includes('JIT-EVAL-COMPILE HIGH\nDynamic eval or compile\nDo not compile user-controlled strings.\n'), text);
      assert.ok(text.includes('JIT-DYNAMIC-KERNEL HIGH\nDynamic Kernel Generation\nSeparate kernel code from runtime data.\n'), text);
      assert.ok(text.includes('JIT-CACHE-POISONING MEDIUM\nWritable JIT Cache\nProtect compiled caches from untrusted writes.\n'), text);
    });

    it('prints the evidence, owner, decision, fingerprint and trace under the header', () => {
      assert.equal(
        blocks(text).find((b) => b.includes('src/app.py')),
        [
          'JIT-EVAL-COMPILE HIGH',
          'Dynamic eval or compile',
          'Do not compile user-controlled strings.',
          '  location:    src/app.py:14:16',
          '  signal:      compile() called with `kernel`, built from HTTP request data',
          '  snippet:     compiled = compile(kernel, "<jit>", "exec")',
          '  confidence:  high',
          '  owner:       Application security and backend/agent owner',
          '  decision:    BLOCK',
          '  fingerprint: 9f1c2ab07d3e4410',
          '  trace:       source src/app.py:11:23 HTTP request data read here',
          '               → step src/app.py:13:5 assigned to `kernel`',
          '               → sink src/app.py:14:16 reaches compile()',
        ].join('\n'),
      );
    });

    it('names the notebook cell (counted from 1) and keeps multi-line snippets aligned', () => {
      const block = blocks(text).find((b) => b.startsWith('JIT-DYNAMIC-KERNEL'))!;
      assert.ok(block.includes('  location:    notebooks/kernels.ipynb:41:9 (cell 3, line 3)\n'), block);
      assert.ok(block.includes('  snippet:     mod = cupy.RawKernel(\n                   src, "scale"\n               )\n'), block);
    });

    it('shows why and by what a finding is suppressed', () => {
      assert.ok(text.includes('  decision:    SUPPRESSED (expr is parsed by ast first, inline comment)\n'), text);
      assert.ok(
        text.includes(
          '  decision:    SUPPRESSED (build container is single-tenant, sentinel-policy.yml#allowlist[0], expires 2026-12-31)\n',
        ),
        text,
      );
    });

    it('orders blocking findings first, then tickets, then suppressed; by path and line within', () => {
      const order = blocks(text)
        .filter((b) => b.startsWith('JIT-'))
        .map((b) => /location: +(.+)$/m.exec(b)![1]);
      assert.deepEqual(order, [
        'notebooks/kernels.ipynb:41:9 (cell 3, line 3)',
        'src/app.py:14:16',
        'src/settings.py:5:1',
        'deploy/Dockerfile:12:1',
        'src/tools/calc tool/eval#1.py:8:12',
      ]);
    });

    it('lists warnings with the file and the reason, then the summary', () => {
      const all = blocks(text);
      assert.equal(all[all.length - 2], 'warning: src/legacy/loader.py: is not valid UTF-8 (byte 0xff at offset 120); skipped [not-utf8]');
      assert.equal(
        all[all.length - 1],
        [
          'Release gate: BLOCKED — 2 HIGH findings at fail_on severities',
          'Also tickets: 1 MEDIUM finding to ticket',
          'Findings: 2 HIGH, 1 MEDIUM; 2 suppressed',
          'Files scanned: 7',
          'Files not fully scanned: 1 (1 not-utf8)',
          `Retest: ${RETEST}`,
        ].join('\n'),
      );
    });

    it('words the gate for tickets-only and clean scans', () => {
      const tickets = toText(report([writableCache, inlineSuppressed]), { color: false });
      assert.ok(tickets.includes('Release gate: passed — tickets: 1 MEDIUM finding to ticket\n'), tickets);
      assert.ok(tickets.includes('Findings: 1 MEDIUM; 1 suppressed\n'), tickets);
      const clean = toText(report([]), { color: false });
      assert.equal(
        clean,
        [
          'No findings.',
          '',
          'Release gate: clean — nothing at fail_on or ticket_on severities',
          'Findings: none; 0 suppressed',
          'Files scanned: 7',
          `Retest: ${RETEST}\n`,
        ].join('\n'),
      );
      const mixed = { ...report([evalWithTrace]), findings: [evalWithTrace, { ...notebookKernel, severity: 'CRITICAL' as const }] };
      assert.ok(toText(mixed, { color: false }).includes('BLOCKED — 1 CRITICAL and 1 HIGH findings at fail_on severities'));
    });

    it('colours with ANSI only when asked', () => {
      assert.ok(!text.includes('\x1b'), 'no escape codes without colour');
      const colored = toText(fullReport, { color: true });
      assert.ok(colored.includes('\x1b[1mJIT-EVAL-COMPILE\x1b[0m \x1b[1m\x1b[31mHIGH\x1b[0m\n'), JSON.stringify(colored.slice(0, 80)));
      assert.equal(colored.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), ''), text, 'colour changes nothing but escape codes');
    });

    it('prints control characters and bidi overrides from scanned files visibly', () => {
      const hostile = {
        ...evalWithTrace,
        trace: [],
        evidence: { ...evalWithTrace.evidence, snippet: 'eval(x)\x1b[2J\u202e', signal: 'eval() called with `x`\x07' },
      };
      const out = toText(report([hostile]), { color: false });
      assert.ok(!out.includes('\x1b') && !out.includes('\u202e') && !out.includes('\x07'), out);
      assert.ok(out.includes('eval(x)\\u{1b}[2J\\u{202e}'), out);
    });
  });

  describe('json', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(catalog.dir, 'report.schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

    it('round-trips the full report with a format tag first', () => {
      const text = toJson(fullReport);
      const parsed = JSON.parse(text) as Record<string, unknown>;
      assert.equal(Object.keys(parsed)[0], 'format');
      assert.equal(parsed.format, REPORT_FORMAT);
      assert.deepEqual(parsed, { format: REPORT_FORMAT, ...fullReport });
      assert.ok(text.startsWith('{\n  "format": "sentinel-report/1",\n  "tool": {\n    "name": "sentinel",'), text.slice(0, 120));
      assert.ok(text.endsWith('}\n'));
    });

    it('matches rules/report.schema.json', () => {
      const parsed: unknown = JSON.parse(toJson(fullReport));
      assert.ok(validate(parsed), JSON.stringify(validate.errors, null, 2));
      assert.ok(validate(JSON.parse(toJson(report([])))), JSON.stringify(validate.errors, null, 2));
    });

    it('is rejected by the schema when a finding loses a required field', () => {
      const broken = JSON.parse(toJson(fullReport)) as { findings: Record<string, unknown>[] };
      delete broken.findings[0]!.fingerprint;
      assert.equal(validate(broken), false);
      const unsuppressed = JSON.parse(toJson(fullReport)) as { findings: Record<string, unknown>[] };
      delete unsuppressed.findings[0]!.suppression;
      assert.equal(validate(unsuppressed), false, 'a suppressed finding must say why');
    });

    it('keeps a fixed key order whatever order the engine built the objects in', () => {
      const reversed = (value: unknown): unknown =>
        Array.isArray(value)
          ? value.map(reversed)
          : value && typeof value === 'object'
            ? Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversed(v)]))
            : value;
      assert.equal(toJson(reversed(fullReport) as ScanReport), toJson(fullReport));
      const f = toJsonReport(fullReport).findings[0]!;
      assert.deepEqual(Object.keys(f).slice(0, 3), ['ruleId', 'category', 'severity']);
      assert.deepEqual(Object.keys(f.evidence).slice(0, 3), ['path', 'startLine', 'startColumn']);
    });
  });

  describe('sarif', () => {
    const sarif = toSarif(fullReport, catalog) as SarifLog;
    const run = sarif.runs[0]!;
    const resultFor = (fp: string) => run.results.find((r) => r.partialFingerprints['sentinel/v1'] === fp)!;

    it('describes the tool and every rule that ran', () => {
      assert.equal(sarif.$schema, 'https://json.schemastore.org/sarif-2.1.0.json');
      assert.equal(sarif.version, '2.1.0');
      const driver = run.tool.driver;
      assert.equal(driver.name, 'Sentinel');
      assert.equal(driver.version, '0.1.0');
      assert.equal(driver.semanticVersion, '0.1.0');
      assert.match(driver.informationUri, /^https:\/\//);
      assert.deepEqual(
        driver.rules.map((r) => r.id),
        catalog.rules.map((r) => r.id),
      );
      const rule = driver.rules.find((r) => r.id === 'JIT-EVAL-COMPILE')!;
      assert.equal(rule.name, 'DynamicEvalOrCompile');
      assert.equal(driver.rules.find((r) => r.id === 'JIT-CACHE-POISONING')!.name, 'WritableJitCache');
      assert.equal(rule.shortDescription.text, 'Dynamic eval or compile');
      assert.match(rule.fullDescription.text, /^Detects eval, exec, Function, compile/);
      assert.equal(rule.helpUri, catalog.byId.get('JIT-EVAL-COMPILE')!.helpUri);
      for (const part of ['Why it matters', 'How to fix', 'Do not compile user-controlled strings.', RETEST, 'allowed_ops']) {
        assert.ok(rule.help.text.includes(part), `help text has ${part}`);
        assert.ok(rule.help.markdown!.includes(part), `help markdown has ${part}`);
      }
      assert.equal(rule.defaultConfiguration.level, 'error');
      assert.equal(driver.rules.find((r) => r.id === 'JIT-CACHE-POISONING')!.defaultConfiguration.level, 'warning');
      assert.deepEqual(rule.properties.tags, ['security', 'JIT', 'external/cwe/cwe-95', 'LLM01']);
      assert.equal(rule.properties['security-severity'], '8.0');
      assert.equal(driver.rules.find((r) => r.id === 'JIT-CACHE-POISONING')!.properties['security-severity'], '5.5');
      assert.equal(rule.properties.precision, 'medium');
      assert.equal(rule.properties.cwe, 'CWE-95');
      assert.equal(rule.properties.owaspLlm, 'LLM01 — Prompt Injection');
      assert.equal(rule.properties.owner, 'Application security and backend/agent owner');
      assert.match(rule.properties.releaseDecision, /release gate/);
    });

    it('turns each finding into a result with location, snippet and fingerprint', () => {
      assert.equal(run.results.length, fullReport.findings.length);
      const r = resultFor('9f1c2ab07d3e4410');
      assert.equal(r.ruleId, 'JIT-EVAL-COMPILE');
      assert.equal(run.tool.driver.rules[r.ruleIndex]!.id, 'JIT-EVAL-COMPILE');
      assert.equal(r.level, 'error');
      assert.equal(
        r.message.text,
        'Dynamic eval or compile: compile() called with `kernel`, built from HTTP request data. Do not compile user-controlled strings.',
      );
      assert.deepEqual(r.locations[0]!.physicalLocation, {
        artifactLocation: { uri: 'src/app.py', uriBaseId: '%SRCROOT%' },
        region: { startLine: 14, startColumn: 16, endLine: 14, endColumn: 48, snippet: { text: 'compiled = compile(kernel, "<jit>", "exec")' } },
      });
      assert.deepEqual(r.properties, {
        confidence: 'high',
        decision: 'block',
        owner: 'Application security and backend/agent owner',
        retest: RETEST,
        releaseDecision: 'Treat as a release gate; remediation or explicit risk acceptance is required.',
      });
      assert.equal(resultFor('c0ffee1234abcd55').level, 'warning');
      assert.deepEqual(resultFor('4be07c1d9a22f310').properties.cell, { cell: 2, line: 3, column: 7 });
      assert.equal(run.columnKind, 'utf16CodeUnits');
      assert.deepEqual(run.originalUriBaseIds['%SRCROOT%']!.uri, 'file:///work/projects/model-serving/');
    });

    it('percent-encodes path segments in relative URIs', () => {
      const r = resultFor('0d15ea5e0d15ea5e');
      assert.equal(r.locations[0]!.physicalLocation.artifactLocation.uri, 'src/tools/calc%20tool/eval%231.py');
    });

    it('attaches a code flow only to findings with a trace', () => {
      const flow = resultFor('9f1c2ab07d3e4410').codeFlows![0]!.threadFlows[0]!.locations;
      assert.deepEqual(
        flow.map((l) => [l.properties.step, l.location.message!.text, l.location.physicalLocation.region!.startLine]),
        [
          ['source', 'HTTP request data read here', 11],
          ['step', 'assigned to `kernel`', 13],
          ['sink', 'reaches compile()', 14],
        ],
      );
      assert.equal(resultFor('4be07c1d9a22f310').codeFlows, undefined);
    });

    it('marks inline and policy suppressions', () => {
      assert.deepEqual(resultFor('0d15ea5e0d15ea5e').suppressions, [
        { kind: 'inSource', status: 'accepted', justification: 'expr is parsed by ast first' },
      ]);
      assert.deepEqual(resultFor('feedbeef00112233').suppressions, [
        {
          kind: 'external',
          status: 'accepted',
          justification: 'build container is single-tenant',
          properties: { source: 'sentinel-policy.yml#allowlist[0]', expires: '2026-12-31' },
        },
      ]);
      assert.equal(resultFor('9f1c2ab07d3e4410').suppressions, undefined);
    });

    it('reports input warnings as tool execution notifications', () => {
      assert.equal(run.invocations[0]!.executionSuccessful, true);
      assert.deepEqual(run.invocations[0]!.toolExecutionNotifications, [
        {
          level: 'warning',
          message: { text: 'src/legacy/loader.py: is not valid UTF-8 (byte 0xff at offset 120); skipped' },
          descriptor: { id: 'not-utf8' },
          locations: [{ physicalLocation: { artifactLocation: { uri: 'src/legacy/loader.py', uriBaseId: '%SRCROOT%' } } }],
        },
      ]);
      const quiet = toSarif(report([]), catalog) as SarifLog;
      assert.deepEqual(quiet.runs[0]!.invocations, [{ executionSuccessful: true }]);
    });

    it('emits no empty arrays or objects other than an empty result list', () => {
      const empties: string[] = [];
      const walk = (value: unknown, at: string): void => {
        if (Array.isArray(value)) {
          if (value.length === 0 && !at.endsWith('.results')) empties.push(at);
          value.forEach((v, i) => walk(v, `${at}[${i}]`));
        } else if (value && typeof value === 'object') {
          if (Object.keys(value).length === 0) empties.push(at);
          for (const [k, v] of Object.entries(value)) walk(v, `${at}.${k}`);
        }
      };
      walk(sarif, '$');
      walk(toSarif(report([]), catalog), '$');
      assert.deepEqual(empties, []);
      assert.deepEqual(JSON.parse(toSarifString(fullReport, catalog)), sarif);
    });

    it("passes Microsoft's SARIF validator with the GitHub rules, with no errors", function () {
      this.timeout(120_000);
      const full = sarifErrors(toSarif(fullReport, catalog));
      assert.deepEqual(full.errors, [], `validator errors:\n${full.errors.join('\n')}`);
      const empty = sarifErrors(toSarif(report([]), catalog));
      assert.deepEqual(empty.errors, [], `validator errors:\n${empty.errors.join('\n')}`);
      if (process.env.SENTINEL_SHOW_SARIF_WARNINGS) {
        process.stderr.write(`${[...full.warnings, ...empty.warnings].join('\n')}\n`);
      }
    });

    it('stays valid for a rule outside the catalog, non-ASCII paths, absolute warning paths and a reversed span', function () {
      this.timeout(120_000);
      const custom: Finding = {
        ...evalWithTrace,
        ruleId: 'ACME-EVAL-X',
        title: 'Custom eval rule',
        fingerprint: 'aaaa000011112222',
        // A CJK folder and an emoji file name, and an end that precedes the start (an engine bug to survive).
        evidence: { ...evalWithTrace.evidence, path: '数据/模型 🚀.py', endLine: 14, endColumn: 3 },
      };
      const edge = report(
        [custom],
        [
          { code: 'symlink-outside-root', path: '/etc/passwd', message: 'is a symlink that leaves the scan root; skipped' },
          { code: 'parse-error', path: 'src/broken.py', line: 3, message: 'could not be parsed near line 3; partial results' },
        ],
      );
      const sarif = toSarif(edge, catalog) as SarifLog;
      const r = sarif.runs[0]!.results[0]!;
      assert.equal(sarif.runs[0]!.tool.driver.rules[r.ruleIndex]!.id, 'ACME-EVAL-X');
      assert.equal(r.locations[0]!.physicalLocation.artifactLocation.uri, '%E6%95%B0%E6%8D%AE/%E6%A8%A1%E5%9E%8B%20%F0%9F%9A%80.py');
      assert.deepEqual(r.locations[0]!.physicalLocation.region!.endLine, undefined);
      const notes = sarif.runs[0]!.invocations[0]!.toolExecutionNotifications!;
      assert.deepEqual(notes[0]!.locations[0]!.physicalLocation.artifactLocation, { uri: 'file:///etc/passwd' });
      assert.deepEqual(notes[1]!.locations[0]!.physicalLocation.region, { startLine: 3, startColumn: 1 });
      const { errors, warnings } = sarifErrors(sarif);
      assert.deepEqual(errors, [], `validator errors:\n${errors.join('\n')}`);
      if (process.env.SENTINEL_SHOW_SARIF_WARNINGS) process.stderr.write(`${warnings.join('\n')}\n`);
    });
  });
});
