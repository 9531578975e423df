// The build's precompiled validators (engine/validation.ts, schemaCode.ts): they must cover every schema the
// engine compiles for the shipped rule data, a policy and its models (a key the build misses costs start-up time,
// silently), and they must answer exactly as Ajv compiling the same schema at run time does.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { rulesDir } from '../../server/src/engine/assets';
import { loadCacheKinds } from '../../server/src/engine/cacheTrees';
import { loadPolicy } from '../../server/src/engine/policy';
import { loadCatalog, readYaml } from '../../server/src/engine/rules/catalog';
import { precompiledValidatorsModule, shippedSchemas } from '../../server/src/engine/schemaCode';
import { ajvFor, compileSchema, schemaKey, schemaUse } from '../../server/src/engine/validation';
import { REPO_ROOT, ensureBuiltCli } from '../helpers/builtCli';

/** The generated module, loaded as the bundle loads it (its `require`s resolve Ajv's runtime helpers from the repo). */
function precompiledTable(dir: string): Record<string, ValidateFunction> {
  const file = path.join(dir, 'validators.cjs');
  const fromRepo = createRequire(path.join(REPO_ROOT, 'package.json'));
  // Outside the repo, Ajv's runtime helpers are required by their resolved paths (the build bundles them instead).
  const code = precompiledValidatorsModule(rulesDir()).replace(/require\("(ajv\/[^"]+)"\)/g, (_, id: string) => `require(${JSON.stringify(fromRepo.resolve(id))})`);
  fs.writeFileSync(file, code);
  return (fromRepo(file) as { PRECOMPILED: Record<string, ValidateFunction> }).PRECOMPILED;
}

describe('precompiled schema validators', () => {
  let table: Record<string, ValidateFunction>;
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-validators-'));
    table = precompiledTable(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has one validator per shipped schema, each a function', () => {
    const shipped = shippedSchemas(rulesDir());
    assert.ok(shipped.length >= 9, `only ${shipped.length} schemas listed`);
    assert.equal(Object.keys(table).length, shipped.length);
    for (const s of shipped) assert.equal(typeof table[schemaKey(s.schema, s.use)], 'function', s.name);
  });

  it('covers every schema the engine asks for: rule data, cache kinds, a policy and its models', () => {
    // A fresh copy of the rules folder, so that the catalog is loaded (not served from the per-folder cache).
    const rules = path.join(dir, 'rules');
    fs.cpSync(rulesDir(), rules, { recursive: true });
    const before = schemaUse().keys.length;
    const catalog = loadCatalog(rules);
    loadCacheKinds(rules, catalog);
    const policyFile = path.join(dir, 'sentinel-policy.yml');
    fs.writeFileSync(
      policyFile,
      [
        'fail_on: [HIGH]',
        'models:',
        '  sinks:',
        '    - { rule: JIT-EVAL-COMPILE, languages: [python], api: inhouse.run, args: [0] }',
        '  sources:',
        '    python:',
        '      calls: [{ api: inhouse.read_prompt, note: "prompt text" }]',
        '      methods: [{ method: fetch_user_input, note: "user text" }]',
        '  sanitizers:',
        '    python:',
        '      casts: [{ api: inhouse.to_int, note: "an int" }]',
        '      guards: [{ api: inhouse.is_safe, pattern: 0, value: 1, note: "a vetted expression" }]',
        '',
      ].join('\n'),
    );
    loadPolicy(policyFile, catalog);
    const asked = [...new Set(schemaUse().keys.slice(before))];
    // rule.schema.json, sources, sink-context, cache kinds, the policy, the sink and source-entry definitions.
    assert.ok(asked.length >= 6, `only ${asked.length} schemas were asked for: ${asked.join(', ')}`);
    const missing = asked.filter((k) => !table[k]);
    assert.deepEqual(missing, [], 'schemas the engine compiles that the build does not');
  });

  it('answers as Ajv does at run time: the shipped data passes, broken data fails with the same first error', () => {
    const card = readYaml(path.join(rulesDir(), 'JIT-EVAL-COMPILE.yml')) as Record<string, unknown>;
    const policy = { fail_on: ['HIGH'], allowlist: [{ rule: 'JIT-EVAL-COMPILE' }] };
    for (const s of shippedSchemas(rulesDir())) {
      const runtime = ajvFor(s.use).compile(s.schema);
      const built = table[schemaKey(s.schema, s.use)]!;
      const samples: unknown[] = [{}, [], 'text', null, { id: 'JIT-X', severity: 'SEVERE' }, card, { ...card, severity: 'SEVERE' }, policy, { fail_on: 'HIGH' }];
      for (const sample of samples) {
        const expected = runtime(sample);
        assert.equal(built(sample), expected, `${s.name}: ${JSON.stringify(sample).slice(0, 80)}`);
        if (!expected) assert.deepEqual(built.errors, runtime.errors, `${s.name}: errors for ${JSON.stringify(sample).slice(0, 80)}`);
      }
    }
  });

  it('compiles a schema the build does not know at run time, once per process', () => {
    const schema = { type: 'object', required: ['only-in-this-test'] };
    const first = schemaUse().compiledAtRuntime;
    const validate = compileSchema(schema, 'all-errors');
    assert.equal(validate({}), false);
    assert.equal(compileSchema({ ...schema }, 'all-errors'), validate);
    assert.equal(schemaUse().compiledAtRuntime, first + 1);
  });

  it('a damaged dist/validators.js only costs time: the scan compiles the schemas itself and reports the same', function () {
    this.timeout(120_000);
    ensureBuiltCli();
    const copy = path.join(dir, 'dist');
    fs.cpSync(path.join(REPO_ROOT, 'dist'), copy, { recursive: true });
    fs.writeFileSync(path.join(copy, 'validators.js'), 'this is not JavaScript (\n');
    const scan = (cli: string): { status: number | null; findings: string[] } => {
      const r = spawnSync(process.execPath, [cli, 'sast', path.join(REPO_ROOT, 'fixtures', 'demo'), '--format', 'json', '--no-cache'], { encoding: 'utf8', timeout: 100_000 });
      const report = JSON.parse(r.stdout) as { findings: { ruleId: string; fingerprint: string }[] };
      return { status: r.status, findings: report.findings.map((f) => `${f.ruleId} ${f.fingerprint}`) };
    };
    const damaged = scan(path.join(copy, 'cli.js'));
    assert.ok(damaged.findings.length > 0);
    assert.deepEqual(damaged, scan(path.join(REPO_ROOT, 'dist', 'cli.js')));
    // A FIFO in its place is not read at all (requiring it would wait for a writer forever).
    fs.rmSync(path.join(copy, 'validators.js'));
    execFileSync('mkfifo', [path.join(copy, 'validators.js')]);
    assert.deepEqual(scan(path.join(copy, 'cli.js')), damaged);
  });

  it('the build writes them to dist/validators.js, beside the bundles', function () {
    this.timeout(120_000);
    ensureBuiltCli();
    const built = createRequire(__filename)(path.join(REPO_ROOT, 'dist', 'validators.js')) as { PRECOMPILED: Record<string, unknown> };
    assert.deepEqual(Object.keys(built.PRECOMPILED).sort(), Object.keys(table).sort());
  });
});
