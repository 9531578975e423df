// The rule catalog: every spec field present for every rule, and a broken card is an error that names the
// file and the field rather than a crash or a silently missing rule.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv from 'ajv';
import { rulesDir } from '../../server/src/engine/assets';
import { CACHE_KINDS_SCHEMA } from '../../server/src/engine/cacheTrees';
import { CatalogError, extendCatalog, loadCatalog, selectRules } from '../../server/src/engine/rules/catalog';
import { analyzeDocument } from '../../server/src/engine/scanner';

/** Copies the shipped catalog to a temp folder and lets a test break one card. */
function brokenCatalog(file: string, edit: (text: string) => string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-rules-'));
  fs.cpSync(rulesDir(), dir, { recursive: true });
  const target = path.join(dir, file);
  fs.writeFileSync(target, edit(fs.readFileSync(target, 'utf8')));
  return dir;
}

function expectCatalogError(dir: string, file: string, field: RegExp, reason: RegExp): void {
  assert.throws(
    () => loadCatalog(dir),
    (err: unknown) => {
      assert.ok(err instanceof CatalogError, String(err));
      assert.equal(err.file, path.join(dir, file));
      assert.match(err.field, field);
      assert.match(err.message, reason);
      return true;
    },
  );
}

describe('rule catalog', () => {
  const catalog = loadCatalog();

  it('holds the three JIT rules with the spec values', () => {
    const expected: Record<string, [string, string, string, string, string]> = {
      'JIT-EVAL-COMPILE': ['HIGH', 'Dynamic eval or compile', 'CWE-95', 'LLM01 — Prompt Injection', 'Do not compile user-controlled strings.'],
      'JIT-DYNAMIC-KERNEL': ['HIGH', 'Dynamic Kernel Generation', 'CWE-94', 'LLM03 — Supply Chain', 'Separate kernel code from runtime data.'],
      'JIT-CACHE-POISONING': ['MEDIUM', 'Writable JIT Cache', 'CWE-345', 'LLM03 — Supply Chain', 'Protect compiled caches from untrusted writes.'],
    };
    assert.deepEqual([...catalog.byId.keys()].sort(), Object.keys(expected).sort());
    for (const [id, [severity, title, cwe, owasp, fix]] of Object.entries(expected)) {
      const r = catalog.byId.get(id)!;
      assert.deepEqual([r.severity, r.title, r.cwe, r.owaspLlm, r.fixHint], [severity, title, cwe, owasp, fix]);
      assert.equal(r.category, 'JIT');
      assert.equal(r.fpRisk, 'MEDIUM');
      assert.equal(r.owner, 'Application security and backend/agent owner');
      assert.equal(r.retest, 'sentinel sast ./src/ --rule JIT');
      for (const field of ['description', 'whyItMatters', 'whenItFires', 'evidenceFormat', 'falsePositiveNotes', 'howToFix', 'releaseDecision', 'helpUri'] as const) {
        assert.ok(r[field].length > 10, `${id}.${field}`);
      }
      assert.ok(r.examples.bad.length > 0 && r.examples.good.length > 0);
    }
    assert.match(catalog.byId.get('JIT-CACHE-POISONING')!.releaseDecision, /^Assign an owner, fix within the sprint/);
    assert.match(catalog.byId.get('JIT-EVAL-COMPILE')!.releaseDecision, /^Treat as a release gate/);
  });

  it('selects rules by category, ID and comma lists, and reports unknown selectors', () => {
    assert.equal(selectRules(catalog, ['JIT']).rules.length, 3);
    assert.deepEqual(selectRules(catalog, ['jit-eval-compile,JIT-CACHE-POISONING']).rules.map((r) => r.id), ['JIT-CACHE-POISONING', 'JIT-EVAL-COMPILE']);
    assert.deepEqual(selectRules(catalog, ['JIT', 'SQLI']).unknown, ['SQLI']);
  });

  it('rejects a card with a missing field, naming the file and the field', () => {
    const dir = brokenCatalog('JIT-EVAL-COMPILE.yml', (t) => t.replace(/^cwe: .*\n/m, ''));
    expectCatalogError(dir, 'JIT-EVAL-COMPILE.yml', /^cwe$/, /is required but missing/);
  });

  it('rejects a bad severity', () => {
    const dir = brokenCatalog('JIT-DYNAMIC-KERNEL.yml', (t) => t.replace(/^severity: HIGH$/m, 'severity: SEVERE'));
    expectCatalogError(dir, 'JIT-DYNAMIC-KERNEL.yml', /^severity$/, /must be one of CRITICAL, HIGH, MEDIUM, LOW, INFO/);
  });

  it('rejects an unknown field and a bad sink', () => {
    expectCatalogError(brokenCatalog('JIT-EVAL-COMPILE.yml', (t) => `${t}colour: red\n`), 'JIT-EVAL-COMPILE.yml', /^colour$/, /not a known field/);
    expectCatalogError(
      brokenCatalog('JIT-EVAL-COMPILE.yml', (t) => t.replace('api: builtins.eval, args: [0]', 'api: builtins.eval, args: [-1]')),
      'JIT-EVAL-COMPILE.yml',
      /^sinks\.0\.args/,
      /./,
    );
  });

  it('rejects invalid YAML with its line, and an ID that does not match the file name', () => {
    expectCatalogError(brokenCatalog('JIT-CACHE-POISONING.yml', (t) => t.replace('title: Writable JIT Cache', 'title: [Writable')), 'JIT-CACHE-POISONING.yml', /^$/, /is not valid YAML.*\(\d+:\d+\)/);
    expectCatalogError(brokenCatalog('JIT-CACHE-POISONING.yml', (t) => t.replace('id: JIT-CACHE-POISONING', 'id: JIT-CACHE-X')), 'JIT-CACHE-POISONING.yml', /^id$/, /does not match the file name/);
  });

  it('rejects a related rule that does not exist', () => {
    const dir = brokenCatalog('JIT-EVAL-COMPILE.yml', (t) => t.replace('related: [JIT-DYNAMIC-KERNEL', 'related: [JIT-NOPE'));
    expectCatalogError(dir, 'JIT-EVAL-COMPILE.yml', /^related$/, /unknown rule 'JIT-NOPE'/);
  });
});

