// The taint engine on the JIT-EVAL-COMPILE fixtures: the LLM-app re-creations are `high` findings whose
// trace goes step by step from the model's output to the sink; flows through helpers, constructors, lambdas
// and notebook cells; sanitizers; function summaries; and in-house models added by a policy.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { summarizeFunctions } from '../../server/src/engine/checks/dynamicCode';
import type { Finding, LanguageId } from '../../server/src/engine/finding';
import { detectLanguage } from '../../server/src/engine/languages';
import { parseText } from '../../server/src/engine/parser';
import { PolicyError, catalogExtensionOf, catalogForPolicy, loadPolicy } from '../../server/src/engine/policy';
import { loadCatalog } from '../../server/src/engine/rules/catalog';
import { analyzeDocument } from '../../server/src/engine/scanner';

const DIR = path.resolve(__dirname, '../../fixtures/rules/JIT-EVAL-COMPILE');

async function findingsOf(name: string, catalog = loadCatalog(), text = fs.readFileSync(path.join(DIR, name), 'utf8')): Promise<Finding[]> {
  const lang = detectLanguage(name, text);
  assert.ok(lang, name);
  const { findings } = await analyzeDocument(name, text, lang, { catalog, rules: ['JIT-EVAL-COMPILE'] });
  return findings;
}

/** The finding on `line`, which must be the only one there. */
function at(findings: Finding[], line: number): Finding {
  const here = findings.filter((f) => f.evidence.startLine === line);
  assert.equal(here.length, 1, `one finding on line ${line}, got ${findings.map((f) => f.evidence.startLine).join(', ')}`);
  return here[0];
}

/** The trace as [kind, line, note] rows, every step on `file`. */
function steps(f: Finding, file: string): [string, number, string][] {
  for (const t of f.trace) assert.equal(t.path, file);
  return f.trace.map((t) => [t.kind, t.startLine, t.note]);
}

