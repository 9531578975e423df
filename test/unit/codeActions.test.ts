// Tests for the language server's code actions: every rewrite, the inline allow comment and the policy
// allowlist entry, per language, checked by applying the edits and re-running the engine on the result
// (it must parse, and the finding must be gone, suppressed inline, or suppressed by the loaded policy).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { type CodeAction, CreateFile, TextDocumentEdit, type TextEdit } from 'vscode-languageserver';
import type { Finding, LanguageId } from '../../server/src/engine/finding';
import { detectLanguage } from '../../server/src/engine/languages';
import { hasGrammar, parseText } from '../../server/src/engine/parser';
import { applyPolicy, loadPolicy, policyTemplate } from '../../server/src/engine/policy';
import { analyzeDocument } from '../../server/src/engine/scanner';
import { ACTION_TITLES, type CodeActionInput, codeActionsFor, FIX_ALL_KIND, fixAllActions } from '../../server/src/lsp/codeActions';
import { type PositionEncoding, PositionConverter } from '../../server/src/lsp/positions';
import { CONFIG_TITLES } from '../../server/src/lsp/rewrites/configCache';
import { CUDA_TITLES } from '../../server/src/lsp/rewrites/cuda';
import { JS_TITLES } from '../../server/src/lsp/rewrites/javascript';
import { PY_TITLES } from '../../server/src/lsp/rewrites/python';

const REPO = path.resolve(__dirname, '..', '..');
const POLICY_FILE = 'sentinel-policy.yml';

// ---- helpers ------------------------------------------------------------------------------------------

interface Doc {
  /** Repo-relative path: also the finding path and the policy entry's relativePath (the policy sits at the repo root in tests). */
  rel: string;
  uri: string;
  text: string;
  lang: LanguageId;
}

function fixture(rel: string): Doc {
  const abs = path.join(REPO, rel);
  const text = fs.readFileSync(abs, 'utf8');
  return { rel, uri: `file://${abs}`, text, lang: detectLanguage(abs, text)! };
}

function inline(rel: string, text: string, lang?: LanguageId): Doc {
  return { rel, uri: `file:///work/${rel}`, text, lang: lang ?? detectLanguage(rel, text)! };
}

async function findingsOf(doc: Doc): Promise<Finding[]> {
  return (await analyzeDocument(doc.rel, doc.text, doc.lang)).findings;
}

/** The finding whose span holds the first occurrence of `needle`. */
async function findingAt(doc: Doc, needle: string): Promise<Finding> {
  const at = doc.text.indexOf(needle);
  assert.ok(at >= 0, `${doc.rel} holds ${needle}`);
  const hit = (await findingsOf(doc)).find((f) => f.evidence.startOffset <= at && at < f.evidence.endOffset);
  assert.ok(hit, `a finding at ${needle} in ${doc.rel}`);
  return hit;
}

interface PolicyPlace {
  exists: boolean;
  text?: string;
  relativePath?: string;
}

function inputFor(doc: Doc, finding: Finding, options: { encoding?: PositionEncoding; policy?: PolicyPlace } = {}): CodeActionInput {
  const converter = new PositionConverter(doc.text, options.encoding ?? 'utf-16');
  const policy = options.policy ?? { exists: false };
  return {
    uri: doc.uri,
    text: doc.text,
    lang: doc.lang,
    finding,
    diagnostic: { range: converter.rangeOf(finding.evidence.startOffset, finding.evidence.endOffset), message: finding.title, source: 'sentinel', data: { fingerprint: finding.fingerprint } },
    converter,
    policy: { uri: `file:///work/${POLICY_FILE}`, exists: policy.exists, text: policy.text, relativePath: policy.relativePath ?? doc.rel },
  };
}

/** Applies LSP text edits the way a client does: ranges from the original text, last edit first. */
function applyEdits(text: string, edits: TextEdit[], converter: PositionConverter): string {
  const offsets = edits.map((e) => ({ start: converter.offsetAt(e.range.start), end: converter.offsetAt(e.range.end), newText: e.newText }));
  offsets.sort((a, b) => b.start - a.start || b.end - a.end);
  for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i].end <= offsets[i - 1].start, 'edits do not overlap');
  let out = text;
  for (const e of offsets) out = out.slice(0, e.start) + e.newText + out.slice(e.end);
  return out;
}

function documentEdits(action: CodeAction, uri: string): TextEdit[] {
  const edits = action.edit?.changes?.[uri];
  assert.ok(edits, `${action.title} edits ${uri}`);
  return edits;
}

async function assertParses(lang: LanguageId, text: string, what: string): Promise<void> {
  if (!hasGrammar(lang)) return;
  const tree = await parseText(lang, text);
  try {
    assert.equal(tree.rootNode.hasError, false, `${what} parses without errors:\n${text}`);
  } finally {
    tree.delete();
  }
}

function unsuppressed(findings: Finding[], rule: string): number {
  return findings.filter((f) => f.ruleId === rule && f.decision !== 'suppressed').length;
}

/** Applies a rewrite and checks: it parses, this finding is gone, nothing else appeared or vanished. */
async function assertRewriteFixes(doc: Doc, finding: Finding, action: CodeAction, input: CodeActionInput): Promise<string> {
  const after = applyEdits(doc.text, documentEdits(action, doc.uri), input.converter);
  await assertParses(doc.lang, after, action.title);
  const before = await findingsOf(doc);
  const now = (await analyzeDocument(doc.rel, after, doc.lang)).findings;
  for (const rule of ['JIT-EVAL-COMPILE', 'JIT-DYNAMIC-KERNEL', 'JIT-CACHE-POISONING']) {
    const expected = unsuppressed(before, rule) - (rule === finding.ruleId ? 1 : 0);
    assert.equal(unsuppressed(now, rule), expected, `${rule} findings after "${action.title}" in ${doc.rel}:\n${after}`);
  }
  return after;
}

async function assertAllowSuppresses(doc: Doc, finding: Finding, action: CodeAction, input: CodeActionInput): Promise<string> {
  const after = applyEdits(doc.text, documentEdits(action, doc.uri), input.converter);
  await assertParses(doc.lang, after, action.title);
  const same = (await analyzeDocument(doc.rel, after, doc.lang)).findings.find((f) => f.fingerprint === finding.fingerprint);
  assert.ok(same, `${finding.ruleId} is still reported after the allow comment`);
  assert.equal(same.decision, 'suppressed');
  assert.equal(same.suppression?.kind, 'inline');
  assert.match(same.suppression?.reason ?? '', /<reason: why this is safe>/);
  return after;
}

let tmpRoot: string;
before(() => {
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-codeactions-'));
});
after(() => {
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/** The policy text an action produces: the created file, or the existing text with the edits applied. */
function policyTextAfter(action: CodeAction, place: PolicyPlace): string {
  const uri = `file:///work/${POLICY_FILE}`;
  if (place.exists) {
    return applyEdits(place.text!, documentEdits(action, uri), new PositionConverter(place.text!, 'utf-16'));
  }
  const changes = action.edit?.documentChanges ?? [];
  assert.equal(changes.length, 2, 'creates the policy file, then writes it');
  assert.ok(CreateFile.is(changes[0]));
  assert.deepEqual(changes[0], { kind: 'create', uri, options: { overwrite: false, ignoreIfExists: false } });
  assert.ok(TextDocumentEdit.is(changes[1]));
  const edit = changes[1] as TextDocumentEdit;
  assert.deepEqual(edit.textDocument, { uri, version: null });
  assert.equal(edit.edits.length, 1);
  const only = edit.edits[0];
  assert.ok('newText' in only, 'a plain text edit');
  assert.deepEqual(only.range, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } });
  return only.newText;
}

