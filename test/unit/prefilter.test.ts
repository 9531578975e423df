// The scan's pre-filter never skips a file a rule could fire on: every fixture with an `expect:` passes it,
// scans with and without it report the same, and rule data it does not understand turns it off.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectLanguage } from '../../server/src/engine/languages';
import { prefilterFor, requiredWord } from '../../server/src/engine/prefilter';
import { type Catalog, loadCatalog } from '../../server/src/engine/rules/catalog';
import { scanPaths } from '../../server/src/engine/scanner';
import { annotationsIn } from '../helpers/annotations';

const REPO = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(REPO, 'fixtures');

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []))
    .sort();
}

/** The fixture folders the rule suites scan (cache fixtures are written at test time, not stored). */
const FIXTURE_DIRS = ['rules', 'demo', 'codeactions', 'policy'].map((d) => path.join(FIXTURES, d)).filter((d) => fs.existsSync(d));

describe('pre-filter', () => {
  it('understands all of the shipped rule data, so it is not switched off', () => {
    const filter = prefilterFor(loadCatalog());
    assert.equal(filter.open, undefined, filter.open);
    for (const name of ['eval', 'exec', 'compile', 'RawKernel', 'createShaderModule', 'nvrtcCreateProgram', 'TRITON_CACHE_DIR', 'load_cache_artifacts', 'TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE']) {
      assert.ok(filter.words.includes(name), `${name} is not searched for`);
    }
  });

  it('lets through every fixture file that holds an expect: case', () => {
    const filter = prefilterFor(loadCatalog());
    let checked = 0;
    const skipped: string[] = [];
    for (const dir of FIXTURE_DIRS) {
      for (const file of filesUnder(dir)) {
        const text = fs.readFileSync(file, 'utf8');
        const lang = detectLanguage(file, text.slice(0, 64 * 1024));
        if (!lang) continue;
        const rel = path.relative(REPO, file);
        if (annotationsIn(text, rel).expects.length === 0) continue;
        checked++;
        if (!filter.mayFire(text, lang)) skipped.push(rel);
      }
    }
    assert.ok(checked >= 30, `only ${checked} fixture files with expect: cases were found`);
    assert.deepEqual(skipped, []);
  });

  it('changes no finding or warning of the fixture scans, except the parse warnings of files it skips', async () => {
    for (const dir of FIXTURE_DIRS) {
      const on = await scanPaths([dir], { jobs: 1 });
      const off = await scanPaths([dir], { jobs: 1, prefilter: false });
      assert.deepEqual(on.findings, off.findings, dir);
      assert.equal(on.filesScanned, off.filesScanned);
      const kept = (r: typeof on) => r.warnings.filter((w) => w.code !== 'parse-error');
      assert.deepEqual(kept(on), kept(off), dir);
    }
  });

  it('skips files with none of the names, and keeps a file whose only hint is an alias, a marker or a cache variable', () => {
    const filter = prefilterFor(loadCatalog());
    assert.equal(filter.mayFire('import os\n\ndef add(a, b):\n    return a + b\n', 'python'), false);
    assert.equal(filter.mayFire('const total = items.reduce((a, b) => a + b, 0);\n', 'javascript'), false);
    assert.equal(filter.mayFire('evaluation = retrieval_exec_count\n', 'python'), false, 'names inside longer words are not names');
    assert.equal(filter.mayFire('from builtins import eval as run\nrun(code)\n', 'python'), true);
    assert.equal(filter.mayFire('import cupy as cp\nk = cp.RawKernel(src, "k")\n', 'python'), true);
    assert.equal(filter.mayFire('export TRITON_CACHE_DIR=/tmp/triton\n', 'shell'), true);
    assert.equal(filter.mayFire('RUN tar -xzf k.tgz -C $HOME/.triton/cache\n', 'dockerfile'), true);
    assert.equal(filter.mayFire('src = "@triton.jit"\n', 'python'), true);
    assert.equal(filter.mayFire('{"cells": []}', 'notebook'), true, 'notebooks are decoded and analysed whole');
  });

  it('lets a qualified Python sink through only where the file names its module, or a builtin as a name', () => {
    const filter = prefilterFor(loadCatalog());
    const through = (text: string): boolean => filter.mayFire(text, 'python');
    // Builtins: the name itself, the `builtins` module under any alias, `__builtins__`, a string for getattr.
    assert.equal(through('import builtins as b\nb.compile(x, "f", "exec")\n'), true);
    assert.equal(through('__builtins__.exec(x)\n'), true);
    assert.equal(through('getattr(builtins, "exec")(x)\n'), true);
    assert.equal(through('run = compile\nrun(x, "f", "exec")\n'), true);
    assert.equal(through('exec (x)\n'), true);
    assert.equal(through('def f(): ...\nexec(x)\n'), true, 'an ellipsis at the end of the line before is not an attribute dot');
    assert.equal(through('y = (1 +\n     .5)\neval(x)\n'), true);
    // Imported sinks and setters: the module's root name is spelled out by the import, aliased or not.
    assert.equal(through('from torch.utils.cpp_extension import load\nload("m", ["m.cpp"], build_directory=d)\n'), true);
    assert.equal(through('import torch.utils.cpp_extension as ext\next.load("m", ["m.cpp"], build_directory=d)\n'), true);
    assert.equal(through('from timeit import Timer as T\nT(stmt).timeit()\n'), true);
    assert.equal(through('import pycuda.compiler\npycuda.compiler.compile(src)\n'), true);
    // The same last names on other modules' functions and methods cannot be those sinks.
    assert.equal(through('import re\nWORD = re.compile(r"\\w+")\nm = WORD . compile\n'), false, 're.compile is not builtins.compile');
    assert.equal(through('import json\ndata = json.load(fp)\nmore = pickle.load(fp)\n'), false);
    assert.equal(through('from itertools import repeat\nfor x in repeat(1, 3): t = threading.Timer(1, f)\n'), false);
    assert.equal(through('k = cp.RawKernel(src, "k")\n'), false, 'cp is bound by no import');
    assert.equal(through('q = session.query(User)\nitems.push(x)\nr = model.eval()\n'), false, 'method sinks need their sink-context modules or receivers');
    // Method sinks: pandas imported (sink-context.yml requiresImport), or an InteractiveConsole made here.
    assert.equal(through('import pandas as pd\ndf.query(expr)\n'), true);
    assert.equal(through('import modin.pandas as pd\nframe.eval(expr)\n'), true);
    assert.equal(through('from code import InteractiveConsole as C\nc = C()\nc.push(line)\n'), true);
  });

  it('reads the sink contexts from the catalog: a policy sink is gated on its own module', () => {
    const base = loadCatalog();
    const rules = base.rules.map((r) => (r.id === 'JIT-EVAL-COMPILE' ? { ...r, sinks: [...(r.sinks ?? []), { languages: ['python' as const], api: 'acme.formula.run', args: [0] }] } : r));
    const filter = prefilterFor({ ...base, rules, byId: new Map(rules.map((r) => [r.id, r])) });
    assert.equal(filter.open, undefined, filter.open);
    assert.equal(filter.mayFire('from acme.formula import run\nrun(text)\n', 'python'), true);
    assert.equal(filter.mayFire('runner.run(text)\n', 'python'), false);
    // A sink-context field the pre-filter does not know is not read: its sink's name alone lets a file through.
    const contexts = (base.sinkContexts ?? []).map((c) => (c.method === 'push' ? { ...c, receiverAlso: ['anything'] } : c));
    const loose = prefilterFor({ ...base, sinkContexts: contexts as typeof base.sinkContexts });
    assert.equal(loose.mayFire('items.push(x)\n', 'python'), true);
    assert.equal(prefilterFor(base).mayFire('items.push(x)\n', 'python'), false);
  });

  it('finds the word every match of a cache-folder pattern must hold', () => {
    assert.equal(requiredWord('(^|/)\\.triton/cache(/|$)'), 'triton');
    assert.equal(requiredWord('(^|/)torchinductor_[^/]*(/|$)'), 'torchinductor_');
    assert.equal(requiredWord('(^|/)\\.nv/ComputeCache(/|$)'), 'ComputeCache');
    assert.equal(requiredWord('cachex?dir'), 'cache');
    assert.equal(requiredWord('a|b'), undefined);
    assert.equal(requiredWord('(triton|numba)_cache'), '_cache');
    assert.equal(requiredWord('.*'), undefined);
  });

  it('lets every file through when a rule card holds a field it does not know', () => {
    const base = loadCatalog();
    const rules = base.rules.map((r, i) => (i === 0 ? { ...r, permissionCalls: ['os.chmod'] } : r));
    const catalog: Catalog = { ...base, rules, byId: new Map(rules.map((r) => [r.id, r])) };
    const filter = prefilterFor(catalog);
    assert.match(filter.open ?? '', /permissionCalls/);
    assert.equal(filter.mayFire('x = 1\n', 'python'), true);
  });
});