describe('source, sanitizer and sink-context models', () => {
  const catalog = loadCatalog();

  it('loads every kind of source and the sanitizers, with the optional lists filled', () => {
    const py = catalog.sources.python;
    assert.ok(py.calls.some((c) => c.api === '*.chat.completions.create'));
    assert.ok(py.methods?.some((m) => m.method === 'parse_args'));
    assert.ok(py.objects?.some((o) => o.api === 'transformers.pipeline' && o.use === 'call'));
    assert.ok(py.parameters?.some((p) => p.decorator === 'function_tool'));
    assert.ok(py.sanitizers?.casts.some((c) => c.api === 'builtins.int'));
    assert.ok(py.sanitizers?.guards.some((g) => g.api === 're.fullmatch' && g.pattern === 0 && g.value === 1));
    assert.ok(catalog.sources.javascript.parameters?.some((p) => p.callee === 'tool' && p.property === 'execute'));
    assert.deepEqual(catalog.sources.cuda.methods, [], 'a family without methods gets an empty list');
    assert.ok(catalog.sinkContexts?.some((c) => c.method === 'query' && c.requiresImport?.includes('pandas')));
  });

  it('rejects a source entry that does not fit sources.schema.json, naming the field', () => {
    const dir = brokenCatalog('sources.yml', (t) => t.replace('- { method: parse_args, note: command-line argument (argparse) }', '- { methods: parse_args, note: x }'));
    expectCatalogError(dir, 'sources.yml', /^python\.methods\.0/, /is (required but missing|not a known field)/);
    const badUse = brokenCatalog('sources.yml', (t) => t.replace('use: .value', 'use: value'));
    expectCatalogError(badUse, 'sources.yml', /^python\.objects\.1\.use$/, /must match pattern/);
  });

  it('rejects a sink context without a language', () => {
    const dir = brokenCatalog('sink-context.yml', (t) => t.replace('  - languages: [python]\n    method: runsource', '  - method: runsource'));
    expectCatalogError(dir, 'sink-context.yml', /languages/, /required but missing/);
  });

  it('extends sources and sanitizers from settings or a policy, reporting bad entries without throwing', () => {
    const { catalog: extended, errors } = extendCatalog(catalog, {
      sources: {
        python: {
          methods: [{ method: 'ask', receiver: 'assistant', note: 'LLM output' }, { note: 'no method' } as never],
          sanitizers: { casts: [{ api: 'acme.clean', note: 'validator' }], guards: [] },
        },
      },
    });
    assert.equal(errors.length, 1);
    assert.match(errors[0], /python\.methods\[1\]: method is required but missing/);
    assert.ok(extended.sources.python.methods?.some((m) => m.method === 'ask'));
    assert.ok(extended.sources.python.sanitizers?.casts.some((c) => c.api === 'acme.clean'));
    assert.ok(!catalog.sources.python.sanitizers?.casts.some((c) => c.api === 'acme.clean'), 'the base catalog is unchanged');
    assert.equal(extended.sinkContexts, catalog.sinkContexts);
  });
});

describe('rule selection and kernel templates', () => {
  it('reports an exec of a kernel template under the kernel rule even when only that rule runs', async () => {
    const text = 'def build(op):\n    exec(f"@triton.jit\\ndef k(x):\\n    return tl.{op}(x)")\n';
    const only = await analyzeDocument('k.py', text, 'python', { rules: ['JIT-DYNAMIC-KERNEL'] });
    assert.deepEqual(only.findings.map((f) => f.ruleId), ['JIT-DYNAMIC-KERNEL']);
    const evalOnly = await analyzeDocument('k.py', text, 'python', { rules: ['JIT-EVAL-COMPILE'] });
    assert.deepEqual(evalOnly.findings, []);
  });
});

describe('shipped schemas', () => {
  // The engine compiles them with `validateSchema: false` (checking them against the meta-schema cost ~180 ms
  // of every start): this is where they are checked.
  it('are valid JSON Schema (draft-07): every rules/*.schema.json and the cache-kinds schema', () => {
    const files = fs.readdirSync(rulesDir()).filter((f) => f.endsWith('.schema.json'));
    assert.ok(files.length >= 5, files.join(', '));
    const ajv = new Ajv({ strict: false });
    for (const f of files) {
      const schema = JSON.parse(fs.readFileSync(path.join(rulesDir(), f), 'utf8')) as object;
      assert.equal(ajv.validateSchema(schema), true, `${f}: ${ajv.errorsText(ajv.errors)}`);
    }
    assert.equal(ajv.validateSchema(CACHE_KINDS_SCHEMA), true, `cache-kinds schema: ${ajv.errorsText(ajv.errors)}`);
    assert.equal(ajv.validateSchema({ type: 'object', properties: { a: { type: 'nonsense' } } }), false, 'the check can fail');
  });
});
