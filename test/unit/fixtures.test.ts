// Scores the engine against the annotated fixtures: every `expect:` must be reported on the line below it,
// every `ok:` must stay quiet, and nothing else in a fixture may be reported. Prints precision and recall per
// rule and per rule and language.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanPaths } from '../../server/src/engine/scanner';
import type { ScanReport } from '../../server/src/engine/finding';
import { annotationsIn, describeCase } from '../helpers/annotations';
import { REPO, RULE_IDS, compare, expectationsUnder, failureReport, filesUnder, languageOf, rel, scoreLines } from '../helpers/scoring';

const FIXTURES = path.join(REPO, 'fixtures');

const scans = new Map<string, Promise<ScanReport>>();

/** One scan per folder, shared by the tests that look at it. All rules run: fixtures hold `ok:` cases for other rules. */
function scanOnce(dir: string): Promise<ScanReport> {
  let scan = scans.get(dir);
  if (!scan) scans.set(dir, (scan = scanPaths([dir])));
  return scan;
}

async function checkFolder(dir: string): Promise<ScanReport> {
  const report = await scanOnce(dir);
  const comparison = compare(report, expectationsUnder(dir));
  console.log(`      ${rel(dir)}\n${scoreLines(comparison.scores).map((l) => `        ${l}`).join('\n')}`);
  const failure = failureReport(rel(dir), comparison);
  assert.equal(failure, undefined, failure);
  return report;
}

describe('rule fixtures', () => {
  for (const rule of RULE_IDS) {
    it(`${rule}: every expect: is reported, every ok: stays quiet, nothing else fires`, async () => {
      await checkFolder(path.join(FIXTURES, 'rules', rule));
    });
  }

  it('demo workspace: reports all three rules where annotated and blocks the gate', async () => {
    const report = await checkFolder(path.join(FIXTURES, 'demo'));
    assert.deepEqual([...new Set(report.findings.map((f) => f.ruleId))].sort(), [...RULE_IDS].sort());
    assert.equal(report.summary.decision, 'blocked');
  });

  it('columns are UTF-16 code units after emoji and CJK text', async () => {
    const probes = [
      { file: 'fixtures/rules/JIT-EVAL-COMPILE/unicode_prompt_tool.py', needles: ['eval(', 'exec('] },
      { file: 'fixtures/rules/JIT-EVAL-COMPILE/unicode-chat-widget.ts', needles: ['eval('] },
    ];
    const report = await scanOnce(path.join(FIXTURES, 'rules', 'JIT-EVAL-COMPILE'));
    const problems: string[] = [];
    let checked = 0;
    for (const probe of probes) {
      const abs = path.join(REPO, probe.file);
      const text = fs.readFileSync(abs, 'utf8');
      const lines = text.split('\n');
      for (const a of annotationsIn(text, probe.file).expects) {
        const line = lines[a.line - 1] ?? '';
        const index = Math.min(...probe.needles.map((n) => line.indexOf(n)).filter((i) => i >= 0));
        assert.ok(Number.isFinite(index), `${probe.file}:${a.line} has none of ${probe.needles.join(', ')}`);
        const lineStart = lines.slice(0, a.line - 1).reduce((n, l) => n + l.length + 1, 0);
        const hits = report.findings.filter(
          (f) => f.ruleId === a.rule && path.resolve(report.baseDir, f.evidence.path) === abs && f.evidence.startLine === a.line,
        );
        checked++;
        if (!hits.some((f) => f.evidence.startColumn === index + 1 && f.evidence.startOffset === lineStart + index)) {
          const got = hits.map((f) => `column ${f.evidence.startColumn}, offset ${f.evidence.startOffset}`).join('; ') || 'no finding';
          problems.push(`${probe.file}:${a.line}: want column ${index + 1}, offset ${lineStart + index}; got ${got}`);
        }
      }
    }
    assert.ok(checked >= 3, `expected at least 3 column probes, found ${checked}`);
    assert.deepEqual(problems, []);
  });
});