/** Loads the policy text from a temporary folder and checks it suppresses exactly `finding` in `doc`. */
async function assertPolicySuppresses(doc: Doc, finding: Finding, action: CodeAction, place: PolicyPlace): Promise<string> {
  const text = policyTextAfter(action, place);
  const dir = fs.mkdtempSync(path.join(tmpRoot, 'policy-'));
  fs.writeFileSync(path.join(dir, POLICY_FILE), text);
  const policy = loadPolicy(path.join(dir, POLICY_FILE));
  const findings = (await findingsOf(doc)).map((f) => ({ ...f, evidence: { ...f.evidence, path: place.relativePath ?? doc.rel } }));
  applyPolicy(findings, policy, { baseDir: dir, now: new Date('2026-06-01T00:00:00Z') });
  const target = findings.find((f) => f.fingerprint === finding.fingerprint)!;
  assert.equal(target.decision, 'suppressed', `the new entry suppresses the finding:\n${text}`);
  assert.equal(target.suppression?.kind, 'policy');
  assert.equal(target.suppression?.reason, '<reason: why this is accepted>');
  assert.match(target.suppression?.source ?? '', /#allowlist\[\d+\]$/);
  for (const other of findings.filter((f) => f.fingerprint !== finding.fingerprint)) {
    assert.notEqual(other.suppression?.kind, 'policy', 'the entry pins one finding by fingerprint');
  }
  return text;
}

// ---- one table of cases: every action kind in every language ------------------------------------------

const allow = (rule: string): string => ACTION_TITLES.allow(rule);
const policyCreate = (rule: string): string => ACTION_TITLES.policy(rule, POLICY_FILE, false);

interface Case {
  file: string;
  /** Text inside the finding's span (first occurrence in the file). */
  at: string;
  rule: string;
  /** The rewrite titles, best first; the allow and policy actions follow them. */
  rewrites: string[];
  /** Whether the first rewrite joins source.fixAll. */
  safe?: boolean;
}

const CASES: Case[] = [
  // Python eval(): operator map, map of module functions, arithmetic-only evaluator, literal_eval.
  { file: 'fixtures/codeactions/operator_tools.py', at: 'eval(f"{a} {op} {b}")', rule: 'JIT-EVAL-COMPILE', rewrites: [PY_TITLES.operatorMap], safe: true },
  { file: 'fixtures/codeactions/operator_tools.py', at: 'eval(f"torch.{op}', rule: 'JIT-EVAL-COMPILE', rewrites: [PY_TITLES.moduleMap('torch', ['sum', 'mean', 'max', 'min', 'prod'])], safe: true },
  { file: 'fixtures/codeactions/operator_tools.py', at: 'eval(f"np.{op}', rule: 'JIT-EVAL-COMPILE', rewrites: [PY_TITLES.moduleMap('np', ['sum', 'mean', 'max', 'min', 'prod'])], safe: true },
  { file: 'fixtures/codeactions/operator_tools.py', at: 'eval(expression,', rule: 'JIT-EVAL-COMPILE', rewrites: [PY_TITLES.arithmetic, PY_TITLES.literal], safe: false },
  { file: 'fixtures/codeactions/operator_tools.py', at: 'eval(text)', rule: 'JIT-EVAL-COMPILE', rewrites: [PY_TITLES.literal, PY_TITLES.arithmetic], safe: false },
  { file: 'fixtures/codeactions/operator_tools.py', at: 'eval(f"{value} *', rule: 'JIT-EVAL-COMPILE', rewrites: [PY_TITLES.arithmetic], safe: false },
  { file: 'fixtures/codeactions/operator_tools.py', at: 'exec(code', rule: 'JIT-EVAL-COMPILE', rewrites: [] },
  { file: 'fixtures/codeactions/repl_no_imports.py', at: 'eval(', rule: 'JIT-EVAL-COMPILE', rewrites: [PY_TITLES.operatorMap], safe: false },
  { file: 'fixtures/demo/src/agent/calculator_tool.py', at: 'eval(expression', rule: 'JIT-EVAL-COMPILE', rewrites: [PY_TITLES.arithmetic, PY_TITLES.literal], safe: false },
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/builtins_aliases.py', at: 'b.exec(patch_source', rule: 'JIT-EVAL-COMPILE', rewrites: [] },
  // JavaScript / TypeScript: Function() and eval() operator shapes, JSON.parse, and sinks with no rewrite.
  { file: 'fixtures/codeactions/formula-ops.cjs', at: "new Function('a', 'b'", rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.operatorFunction], safe: true },
  { file: 'fixtures/codeactions/formula-ops.cjs', at: "Function('a, b'", rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.operatorFunction], safe: true },
  { file: 'fixtures/codeactions/formula-ops.cjs', at: 'eval(`${left}', rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.operatorEval], safe: false },
  { file: 'fixtures/codeactions/formula-ops.cjs', at: "eval(left + ' '", rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.operatorEval], safe: false },
  { file: 'fixtures/codeactions/formula-ops.cjs', at: 'eval(req.body.value)', rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.json], safe: false },
  { file: 'fixtures/codeactions/formula-ops.cjs', at: 'vm.runInNewContext', rule: 'JIT-EVAL-COMPILE', rewrites: [] },
  { file: 'fixtures/codeactions/formula-ops.ts', at: 'new Function(', rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.operatorFunction], safe: true },
  { file: 'fixtures/codeactions/formula-ops.ts', at: 'eval(`', rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.operatorEval], safe: false },
  { file: 'fixtures/codeactions/formula-ops.ts', at: 'eval(raw)', rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.json], safe: false },
  { file: 'fixtures/codeactions/FormulaOps.tsx', at: 'eval(left + op + right)', rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.operatorEval], safe: false },
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/FormulaCell.tsx', at: 'eval(', rule: 'JIT-EVAL-COMPILE', rewrites: [JS_TITLES.json], safe: false },
  { file: 'fixtures/rules/JIT-EVAL-COMPILE/plugin-loader.mjs', at: 'compileFunction(body', rule: 'JIT-EVAL-COMPILE', rewrites: [] },
  // Kernels: CuPy, PyCUDA, torch inline / jiterator, NVRTC in CUDA C++; exec() templates and WebGPU get allow actions only.
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/cupy_kernels_from_config.py', at: 'cp.RawKernel(src, "fused_act")', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [PY_TITLES.kernel('cfg["activation_expr"]')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/cupy_kernels_from_config.py', at: 'cp.ElementwiseKernel("float32 x", "float32 y", f"y', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [PY_TITLES.kernel('expr')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/cupy_kernels_from_config.py', at: 'CudaKernel(plugin', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [PY_TITLES.kernel('plugin.kernel_source')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/pycuda_and_nvrtc.py', at: 'SourceModule(TILED_TEMPLATE', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [PY_TITLES.kernel('block')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/torch_inline_extensions.py', at: 'load_inline(\n', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [PY_TITLES.kernel('body')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/torch_inline_extensions.py', at: 'jiterator._create_jit_fn(code_string)', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [PY_TITLES.kernel('code_string')], safe: false },
  { file: 'fixtures/demo/src/kernels/fused.py', at: 'cp.RawKernel(src', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [PY_TITLES.kernel('cfg["activation"]')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/nvrtc_activation.cu', at: 'nvrtcCreateProgram(&prog, src.c_str(), "act.cu"', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [CUDA_TITLES.kernel('activation')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/nvrtc_activation.cu', at: 'nvrtcCreateProgram(&prog, argv[1]', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [CUDA_TITLES.kernel('argv[1]')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/nvrtc_activation.cu', at: 'nvrtcCreateProgram(&prog,\n', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [CUDA_TITLES.kernel('from_env')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/jit_runtime.cpp', at: 'nvrtcCreateProgram(&prog, source', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [CUDA_TITLES.kernel('source')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/kernel_templates.cuh', at: 'nvrtcCreateProgram(', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [CUDA_TITLES.kernel('epilogue_src')], safe: false },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/triton_exec_templates.py', at: 'exec(ACT_TEMPLATE.format', rule: 'JIT-DYNAMIC-KERNEL', rewrites: [] },
  { file: 'fixtures/rules/JIT-DYNAMIC-KERNEL/webgpu-matmul.ts', at: "createShaderModule({ label: 'matmul'", rule: 'JIT-DYNAMIC-KERNEL', rewrites: [] },
  // Caches in every format.
  { file: 'fixtures/rules/JIT-CACHE-POISONING/cache_setup.py', at: 'os.environ["TRITON_CACHE_DIR"]', rule: 'JIT-CACHE-POISONING', rewrites: [PY_TITLES.cache('triton')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/cache_setup.py', at: 'os.environ.update({', rule: 'JIT-CACHE-POISONING', rewrites: [PY_TITLES.cache('cupy')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/cache_setup.py', at: 'jax.config.update(', rule: 'JIT-CACHE-POISONING', rewrites: [PY_TITLES.cache('jax')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/worker-env.ts', at: 'process.env.TORCHINDUCTOR_CACHE_DIR', rule: 'JIT-CACHE-POISONING', rewrites: [JS_TITLES.cache('torchinductor')], safe: false },
  { file: 'fixtures/codeactions/launcher.cjs', at: 'process.env.TRITON_CACHE_DIR', rule: 'JIT-CACHE-POISONING', rewrites: [JS_TITLES.cache('triton')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/run_training.sh', at: 'export TRITON_CACHE_DIR', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.shell('triton')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/run_training.sh', at: 'TORCHINDUCTOR_CACHE_DIR=/dev/shm', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.shell('torchinductor')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/inference-image/.env', at: 'TRITON_CACHE_DIR=', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.dotenv('triton')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/inference-image/.env', at: 'TORCHINDUCTOR_CACHE_DIR=', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.dotenv('torchinductor')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/inference-image/Dockerfile', at: 'ENV TRITON_CACHE_DIR', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.dockerfile('/home/app/.cache/triton', 'home of USER app')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/inference-image/Dockerfile', at: 'ENV TORCHINDUCTOR_CACHE_DIR /tmp', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.dockerfile('/home/app/.cache/torchinductor', 'home of USER app')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/inference-image/Dockerfile', at: 'CUPY_CACHE_DIR', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.dockerfile('/home/app/.cache/cupy', 'home of USER app')], safe: false },
  { file: 'fixtures/codeactions/Dockerfile', at: 'ENV TORCH_EXTENSIONS_DIR', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.dockerfile('/home/builder/.cache/torch_extensions', 'home of USER builder')], safe: false },
  { file: 'fixtures/codeactions/Dockerfile', at: 'ENV TRITON_CACHE_DIR', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.dockerfile('/root/.cache/triton', 'no USER in this stage, so it runs as root')], safe: false },
  { file: 'fixtures/codeactions/Dockerfile', at: 'NUMBA_CACHE_DIR=', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.shell('numba')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/docker-compose.yml', at: 'TRITON_CACHE_DIR: /tmp', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.yaml('/home/app/.cache/triton')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/docker-compose.yml', at: 'TORCHINDUCTOR_CACHE_DIR=/tmp/inductor', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.yaml('/home/app/.cache/torchinductor')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/docker-compose.yml', at: '"NUMBA_CACHE_DIR=', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.yaml('/home/app/.cache/numba')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/k8s-deployment.yaml', at: 'name: TRITON_CACHE_DIR', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.yaml('/home/app/.cache/triton')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/k8s-deployment.yaml', at: 'name: CUDA_CACHE_PATH', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.yaml('/home/app/.cache/nv')], safe: false },
  { file: 'fixtures/rules/JIT-CACHE-POISONING/github-workflow-gpu-ci.yml', at: 'NUMBA_CACHE_DIR: /dev/shm', rule: 'JIT-CACHE-POISONING', rewrites: [CONFIG_TITLES.actions('${{ runner.temp }}/numba')], safe: false },
  // Job- and workflow-level env cannot name the runner's temp folder: allow actions only.
  { file: 'fixtures/rules/JIT-CACHE-POISONING/github-workflow-gpu-ci.yml', at: 'TRITON_CACHE_DIR: /tmp', rule: 'JIT-CACHE-POISONING', rewrites: [] },
];

describe('codeActionsFor', () => {
  for (const c of CASES) {
    const label = `${c.file.replace(/^fixtures\//, '')} at \`${c.at.trim()}\`: ${c.rewrites.length ? c.rewrites.map((t) => t.split(' (')[0]).join(' | ') : 'allow actions only'}`;
    it(label, async () => {
      const doc = fixture(c.file);
      const finding = await findingAt(doc, c.at);
      assert.equal(finding.ruleId, c.rule);
      const input = inputFor(doc, finding);
      const actions = codeActionsFor(input);
      assert.deepEqual(actions.map((a) => a.title), [...c.rewrites, allow(c.rule), policyCreate(c.rule)]);
      for (const a of actions) {
        assert.equal(a.kind, 'quickfix', a.title);
        assert.deepEqual(a.diagnostics, [input.diagnostic], a.title);
      }
      assert.deepEqual(actions.map((a) => a.isPreferred === true), actions.map((_, i) => i === 0 && c.rewrites.length > 0), 'only the best rewrite is preferred');

      for (const a of actions.slice(0, c.rewrites.length)) await assertRewriteFixes(doc, finding, a, input);
      await assertAllowSuppresses(doc, finding, actions[c.rewrites.length], input);
      await assertPolicySuppresses(doc, finding, actions[c.rewrites.length + 1], { exists: false });

      const all = fixAllActions([input]);
      if (c.safe) {
        assert.ok(all, 'a safe rewrite is offered in source.fixAll');
        assert.deepEqual(all.edit, actions[0].edit);
      } else assert.equal(all, undefined, 'no fix-all for an unsafe rewrite');
    });
  }

  it('notebooks: only the policy entry (offsets address the joined cells, not the .ipynb text)', async () => {
    for (const file of ['fixtures/rules/JIT-EVAL-COMPILE/agent_experiments.ipynb', 'fixtures/rules/JIT-CACHE-POISONING/colab-setup.ipynb']) {
      const doc = fixture(file);
      const findings = await findingsOf(doc);
      assert.ok(findings.length > 0);
      for (const finding of findings) {
        const input = inputFor(doc, finding);
        const actions = codeActionsFor(input);
        assert.deepEqual(actions.map((a) => a.title), [policyCreate(finding.ruleId)]);
        await assertPolicySuppresses(doc, finding, actions[0], { exists: false });
        assert.equal(fixAllActions([input]), undefined);
      }
    }
  });

  it('offers nothing for an already suppressed finding but its rewrites', async () => {
    const doc = inline('src/tool.py', 'def run(a, op, b):\n    # sentinel: allow JIT-EVAL-COMPILE -- operands are validated floats\n    return eval(f"{a} {op} {b}")\n');
    const finding = await findingAt(doc, 'eval(');
    assert.equal(finding.decision, 'suppressed');
    assert.deepEqual(codeActionsFor(inputFor(doc, finding)).map((a) => a.title), [PY_TITLES.operatorMap]);
    assert.equal(fixAllActions([inputFor(doc, finding)]), undefined, 'fix-all leaves accepted findings alone');
  });
});

// ---- exact output of the main rewrites --------------------------------------------------------------------

async function rewritten(doc: Doc, at: string, title: string, encoding: PositionEncoding = 'utf-16'): Promise<string> {
  const input = inputFor(doc, await findingAt(doc, at), { encoding });
  const action = codeActionsFor(input).find((a) => a.title === title);
  assert.ok(action, `${title} is offered`);
  return applyEdits(doc.text, documentEdits(action, doc.uri), input.converter);
}

const PY_MAP = '{"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv, "%": operator.mod}';

describe('rewrite output', () => {
  it('Python operator map: `import operator` after the last import of the header, the map at the call', async () => {
    const out = await rewritten(fixture('fixtures/codeactions/operator_tools.py'), 'eval(f"{a} {op}', PY_TITLES.operatorMap);
    assert.ok(out.includes('import numpy as np\nimport torch\nimport operator\n\n\ndef apply_operator('));
    assert.ok(out.includes(`    return ${PY_MAP}[op](a, b)\n`));
  });

  it('Python operator map without imports: the import goes after the shebang and leading comments', async () => {
    const out = await rewritten(fixture('fixtures/codeactions/repl_no_imports.py'), 'eval(', PY_TITLES.operatorMap);
    assert.equal(out, `#!/usr/bin/env python3\n# A one-line calculator for the shell: \`echo "3 * 4" | calc\`.\nimport operator\na, op, b = input().split()\nprint(${PY_MAP}[op](a, b))\n`);
  });

  it('Python operator map when a parameter is called `operator`: the module is imported under an alias', async () => {
    const out = await rewritten(fixture('fixtures/codeactions/operator_named_operator.py'), 'eval(', PY_TITLES.operatorMap);
    assert.ok(out.includes('\nimport operator as _operator\ndef combine('));
    assert.ok(out.includes(`return ${PY_MAP.replace(/operator\./g, '_operator.')}[operator](left, right)`));
  });

  it('Python module functions: the module and the call arguments come from the template', async () => {
    const out = await rewritten(fixture('fixtures/codeactions/operator_tools.py'), 'eval(f"torch.', PY_TITLES.moduleMap('torch', ['sum', 'mean', 'max', 'min', 'prod']));
    assert.ok(out.includes('return {"sum": torch.sum, "mean": torch.mean, "max": torch.max, "min": torch.min, "prod": torch.prod}[op](x, dim=1)'));
  });

  it('Python module functions are not offered when the template names a module the file does not import', async () => {
    const doc = inline('src/r.py', 'def r(op, x):\n    return eval(f"torch.{op}(x)")\n');
    const titles = codeActionsFor(inputFor(doc, await findingAt(doc, 'eval('))).map((a) => a.title);
    assert.deepEqual(titles, [PY_TITLES.arithmetic, allow('JIT-EVAL-COMPILE'), policyCreate('JIT-EVAL-COMPILE')]);
  });

  it('Python arithmetic: one helper, parsed with ast and never executed, and it evaluates what the title promises', async () => {
    const doc = fixture('fixtures/codeactions/operator_tools.py');
    const out = await rewritten(doc, 'eval(expression,', PY_TITLES.arithmetic);
    assert.ok(out.includes('import torch\nimport ast\nimport operator\n\n\ndef _sentinel_eval_arithmetic(expression):\n'));
    assert.ok(out.includes('    return str(_sentinel_eval_arithmetic(expression))\n'));
    assert.ok(out.includes('    return value(ast.parse(expression, mode="eval").body)\n\n\ndef apply_operator('));
    assert.equal(out.match(/def _sentinel_eval_arithmetic/g)?.length, 1);
  });

  it('Python literal data: ast.literal_eval with `import ast` added once', async () => {
    const out = await rewritten(fixture('fixtures/codeactions/operator_tools.py'), 'eval(text)', PY_TITLES.literal);
    assert.ok(out.includes('import torch\nimport ast\n\n\ndef apply_operator('));
    assert.ok(out.includes('    return ast.literal_eval(text)\n'));
  });

  it('Python kernel: an allowlist table of precompiled kernels and a guard that raises', async () => {
    const out = await rewritten(fixture('fixtures/demo/src/kernels/fused.py'), 'cp.RawKernel(src', PY_TITLES.kernel('cfg["activation"]'));
    assert.ok(out.includes('    return _sentinel_fused_act_kernel(cfg["activation"])\n'));
    assert.ok(out.includes('_SENTINEL_FUSED_ACT_KERNELS = {\n    # "<variant>": cp.RawKernel(<constant source>, "fused_act"),\n}\n'));
    assert.ok(out.includes('        raise ValueError(f"kernel variant {key!r} is not allowlisted (allowed: {allowed})") from None\n'));
    // The constant kernel that was already fine keeps its own call.
    assert.ok(out.includes('return cp.RawKernel(BIAS_ADD_SRC, "bias_add")'));
  });

  it('CUDA C++: NVRTC calls go through an allowlist function, with the includes it needs', async () => {
    const out = await rewritten(fixture('fixtures/rules/JIT-DYNAMIC-KERNEL/nvrtc_activation.cu'), 'nvrtcCreateProgram(&prog, src.c_str(), "act.cu"', CUDA_TITLES.kernel('activation'));
    assert.ok(out.includes('#include <string>\n#include <stdexcept>\n\n// Sentinel (JIT-DYNAMIC-KERNEL)'));
    assert.ok(out.includes('NVRTC_SAFE_CALL(sentinelCreateProgram(&prog, activation, "act.cu", 0, nullptr, nullptr));'));
    assert.ok(out.includes('static inline nvrtcResult sentinelCreateProgram(nvrtcProgram* prog, const char* key,'));
  });

  it('JavaScript Function(): one helper that throws on unknown operators, returned where Function() was built', async () => {
    const out = await rewritten(fixture('fixtures/codeactions/formula-ops.cjs'), "new Function('a'", JS_TITLES.operatorFunction);
    assert.ok(out.includes("const vm = require('vm');\n\n// Sentinel (JIT-EVAL-COMPILE): an explicit operator map instead of compiled code; unknown operators throw.\nfunction sentinelBinaryOperation(operator) {\n"));
    assert.ok(out.includes("    '**': (a, b) => a ** b,\n"));
    assert.ok(out.includes('  return sentinelBinaryOperation(op);\n'));
  });

  it('TypeScript eval(): a typed helper, and operands read as numbers as eval() read them', async () => {
    const out = await rewritten(fixture('fixtures/codeactions/formula-ops.ts'), 'eval(`', JS_TITLES.operatorEval);
    assert.ok(out.includes('function sentinelBinaryOperation(operator: unknown): (a: number, b: number) => number {\n  const operations: Record<string, (a: number, b: number) => number> = {\n'));
    assert.ok(out.includes('  return sentinelBinaryOperation(op)(Number(left), Number(right));\n'));
  });

  it('the JavaScript helper computes what Function() and eval() computed, and throws for anything else', async () => {
    const out = await rewritten(fixture('fixtures/codeactions/formula-ops.cjs'), "new Function('a'", JS_TITLES.operatorFunction);
    const helper = /\/\/ Sentinel \(JIT-EVAL-COMPILE\)[\s\S]*?\n\}\n/.exec(out)![0];
    const context = vm.createContext({});
    vm.runInContext(helper, context);
    const run = (code: string, vars: Record<string, unknown>): unknown => vm.runInContext(`((${Object.keys(vars).join(', ')}) => ${code})(...vars)`, Object.assign(context, { vars: Object.values(vars) }));
    for (const op of ['+', '-', '*', '/', '%', '**']) {
      for (const [x, y] of [[7, 2], [-3, 4], [0.5, 3], ['7', '2']] as [unknown, unknown][]) {
        const built = run("new Function('a', 'b', 'return a ' + op + ' b')(x, y)", { op, x, y });
        assert.deepEqual(run('sentinelBinaryOperation(op)(x, y)', { op, x, y }), built, `Function() shape, ${JSON.stringify([x, op, y])}`);
        if (typeof x === 'number' && x < 0 && op === '**') continue; // eval("-3 ** 4") is a SyntaxError
        const evaluated = run('eval(`${x} ${op} ${y}`)', { op, x, y });
        assert.deepEqual(run('sentinelBinaryOperation(op)(Number(x), Number(y))', { op, x, y }), evaluated, `eval() shape, ${JSON.stringify([x, op, y])}`);
      }
    }
    for (const bad of ['&&', 'constructor', '__proto__', 'toString', '+ b; process.exit(); a', 1, undefined]) {
      assert.throws(() => run('sentinelBinaryOperation(op)', { op: bad }), /is not allowed \(allowed: \+ - \* \/ % \*\*\)/);
    }
  });

  it('the Python helpers behave as their titles say (when python3 is installed)', async function () {
    if (spawnSync('python3', ['--version']).status !== 0) this.skip();
    const doc = fixture('fixtures/codeactions/operator_tools.py');
    const arithmetic = await rewritten(doc, 'eval(expression,', PY_TITLES.arithmetic);
    const helper = /def _sentinel_eval_arithmetic[\s\S]*?\n    return value\(.*\n/.exec(arithmetic)![0];
    const script = [
      'import ast',
      'import operator',
      helper,
      'for text in ["1 + 2 * 3", "-2 ** 2", "7 // 2", "(1 + 2j) * 3", "2 ** 0.5", "10 % 4"]:',
      '    assert _sentinel_eval_arithmetic(text) == eval(text), text',
      'for text in ["__import__(\'os\')", "x", "[1, 2]", "2 ** 99999", "1 if 1 else 2", "\'a\' * 3"]:',
      '    try:',
      '        _sentinel_eval_arithmetic(text)',
      '    except ValueError:',
      '        continue',
      '    raise AssertionError(text)',
      `ops = ${PY_MAP}`,
      'for a in (7, -3, 0.5, 10**20):',
      '    for b in (2, -4, 0.25):',
      '        for op in ops:',
      '            if op == "**" and a < 0:',
      '                continue  # eval("-3 ** 2") is -(3 ** 2): see the report on `**`',
      '            assert ops[op](a, b) == eval(f"{a} {op} {b}"), (a, op, b)',
      'print("ok")',
    ].join('\n');
    const result = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
    assert.equal(result.stderr, '');
    assert.equal(result.stdout.trim(), 'ok');
  });

  it('JavaScript cache: Node modules the file already binds are reused, missing ones imported in its module style', async () => {
    const ts = await rewritten(fixture('fixtures/rules/JIT-CACHE-POISONING/worker-env.ts'), 'process.env.TRITON_CACHE_DIR', JS_TITLES.cache('triton'));
    assert.ok(ts.includes("import { spawn } from 'node:child_process';\nimport * as fs from 'node:fs';\n"));
    assert.ok(ts.includes("  const dir = path.join(os.homedir(), '.cache', name);\n  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });\n  fs.chmodSync(dir, 0o700);\n"));
    assert.ok(ts.includes("process.env.TRITON_CACHE_DIR = sentinelPrivateCacheDir('triton');"));
    const cjs = await rewritten(fixture('fixtures/codeactions/launcher.cjs'), 'process.env.TRITON_CACHE_DIR', JS_TITLES.cache('triton'));
    assert.ok(cjs.includes("'use strict';\nconst os = require('node:os');\nconst path = require('node:path');\nconst fs = require('node:fs');\n"));
  });

  it('Python cache: a helper that creates ~/.cache/<name> with mode 0700', async () => {
    const out = await rewritten(fixture('fixtures/rules/JIT-CACHE-POISONING/cache_setup.py'), 'os.environ["TRITON_CACHE_DIR"]', PY_TITLES.cache('triton'));
    assert.ok(out.includes('os.environ["TRITON_CACHE_DIR"] = _sentinel_private_cache_dir("triton")\n'));
    assert.ok(out.includes('    os.makedirs(path, mode=0o700, exist_ok=True)\n    os.chmod(path, 0o700)\n'));
  });

  it('configuration formats keep their quoting valid', async () => {
    const sh = await rewritten(fixture('fixtures/rules/JIT-CACHE-POISONING/run_training.sh'), 'export NUMBA_CACHE_DIR', CONFIG_TITLES.shell('numba'));
    assert.ok(sh.includes('export NUMBA_CACHE_DIR="$HOME/.cache/numba"\n'));
    const env = await rewritten(fixture('fixtures/rules/JIT-CACHE-POISONING/inference-image/.env'), 'TORCHINDUCTOR_CACHE_DIR=', CONFIG_TITLES.dotenv('torchinductor'));
    assert.ok(env.includes('TORCHINDUCTOR_CACHE_DIR="${HOME}/.cache/torchinductor"\n'));
    const docker = await rewritten(fixture('fixtures/codeactions/Dockerfile'), 'ENV TRITON_CACHE_DIR', CONFIG_TITLES.dockerfile('/root/.cache/triton', 'no USER in this stage, so it runs as root'));
    assert.ok(docker.includes('ENV TRITON_CACHE_DIR="/root/.cache/triton"\n'));
    const compose = await rewritten(fixture('fixtures/rules/JIT-CACHE-POISONING/docker-compose.yml'), '"NUMBA_CACHE_DIR=', CONFIG_TITLES.yaml('/home/app/.cache/numba'));
    assert.ok(compose.includes('      - "NUMBA_CACHE_DIR=/home/app/.cache/numba"\n'));
    const k8s = await rewritten(fixture('fixtures/rules/JIT-CACHE-POISONING/k8s-deployment.yaml'), 'name: CUDA_CACHE_PATH', CONFIG_TITLES.yaml('/home/app/.cache/nv'));
    assert.ok(k8s.includes('            - name: CUDA_CACHE_PATH\n              value: "/home/app/.cache/nv"\n'));
    const actions = await rewritten(fixture('fixtures/rules/JIT-CACHE-POISONING/github-workflow-gpu-ci.yml'), 'NUMBA_CACHE_DIR: /dev/shm', CONFIG_TITLES.actions('${{ runner.temp }}/numba'));
    assert.ok(actions.includes('          NUMBA_CACHE_DIR: "${{ runner.temp }}/numba"\n'));
  });

  it('Kubernetes: the sibling `value:` is found when it comes before `name:`', async () => {
    const doc = inline('deploy/k8s.yaml', 'spec:\n  containers:\n    - name: server\n      env:\n        - value: /tmp/triton\n          name: TRITON_CACHE_DIR\n');
    const out = await rewritten(doc, 'name: TRITON_CACHE_DIR', CONFIG_TITLES.yaml('/home/app/.cache/triton'));
    assert.equal(out, 'spec:\n  containers:\n    - name: server\n      env:\n        - value: /home/app/.cache/triton\n          name: TRITON_CACHE_DIR\n');
  });
});

// ---- position encodings -----------------------------------------------------------------------------------

describe('position encodings', () => {
  for (const [file, at, title] of [
    ['fixtures/codeactions/unicode_ops.py', 'eval(f"{a}', PY_TITLES.operatorMap],
    ['fixtures/codeactions/unicode_ops.py', 'eval(text)', PY_TITLES.literal],
    ['fixtures/codeactions/unicode-ops.ts', 'eval(`', JS_TITLES.operatorEval],
  ] as const) {
    it(`UTF-8 ranges after emoji and CJK text on the line give the same result as UTF-16: ${path.basename(file)} \`${at}\``, async () => {
      const doc = fixture(file);
      const finding = await findingAt(doc, at);
      const utf8 = inputFor(doc, finding, { encoding: 'utf-8' });
      const utf16 = inputFor(doc, finding, { encoding: 'utf-16' });
      const a8 = codeActionsFor(utf8);
      const a16 = codeActionsFor(utf16);
      assert.deepEqual(a8.map((a) => a.title), a16.map((a) => a.title));
      const rewrite8 = a8.find((a) => a.title === title)!;
      const rewrite16 = a16.find((a) => a.title === title)!;
      const call8 = documentEdits(rewrite8, doc.uri).find((e) => e.range.start.line === finding.evidence.startLine - 1)!;
      const call16 = documentEdits(rewrite16, doc.uri).find((e) => e.range.start.line === finding.evidence.startLine - 1)!;
      assert.ok(call8.range.start.character > call16.range.start.character, 'UTF-8 counts more units before the sink than UTF-16');
      const out8 = await assertRewriteFixes(doc, finding, rewrite8, utf8);
      assert.equal(out8, applyEdits(doc.text, documentEdits(rewrite16, doc.uri), utf16.converter));
      const allow8 = a8.find((a) => a.title === allow(finding.ruleId))!;
      await assertAllowSuppresses(doc, finding, allow8, utf8);
    });
  }
});

// ---- source.fixAll ----------------------------------------------------------------------------------------

async function inputsFor(doc: Doc): Promise<CodeActionInput[]> {
  return (await findingsOf(doc)).map((f) => inputFor(doc, f));
}

describe('fixAllActions', () => {
  it('Python: applies only the safe rewrites, with one shared import, and leaves the unsafe findings', async () => {
    const doc = fixture('fixtures/codeactions/operator_tools.py');
    const inputs = await inputsFor(doc);
    const action = fixAllActions(inputs);
    assert.ok(action);
    assert.equal(action.kind, FIX_ALL_KIND);
    assert.equal(action.kind, 'source.fixAll.sentinel');
    assert.equal(action.title, ACTION_TITLES.fixAll);
    assert.equal(action.isPreferred, undefined);
    assert.equal(action.diagnostics?.length, 3);
    const out = applyEdits(doc.text, documentEdits(action, doc.uri), inputs[0].converter);
    await assertParses('python', out, 'fix-all result');
    assert.equal(out.match(/^import operator$/gm)?.length, 1);
    const left = (await analyzeDocument(doc.rel, out, 'python')).findings.map((f) => f.evidence.snippet);
    assert.deepEqual(left, [
      'eval(expression, {"__builtins__": {}}, vars(math))',
      'eval(text)',
      'eval(f"{value} * ({factor_expr})")',
      'exec(code, {})',
    ]);
    assert.equal(fixAllActions(await inputsFor({ ...doc, text: out })), undefined, 'nothing safe is left to fix');
  });

  it('JavaScript: one helper for the Function() shapes; eval of text, JSON.parse and vm stay explicit', async () => {
    const doc = fixture('fixtures/codeactions/formula-ops.cjs');
    const inputs = await inputsFor(doc);
    const action = fixAllActions(inputs)!;
    // eval(`${a} ${op} ${b}`) re-reads its operands as text, which Number() does not match for every input.
    assert.equal(action.diagnostics?.length, 2);
    const out = applyEdits(doc.text, documentEdits(action, doc.uri), inputs[0].converter);
    await assertParses('javascript', out, 'fix-all result');
    assert.equal(out.match(/function sentinelBinaryOperation/g)?.length, 1);
    const left = (await analyzeDocument(doc.rel, out, 'javascript')).findings.map((f) => f.evidence.snippet);
    assert.deepEqual(left, ['eval(`${left} ${op} ${right}`)', "eval(left + ' ' + op + ' ' + right)", 'eval(req.body.value)', 'vm.runInNewContext(req.body.code, {})']);
  });

  it('offers nothing when no finding has a safe rewrite (caches, kernels, operands that may be text)', async () => {
    for (const file of ['fixtures/rules/JIT-CACHE-POISONING/cache_setup.py', 'fixtures/rules/JIT-DYNAMIC-KERNEL/nvrtc_activation.cu', 'fixtures/codeactions/repl_no_imports.py', 'fixtures/codeactions/operator_named_operator.py']) {
      assert.equal(fixAllActions(await inputsFor(fixture(file))), undefined, file);
    }
    assert.equal(fixAllActions([]), undefined);
  });

  it('Python operator maps are safe only where both operands are declared numeric', async () => {
    const typed = inline('src/ops.py', 'def f(a: float, op: str, b: int | float):\n    return eval(f"{a} {op} {b}")\n');
    assert.ok(fixAllActions(await inputsFor(typed)));
    const untyped = inline('src/ops.py', 'def f(a, op, b: float):\n    return eval(f"{a} {op} {b}")\n');
    assert.equal(fixAllActions(await inputsFor(untyped)), undefined);
  });

  it('groups edits per document', async () => {
    const a = fixture('fixtures/codeactions/formula-ops.cjs');
    const b = fixture('fixtures/codeactions/formula-ops.ts');
    const action = fixAllActions([...(await inputsFor(a)), ...(await inputsFor(b))])!;
    assert.deepEqual(Object.keys(action.edit?.changes ?? {}).sort(), [a.uri, b.uri].sort());
  });
});

// ---- inline allow comments: placement ---------------------------------------------------------------------

describe('allow comment placement', () => {
  async function allowed(doc: Doc, at: string): Promise<string | undefined> {
    const finding = await findingAt(doc, at);
    const input = inputFor(doc, finding);
    const action = codeActionsFor(input).find((a) => a.title === allow(finding.ruleId));
    if (!action) return undefined;
    return assertAllowSuppresses(doc, finding, action, input);
  }

  it('goes on its own line above, with the line’s indentation and the file’s comment syntax', async () => {
    assert.equal(
      await allowed(inline('src/a.py', 'def f(x):\n    return eval(x)\n'), 'eval('),
      'def f(x):\n    # sentinel: allow JIT-EVAL-COMPILE -- <reason: why this is safe>\n    return eval(x)\n',
    );
    assert.equal(
      await allowed(inline('src/a.js', 'function f(x) {\n\treturn eval(x);\n}\n'), 'eval('),
      'function f(x) {\n\t// sentinel: allow JIT-EVAL-COMPILE -- <reason: why this is safe>\n\treturn eval(x);\n}\n',
    );
  });

  it('keeps CRLF line breaks', async () => {
    assert.equal(
      await allowed(inline('src/a.py', 'import os\r\nos.environ["TRITON_CACHE_DIR"] = "/tmp/triton"\r\n'), 'os.environ'),
      'import os\r\n# sentinel: allow JIT-CACHE-POISONING -- <reason: why this is safe>\r\nos.environ["TRITON_CACHE_DIR"] = "/tmp/triton"\r\n',
    );
  });

  it('joins an allow comment already above the line instead of pushing it away', async () => {
    const doc = inline('src/a.py', 'import os\n# sentinel: allow JIT-CACHE-POISONING -- dev container only\nos.environ["TRITON_CACHE_DIR"] = "/tmp/triton"; value = eval(expr)\n');
    const out = await allowed(doc, 'eval(');
    assert.equal(out, 'import os\n# sentinel: allow JIT-CACHE-POISONING, JIT-EVAL-COMPILE -- dev container only; JIT-EVAL-COMPILE: <reason: why this is safe>\nos.environ["TRITON_CACHE_DIR"] = "/tmp/triton"; value = eval(expr)\n');
    const findings = (await analyzeDocument(doc.rel, out!, 'python')).findings;
    assert.deepEqual(findings.map((f) => [f.ruleId, f.decision]), [['JIT-CACHE-POISONING', 'suppressed'], ['JIT-EVAL-COMPILE', 'suppressed']]);
  });

  it('completes an allow comment above that lacks a reason', async () => {
    assert.equal(
      await allowed(inline('src/a.py', 'def f(x):\n    # sentinel: allow JIT-EVAL-COMPILE\n    return eval(x)\n'), 'eval('),
      'def f(x):\n    # sentinel: allow JIT-EVAL-COMPILE -- <reason: why this is safe>\n    return eval(x)\n',
    );
  });

  it('after a backslash continuation, stays on the finding’s line (Python, shell) or goes inline (C++, JS)', async () => {
    assert.equal(
      await allowed(inline('src/a.py', 'def f(x):\n    total = 1 + \\\n        eval(x)\n    return total\n'), 'eval('),
      'def f(x):\n    total = 1 + \\\n        eval(x)  # sentinel: allow JIT-EVAL-COMPILE -- <reason: why this is safe>\n    return total\n',
    );
    assert.equal(
      await allowed(inline('run.sh', 'TRITON_CACHE_DIR=/tmp/triton \\\n  NUMBA_CACHE_DIR=/tmp/numba python train.py\n'), 'NUMBA_CACHE_DIR'),
      'TRITON_CACHE_DIR=/tmp/triton \\\n  NUMBA_CACHE_DIR=/tmp/numba python train.py  # sentinel: allow JIT-CACHE-POISONING -- <reason: why this is safe>\n',
    );
    // A finding in the middle of a continued command has no place for a comment: only the policy entry.
    const middle = inline('run.sh', 'TRITON_CACHE_DIR=/tmp/triton \\\n  NUMBA_CACHE_DIR=/tmp/numba \\\n  python train.py\n');
    assert.equal(await allowed(middle, 'NUMBA_CACHE_DIR'), undefined);
    // Dockerfile RUN lines are shell after the joins: the same rules hold.
    const docker = inline('Dockerfile', 'FROM python:3.12\nRUN pip install torch && \\\n    export TRITON_CACHE_DIR=/tmp/t && \\\n    python train.py\nRUN pip install numba && \\\n    NUMBA_CACHE_DIR=/tmp/numba python warm.py\n');
    assert.equal(await allowed(docker, 'TRITON_CACHE_DIR'), undefined);
    assert.equal(
      await allowed(docker, 'NUMBA_CACHE_DIR'),
      docker.text.replace('python warm.py\n', 'python warm.py  # sentinel: allow JIT-CACHE-POISONING -- <reason: why this is safe>\n'),
    );
  });

  it('inside a multi-line template literal, uses a block comment before the sink', async () => {
    const doc = inline('src/view.js', 'export function view(expr) {\n  return `\n    <b>${eval(expr)}</b>\n  `;\n}\n');
    assert.equal(
      await allowed(doc, 'eval('),
      'export function view(expr) {\n  return `\n    <b>${/* sentinel: allow JIT-EVAL-COMPILE -- <reason: why this is safe> */ eval(expr)}</b>\n  `;\n}\n',
    );
  });

  it('YAML: above a list item, without changing the document', async () => {
    const doc = fixture('fixtures/rules/JIT-CACHE-POISONING/k8s-deployment.yaml');
    const out = await allowed(doc, 'name: TRITON_CACHE_DIR');
    assert.ok(out!.includes('            # sentinel: allow JIT-CACHE-POISONING -- <reason: why this is safe>\n            - name: TRITON_CACHE_DIR\n'));
  });
});

// ---- policy allowlist entries -----------------------------------------------------------------------------

describe('policy allowlist action', () => {
  async function policyFor(text: string | undefined, relativePath?: string): Promise<{ action?: CodeAction; doc: Doc; finding: Finding; place: PolicyPlace }> {
    const doc = fixture('fixtures/codeactions/operator_tools.py');
    const finding = await findingAt(doc, 'eval(text)');
    const place: PolicyPlace = { exists: text !== undefined, text, relativePath };
    const action = codeActionsFor(inputFor(doc, finding, { policy: place })).find((a) => a.title.startsWith(`Add ${finding.ruleId} to policy allowlist`));
    return { action, doc, finding, place };
  }

  it('creates the policy from the spec template, with the entry under its allowlist key', async () => {
    const { action, doc, finding, place } = await policyFor(undefined);
    assert.equal(action!.title, 'Add JIT-EVAL-COMPILE to policy allowlist… (creates sentinel-policy.yml)');
    const text = await assertPolicySuppresses(doc, finding, action!, place);
    assert.ok(text.startsWith(policyTemplate().split('allowlist:')[0]));
    assert.ok(
      text.includes(
        `allowlist:\n  - rule: JIT-EVAL-COMPILE\n    path: "fixtures/codeactions/operator_tools.py"\n    fingerprint: "${finding.fingerprint}"\n    reason: "<reason: why this is accepted>"\n#  - rule: JIT-EVAL-COMPILE\n`,
      ),
    );
  });

  it('appends to an existing block list with its indentation, keeping everything else', async () => {
    const existing = fs.readFileSync(path.join(REPO, 'fixtures/policy/allowlist/sentinel-policy.yml'), 'utf8');
    const { action, doc, finding, place } = await policyFor(existing);
    assert.equal(action!.title, 'Add JIT-EVAL-COMPILE to policy allowlist… (sentinel-policy.yml)');
    const text = await assertPolicySuppresses(doc, finding, action!, place);
    assert.equal(
      text,
      `${existing}  - rule: JIT-EVAL-COMPILE\n    path: "fixtures/codeactions/operator_tools.py"\n    fingerprint: "${finding.fingerprint}"\n    reason: "<reason: why this is accepted>"\n`,
    );
  });

  const shapes: [string, string][] = [
    ['the spec policy (no allowlist key)', fs.readFileSync(path.join(REPO, 'fixtures/policy/spec/sentinel-policy.yml'), 'utf8')],
    ['per-rule overrides (no allowlist key)', fs.readFileSync(path.join(REPO, 'fixtures/policy/overrides/sentinel-policy.yml'), 'utf8')],
    ['an empty flow list', 'category: JIT\nallowlist: []  # nothing accepted yet\nfail_on: [HIGH]\n'],
    ['a null allowlist followed by another key', 'allowlist:\nretest: "sentinel sast ./src/ --rule JIT"\n'],
    ['a list written at column 0', 'allowlist:\n- rule: JIT-CACHE-POISONING\n  path: "deploy/**"\n  reason: "dev only"\nfail_on: [HIGH]\n'],
    ['a flow list with an entry', 'allowlist: [{ rule: JIT, path: "vendor/**", reason: "vendored" }]\n'],
    ['a multi-line flow list with a trailing comma and a comment', 'allowlist: [\n  { rule: JIT, path: "vendor/**", reason: "vendored ]" },  # reviewed\n  ]\n'],
    ['CRLF line breaks and a list in the middle', 'category: JIT\r\nallowlist:\r\n    -   rule: JIT\r\n        path: "a/**"\r\n        reason: "r"\r\nretest: "x"\r\n'],
    ['no newline at the end', 'category: JIT'],
    ['a list whose last line has no newline', 'allowlist:\n  - rule: JIT\n    path: "a/**"\n    reason: "r"'],
  ];
  for (const [name, text] of shapes) {
    it(`edits ${name} so that it still loads and suppresses the finding`, async () => {
      const { action, doc, finding, place } = await policyFor(text);
      assert.ok(action, 'the action is offered');
      const out = await assertPolicySuppresses(doc, finding, action, place);
      assert.ok(out.startsWith(text.split('allowlist')[0]), 'text before the allowlist is unchanged');
    });
  }

  it('CRLF policies get CRLF lines', async () => {
    const { action, place } = await policyFor('category: JIT\r\nallowlist:\r\n  - rule: JIT\r\n    path: "a/**"\r\n    reason: "r"\r\n');
    assert.doesNotMatch(policyTextAfter(action!, place), /[^\r]\n/);
  });

  it('turns glob characters in the file name into `?`, so the entry still matches the file', async () => {
    const { action, doc, finding, place } = await policyFor('category: JIT\n', 'app/[id]/page (copy).py');
    const text = await assertPolicySuppresses(doc, finding, action!, place);
    assert.ok(text.includes('    path: "app/?id?/page ?copy?.py"\n'));
  });

  it('is not offered when the policy cannot be edited safely or the file lies outside its folder', async () => {
    assert.equal((await policyFor('allowlist: [\n')).action, undefined, 'broken YAML');
    assert.equal((await policyFor('allowlist: *list\n')).action, undefined, 'an alias');
    assert.equal((await policyFor('category: JIT\n', '../elsewhere/tool.py')).action, undefined, 'outside the policy folder');
    assert.equal((await policyFor('category: JIT\n', '')).action, undefined, 'an unsaved document');
    const doc = fixture('fixtures/codeactions/operator_tools.py');
    const finding = await findingAt(doc, 'eval(text)');
    const unreadable = inputFor(doc, finding, { policy: { exists: true } });
    assert.deepEqual(codeActionsFor(unreadable).map((a) => a.title), [PY_TITLES.literal, PY_TITLES.arithmetic, allow('JIT-EVAL-COMPILE')]);
  });
});

// ---- nothing that would not parse -------------------------------------------------------------------------

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('every action on every fixture', () => {
  for (const root of ['fixtures/rules', 'fixtures/demo', 'fixtures/codeactions']) {
    it(`${root}: every offered edit parses, every rewrite removes its finding, every policy edit loads`, async () => {
      let checked = 0;
      for (const abs of filesUnder(path.join(REPO, root)).sort()) {
        const rel = path.relative(REPO, abs).split(path.sep).join('/');
        const text = fs.readFileSync(abs, 'utf8');
        const lang = detectLanguage(abs, text);
        if (!lang) continue;
        const doc: Doc = { rel, uri: `file://${abs}`, text, lang };
        if (hasGrammar(lang) && lang !== 'notebook') {
          const tree = await parseText(lang, text);
          const broken = tree.rootNode.hasError;
          tree.delete();
          if (broken) continue;
        }
        const findings = await findingsOf(doc);
        for (const finding of findings) {
          const input = inputFor(doc, finding);
          for (const action of codeActionsFor(input)) {
            checked++;
            assert.equal(action.kind, 'quickfix');
            if (action.title.startsWith('Add ')) {
              await assertPolicySuppresses(doc, finding, action, { exists: false });
            } else if (action.title === allow(finding.ruleId)) {
              await assertAllowSuppresses(doc, finding, action, input);
            } else {
              await assertRewriteFixes(doc, finding, action, input);
            }
          }
        }
        const all = fixAllActions(findings.map((f) => inputFor(doc, f)));
        if (all) {
          const out = applyEdits(text, documentEdits(all, doc.uri), new PositionConverter(text, 'utf-16'));
          await assertParses(lang, out, `fix-all on ${rel}`);
        }
      }
      assert.ok(checked > 0);
    });
  }
});