describe('taint engine', () => {
  describe('LLM-app re-creations are high findings with the full trace', () => {
    it('LLM math chain: predict() output, parsed, passed through two methods into numexpr.evaluate', async () => {
      const f = at(await findingsOf('llm_math_chain.py'), 17);
      assert.equal(f.confidence, 'high');
      assert.deepEqual(steps(f, 'llm_math_chain.py'), [
        ['source', 30, 'LLM output (LangChain predict) read by `self.llm_chain.predict()`'],
        ['step', 30, 'flows into `llm_output`'],
        ['step', 31, 'passed to `LLMMathChain._process_llm_result()` as `llm_output`'],
        ['step', 20, 'parameter `llm_output` of `LLMMathChain._process_llm_result()`'],
        ['step', 21, 'flows into `llm_output`'],
        ['step', 22, 'flows into `text_match`'],
        ['step', 24, 'flows into `expression`'],
        ['step', 25, 'passed to `LLMMathChain._evaluate_expression()` as `expression`'],
        ['step', 14, 'parameter `expression` of `LLMMathChain._evaluate_expression()`'],
        ['sink', 17, 'reaches `numexpr.evaluate()`'],
      ]);
    });

    it('pandas query engine: the LLM completion is evaluated as a pandas expression', async () => {
      const f = at(await findingsOf('pandas_query_engine.py'), 15);
      assert.equal(f.confidence, 'high');
      assert.deepEqual(steps(f, 'pandas_query_engine.py'), [
        ['source', 25, 'LLM output (LlamaIndex complete) read by `self._llm.complete()`'],
        ['step', 25, 'flows into `response`'],
        ['step', 26, 'passed to `default_output_processor()` as `output`'],
        ['step', 10, 'parameter `output` of `default_output_processor()`'],
        ['step', 11, 'flows into `tree`'],
        ['step', 12, 'flows into `module_end`'],
        ['sink', 15, 'reaches `builtins.eval()`'],
      ]);
    });

    it('generated plotting code: the chat completion goes through a helper’s return into exec', async () => {
      const f = at(await findingsOf('generated_plot_exec.py'), 28);
      assert.equal(f.confidence, 'high');
      assert.deepEqual(steps(f, 'generated_plot_exec.py'), [
        ['source', 19, 'LLM output (OpenAI chat completion) read by `client.chat.completions.create()`'],
        ['step', 19, 'flows into `completion`'],
        ['step', 26, 'passed to `extract_code()` as `reply`'],
        ['step', 13, 'parameter `reply` of `extract_code()`'],
        ['step', 14, 'flows into `match`'],
        ['step', 15, 'returned by `extract_code()`'],
        ['step', 26, 'result of `extract_code()`'],
        ['step', 26, 'flows into `code`'],
        ['sink', 28, 'reaches `builtins.exec()`'],
      ]);
    });

    it('agent calculator tool: the @function_tool argument reaches eval', async () => {
      const f = at(await findingsOf('agent_calculator.py'), 11);
      assert.equal(f.confidence, 'high');
      assert.deepEqual(steps(f, 'agent_calculator.py'), [
        ['source', 7, 'agent tool argument (LLM-chosen): parameter `expression` of `@function_tool calculate()`'],
        ['step', 9, 'flows into `cleaned`'],
        ['sink', 11, 'reaches `builtins.eval()`'],
      ]);
    });

    it('JS agent tool: the execute() argument of an AI SDK tool reaches eval', async () => {
      const f = at(await findingsOf('agent-tool-eval.ts'), 12);
      assert.equal(f.confidence, 'high');
      assert.deepEqual(steps(f, 'agent-tool-eval.ts'), [
        ['source', 9, 'agent tool argument (LLM-chosen): parameter `expression` of `tool(…) execute`'],
        ['step', 10, 'flows into `normalised`'],
        ['sink', 12, 'reaches `eval()`'],
      ]);
      assert.match(f.evidence.signal, /derived from agent tool argument/);
    });
  });

  describe('flows', () => {
    let flows: Finding[];
    before(async () => {
      flows = await findingsOf('taint_flows.py');
    });

    it('goes into a helper through its parameter and back out through its return', () => {
      assert.deepEqual(steps(at(flows, 93), 'taint_flows.py'), [
        ['source', 93, 'user input read by `builtins.input()`'],
        ['step', 93, 'passed to `build_code()` as `fragment`'],
        ['step', 87, 'parameter `fragment` of `build_code()`'],
        ['step', 88, 'returned by `build_code()`'],
        ['step', 93, 'result of `build_code()`'],
        ['sink', 93, 'reaches `builtins.exec()`'],
      ]);
    });

    it('reports a sink inside a helper at the sink, with the caller’s argument in the trace', () => {
      assert.deepEqual(steps(at(flows, 107), 'taint_flows.py'), [
        ['source', 111, 'environment variable read by `os.environ.get()`'],
        ['step', 111, 'passed to `run_snippet()` as `snippet`'],
        ['step', 105, 'parameter `snippet` of `run_snippet()`'],
        ['sink', 107, 'reaches `builtins.exec()`'],
      ]);
    });

    it('follows an attribute set in __init__ to the constructor call', () => {
      assert.deepEqual(steps(at(flows, 121), 'taint_flows.py'), [
        ['source', 129, 'command-line argument read by `sys.argv`'],
        ['step', 129, 'passed to `FormulaRunner.__init__()` as `formula`'],
        ['step', 115, 'parameter `formula` of `FormulaRunner.__init__()`'],
        ['step', 116, 'stored in `self.formula`'],
        ['sink', 121, 'reaches `builtins.eval()`'],
      ]);
      // An attribute that only ever holds a literal is still not constant: medium, no trace.
      assert.equal(at(flows, 125).confidence, 'medium');
      assert.deepEqual(at(flows, 125).trace, []);
    });

    it('follows lambdas, closures, tuple unpacking and loop variables', () => {
      assert.deepEqual(steps(at(flows, 144), 'taint_flows.py').map((s) => s[2]), [
        'command-line argument read by `sys.argv`',
        'passed to `run()` as `text`',
        'parameter `text` of `run()`',
        'reaches `builtins.eval()`',
      ]);
      assert.equal(at(flows, 137).trace[0].note, 'user input read by `builtins.input()`');
      assert.equal(at(flows, 13).trace[0].note, 'command-line argument read by `sys.argv`');
      assert.deepEqual(at(flows, 43).trace.map((t) => t.note), [
        'environment variable read by `os.getenv()`',
        'flows into `parts`',
        'flows into `p` (a loop variable)',
        'flows into `lines`',
        'reaches `builtins.exec()`',
      ]);
      assert.ok(flows.every((f) => f.evidence.startLine !== 19), 'the literal half of an unpacked pair is constant');
    });

    it('carries a value tainted in one notebook cell to a sink in a later cell', async () => {
      const findings = await findingsOf('widget_cells.ipynb');
      const f = findings.find((x) => x.evidence.cell?.cell === 3);
      assert.ok(f);
      assert.equal(f.confidence, 'high');
      assert.deepEqual(f.evidence.cell && [f.evidence.cell.cell, f.evidence.cell.line], [3, 3]);
      assert.deepEqual(f.trace.map((t) => [t.kind, t.note]), [
        ['source', 'notebook widget value (`ipywidgets.Text()`) read by `formula_box.value`'],
        ['step', 'flows into `formula`'],
        ['sink', 'reaches `builtins.eval()`'],
      ]);
      assert.ok(f.trace[0].startLine < f.evidence.startLine, 'the source sits in an earlier cell');
    });
  });

  describe('sanitizers', () => {
    it('quiets literal maps, allowlists, casts, strict patterns and validators; a loose pattern stays medium', async () => {
      const findings = await findingsOf('sanitizers.py');
      assert.deepEqual(findings.map((f) => [f.evidence.startLine, f.confidence]), [
        [55, 'high'],
        [64, 'high'],
        [80, 'high'],
        [107, 'medium'],
      ]);
      assert.match(at(findings, 107).evidence.signal, /`re\.fullmatch` guard whose pattern admits names/);
    });
  });

  describe('function summaries', () => {
    it('say, as plain data, which parameters reach a sink and what the return value carries', async () => {
      const file = path.join(DIR, 'llm_math_chain.py');
      const text = fs.readFileSync(file, 'utf8');
      const tree = await parseText('python', text);
      try {
        const summaries = summarizeFunctions({ lang: 'python' as LanguageId, text, tree, catalog: loadCatalog(), enabled: new Map(), emit: () => undefined });
        const byName = new Map(summaries.map((s) => [s.name, s]));
        assert.deepEqual(byName.get('LLMMathChain._evaluate_expression'), {
          name: 'LLMMathChain._evaluate_expression',
          line: 14,
          params: ['self', 'expression'],
          sinks: [{ param: 'expression', api: 'numexpr.evaluate', line: 17 }],
          // numexpr's result, formatted, is returned: the value is derived from the parameter.
          returnsParams: ['expression'],
        });
        assert.deepEqual(byName.get('LLMMathChain._process_llm_result')?.returnsParams, ['llm_output']);
        assert.equal(byName.get('LLMMathChain.run')?.returnsSource, 'LLM output (LangChain predict) read by `self.llm_chain.predict()`');
        assert.equal(byName.get('LLMMathChain._process_llm_result')?.returnsSource, undefined, 'a source reached only through its own parameter is not the function\'s');
        assert.deepEqual(JSON.parse(JSON.stringify(summaries)), summaries, 'summaries are plain data');
      } finally {
        tree.delete();
      }
      const plotText = fs.readFileSync(path.join(DIR, 'generated_plot_exec.py'), 'utf8');
      const plotTree = await parseText('python', plotText);
      try {
        const plot = summarizeFunctions({ lang: 'python', text: plotText, tree: plotTree, catalog: loadCatalog(), enabled: new Map(), emit: () => undefined });
        assert.deepEqual(plot.find((s) => s.name === 'extract_code')?.returnsParams, ['reply']);
      } finally {
        plotTree.delete();
      }
    });
  });

  describe('models from sentinel-policy.yml', () => {
    const code = [
      'import acme_ai',
      'import acme',
      '',
      'def answer(question):',
      '    reply = acme_ai.Assistant().ask(question)',
      '    return eval(reply + acme_ai.ask_model(question))',
      '',
      'def formula(expr):',
      '    acme.formula.run(expr)',
      '',
      'def checked(value):',
      '    return eval(acme.validate.arithmetic(value))',
      '',
    ].join('\n');

    function policyFile(body: string): string {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-models-'));
      const file = path.join(dir, 'sentinel-policy.yml');
      fs.writeFileSync(file, body);
      return file;
    }

    it('adds in-house sources, sinks and sanitizers without code', async () => {
      const policy = loadPolicy(
        policyFile(
          [
            'category: JIT',
            'models:',
            '  sources:',
            '    python:',
            '      calls:',
            '        - { api: "acme_ai.ask_model", note: "LLM output (in-house client)" }',
            '      methods:',
            '        - { method: ask, receiver: "Assistant", note: "LLM output (in-house assistant)" }',
            '  sinks:',
            '    - { rule: JIT-EVAL-COMPILE, languages: [python], api: acme.formula.run, args: [0] }',
            '  sanitizers:',
            '    python:',
            '      casts:',
            '        - { api: acme.validate.arithmetic, note: arithmetic-only validator }',
          ].join('\n'),
        ),
      );
      assert.deepEqual(Object.keys(catalogExtensionOf(policy)).sort(), ['sinks', 'sources']);
      const base = loadCatalog();
      const before = await findingsOf('models.py', base, code);
      assert.deepEqual(before.map((f) => [f.evidence.startLine, f.confidence]), [[6, 'medium'], [12, 'medium']]);
      const catalog = catalogForPolicy(base, policy);
      assert.equal(catalogForPolicy(base, policy), catalog, 'memoised per policy');
      const after = await findingsOf('models.py', catalog, code);
      assert.deepEqual(after.map((f) => [f.evidence.startLine, f.confidence]), [[6, 'high'], [9, 'medium']]);
      assert.equal(after[0].trace[0].note, 'LLM output (in-house assistant) read by `acme_ai.Assistant().ask()`');
      assert.equal(base.sources.python.calls.some((c) => c.api === 'acme_ai.ask_model'), false, 'the shipped catalog is not changed');
    });

    it('rejects a model entry that does not fit the shipped schemas, naming the field', () => {
      const bad = policyFile(['models:', '  sources:', '    python:', '      methods:', '        - { note: "no method name" }'].join('\n'));
      assert.throws(() => loadPolicy(bad), (err: unknown) => err instanceof PolicyError && /models/.test(err.message) && /method/.test(err.message));
      const unknownRule = policyFile(['models:', '  sinks:', '    - { rule: JIT-NOPE, languages: [python], api: x.run, args: [0] }'].join('\n'));
      assert.throws(() => loadPolicy(unknownRule), (err: unknown) => err instanceof PolicyError && /unknown rule 'JIT-NOPE'/.test(err.message));
      const badFamily = policyFile(['models:', '  sources:', '    rust:', '      calls: []'].join('\n'));
      assert.throws(() => loadPolicy(badFamily), PolicyError);
    });
  });
});