describe('fixture corpus', () => {
  it('holds at least 250 cases, 40% or more of them ok: hard negatives, in every language', () => {
    const table = new Map<string, { expect: number; ok: number }>();
    const count = (rule: string, language: string, kind: 'expect' | 'ok'): void => {
      const key = `${rule} ${language}`;
      const row = table.get(key) ?? { expect: 0, ok: 0 };
      row[kind]++;
      table.set(key, row);
    };
    let expects = 0;
    let oks = 0;
    const languages = new Set<string>();
    for (const dir of [path.join(FIXTURES, 'rules'), path.join(FIXTURES, 'demo')]) {
      for (const [file, ann] of expectationsUnder(dir)) {
        for (const a of [...ann.expects, ...ann.oks]) {
          assert.ok(RULE_IDS.includes(a.rule), `${describeCase(rel(file), a)}: unknown rule ${a.rule}`);
        }
        const language = languageOf(file);
        if (ann.expects.length + ann.oks.length > 0) languages.add(language);
        for (const a of ann.expects) count(a.rule, language, 'expect');
        for (const a of ann.oks) count(a.rule, language, 'ok');
        expects += ann.expects.length;
        oks += ann.oks.length;
      }
    }
    console.log(
      [...table]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, row]) => `      ${key.padEnd(36)} expect ${String(row.expect).padStart(3)}  ok ${String(row.ok).padStart(3)}`)
        .join('\n') + `\n      total: ${expects + oks} cases, ${expects} expect, ${oks} ok`,
    );
    assert.ok(expects + oks >= 250, `only ${expects + oks} annotated cases`);
    assert.ok(oks * 10 >= (expects + oks) * 4, `only ${oks} of ${expects + oks} cases are ok: hard negatives`);
    for (const rule of RULE_IDS) {
      const own = filesUnder(path.join(FIXTURES, 'rules', rule)).map((f) => annotationsIn(fs.readFileSync(f, 'utf8'), rel(f)));
      assert.ok(own.some((a) => a.expects.some((e) => e.rule === rule)), `${rule} has no expect: case in its folder`);
      assert.ok(own.some((a) => a.oks.some((o) => o.rule === rule)), `${rule} has no ok: case in its folder`);
    }
    const wanted = ['python', 'notebook', 'javascript', 'typescript', 'tsx', 'cuda', 'shell', 'dockerfile', 'dotenv', 'yaml'];
    assert.deepEqual(wanted.filter((l) => !languages.has(l)), [], 'languages without an annotated case');
  });
});

describe('annotationsIn (self-check)', () => {
  it('reads # and // annotations, comma lists, reasons and stacks', () => {
    const py = [
      'import os',
      '# expect: JIT-EVAL-COMPILE',
      'eval(x)',
      '# ok: JIT-EVAL-COMPILE, JIT-DYNAMIC-KERNEL — a constant',
      'exec("1")',
      '# expected: this is prose, not an annotation',
      '# expect: JIT-DYNAMIC-KERNEL',
      '# ok: JIT-EVAL-COMPILE',
      'exec(src)',
    ].join('\n');
    assert.deepEqual(annotationsIn(py, 'a.py'), {
      expects: [
        { rule: 'JIT-EVAL-COMPILE', line: 3 },
        { rule: 'JIT-DYNAMIC-KERNEL', line: 9 },
      ],
      oks: [
        { rule: 'JIT-EVAL-COMPILE', line: 5 },
        { rule: 'JIT-DYNAMIC-KERNEL', line: 5 },
        { rule: 'JIT-EVAL-COMPILE', line: 9 },
      ],
    });
    const js = 'const a = 1;\r\n  // expect: JIT-EVAL-COMPILE (a parameter)\r\n  eval(a);\r\n';
    assert.deepEqual(annotationsIn(js, 'b.js'), { expects: [{ rule: 'JIT-EVAL-COMPILE', line: 3 }], oks: [] });
  });

  it('reads notebooks per code cell, with the .ipynb line of each source line', () => {
    const nb = JSON.stringify(
      {
        cells: [
          { cell_type: 'markdown', metadata: {}, source: ['# expect: JIT-EVAL-COMPILE\n', 'not code'] },
          { cell_type: 'code', metadata: {}, outputs: [], source: ['%pip install x\n', '# expect: JIT-EVAL-COMPILE\n', 'eval(a)'] },
          { cell_type: 'code', metadata: {}, outputs: [], source: 'x = 1\n# ok: JIT-CACHE-POISONING\ny = 2\n' },
        ],
        metadata: {},
        nbformat: 4,
        nbformat_minor: 5,
      },
      null,
      1,
    );
    const lineOf = (needle: string): number => nb.split('\n').findIndex((l) => l.includes(needle)) + 1;
    assert.deepEqual(annotationsIn(nb, 'c.ipynb'), {
      expects: [{ rule: 'JIT-EVAL-COMPILE', line: 3, cell: 1, fileLine: lineOf('"eval(a)"') }],
      oks: [{ rule: 'JIT-CACHE-POISONING', line: 3, cell: 2, fileLine: lineOf('"x = 1') }],
    });
  });

  it('rejects annotations that point at nothing or contradict each other', () => {
    assert.throws(() => annotationsIn('x = 1\n# expect: JIT-EVAL-COMPILE\n', 'd.py'), /points at/);
    assert.throws(() => annotationsIn('# expect: JIT-EVAL-COMPILE\n\neval(x)\n', 'd.py'), /empty line/);
    assert.throws(() => annotationsIn('# expect: JIT-EVAL-COMPILE\n# ok: JIT-EVAL-COMPILE\neval(x)\n', 'd.py'), /both/);
    assert.throws(() => annotationsIn('// ok: looks fine\nfoo();\n', 'd.js'), /rule ID/);
    assert.throws(() => annotationsIn('# expect: jit-eval-compile\neval(x)\n', 'd.py'), /rule ID/);
  });

  it('finds the annotated cases in every fixture file without errors', () => {
    for (const dir of [path.join(FIXTURES, 'rules'), path.join(FIXTURES, 'demo')]) {
      assert.doesNotThrow(() => expectationsUnder(dir));
    }
  });
});
