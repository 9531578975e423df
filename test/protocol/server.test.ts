// Protocol-level tests: spawn `sentinel lsp --stdio` (the built bundle) and speak JSON-RPC over stdio, as an
// editor does. Positions are found by searching the text.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic, Hover } from 'vscode-languageserver-protocol';
import { POLICY_STATUS_NOTIFICATION, type PolicyStatus } from '../../shared/src/protocol';
import { makeWorkspace, removeWorkspace } from '../helpers/workspace';
import { positionOf, TestClient } from '../helpers/lspClient';

const CALC = 'import math\n\n\ndef calculator(expression):\n    """LLM tool: evaluate a formula."""\n    return eval(expression)\n';
const KERNEL = 'import cupy as cp\nimport json\n\ncfg = json.loads(open("k.json").read())\nsrc = f"__global__ void k(float* x) {{ x[0] = {cfg[\'op\']}; }}"\nkernel = cp.RawKernel(src, "k")\n';

/** Diagnostic messages may be Markdown in LSP 3.18; Sentinel sends plain strings. */
function messageOf(d: Pick<Diagnostic, 'message'>): string {
  return typeof d.message === 'string' ? d.message : d.message.value;
}

function uriOf(root: string, rel: string): string {
  return pathToFileURL(path.join(root, rel)).toString();
}

describe('language server over stdio', function () {
  this.timeout(30000);
  let root: string;
  let client: TestClient;

  beforeEach(() => {
    root = makeWorkspace({
      'src/calc.py': CALC,
      'src/kernels.py': KERNEL,
      'deploy/.env': 'TRITON_CACHE_DIR=/tmp/triton\n',
      'src/clean.py': 'import re\n\ndef f(model, p):\n    model.eval()\n    return re.compile(p)\n',
    });
  });

  afterEach(async () => {
    await client?.shutdown();
    removeWorkspace(root);
  });

  async function start(options: Partial<ConstructorParameters<typeof TestClient>[0]> = {}): Promise<TestClient> {
    client = new TestClient({ rootPath: root, ...options });
    await client.initialize();
    return client;
  }

  it('announces incremental sync, hover, code actions, commands and UTF-16 by default', async () => {
    const c = await start();
    const caps = c.initializeResult!.capabilities;
    assert.equal(caps.positionEncoding, 'utf-16');
    assert.deepEqual(caps.textDocumentSync, { openClose: true, change: 2 });
    assert.equal(caps.hoverProvider, true);
    assert.deepEqual((caps.codeActionProvider as { codeActionKinds: string[] }).codeActionKinds, ['quickfix', 'source.fixAll.sentinel']);
    assert.deepEqual(caps.executeCommandProvider?.commands, ['sentinel.scanWorkspace', 'sentinel.retest', 'sentinel.showRule']);
    assert.equal(c.initializeResult!.serverInfo?.name, 'sentinel');
  });

  it('negotiates UTF-8 when the client offers it and counts columns in bytes', async () => {
    const c = await start({ positionEncodings: ['utf-8', 'utf-16'] });
    assert.equal(c.initializeResult!.capabilities.positionEncoding, 'utf-8');
    const uri = uriOf(root, 'src/u.py');
    const text = 'def f(x):\n    s = "😀中文"; eval(x)\n';
    await c.open(uri, 'python', text);
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length === 1);
    // 4 spaces + `s = "` (5 bytes) + emoji (4 bytes) + 2 CJK (6 bytes) + `"; ` (3 bytes) = 22.
    assert.deepEqual(d.range.start, { line: 1, character: 22 });
  });

  it('publishes a diagnostic with code, link, severity, message, source and data on open', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/calc.py');
    await c.open(uri, 'python', CALC);
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length > 0);
    assert.equal(d.code, 'JIT-EVAL-COMPILE');
    assert.equal(d.source, 'sentinel');
    assert.equal(d.severity, 1);
    assert.match(d.codeDescription!.href, /JIT-EVAL-COMPILE\.md$/);
    assert.deepEqual(d.range.start, positionOf(CALC, 'eval(expression)'));
    assert.deepEqual(d.range.end, positionOf(CALC, 'eval(expression)', 'after'));
    assert.match(messageOf(d), /^Dynamic eval or compile: .*parameter of `calculator\(\)`.*Do not compile user-controlled strings\.$/);
    const data = d.data as { fingerprint: string; ruleId: string; suppressed: boolean; fix: { kind: string } };
    assert.equal(data.ruleId, 'JIT-EVAL-COMPILE');
    assert.match(data.fingerprint, /^[0-9a-f]{32}$/);
    assert.equal(data.suppressed, false);
    assert.equal(data.fix.kind, 'operator-map');
  });

  it('lists the source-to-sink trace as related information', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/kernels.py');
    await c.open(uri, 'python', KERNEL);
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length > 0);
    assert.equal(d.code, 'JIT-DYNAMIC-KERNEL');
    const related = d.relatedInformation!;
    assert.equal(related.length, 4);
    assert.match(related[0].message, /^source: decoded JSON data/);
    assert.deepEqual(related[0].location.range.start, positionOf(KERNEL, 'json.loads('));
    assert.match(related[3].message, /^sink: reaches `cupy.RawKernel\(\)`/);
  });

  it('follows incremental edits that break and repair the syntax, and never publishes an old version', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/calc.py');
    await c.open(uri, 'python', CALC);
    await c.diagnosticsFor(uri, (ds) => ds.length === 1);
    // Replace `eval(expression)` with `float(expression)` in two keystroke-like edits.
    const at = positionOf(CALC, 'eval(');
    await c.change(uri, 2, [{ range: { start: at, end: { line: at.line, character: at.character + 4 } }, text: 'flo' }]);
    await c.change(uri, 3, [{ range: { start: { line: at.line, character: at.character + 3 }, end: { line: at.line, character: at.character + 3 } }, text: 'at' }]);
    const ds = await c.diagnosticsFor(uri, (_d, v) => v === 3, 'diagnostics for version 3');
    assert.deepEqual(ds, []);
    // Break the syntax (unclosed call), then bring the sink back.
    const broken = positionOf(CALC, 'eval(expression)');
    await c.change(uri, 4, [{ range: { start: broken, end: { line: broken.line, character: broken.character + 'float(expression)'.length } }, text: 'exec(expression' }]);
    await c.change(uri, 5, [{ range: { start: { line: broken.line, character: broken.character + 'exec(expression'.length }, end: { line: broken.line, character: broken.character + 'exec(expression'.length } }, text: ')' }]);
    const again = await c.diagnosticsFor(uri, (_d, v) => v === 5, 'diagnostics for version 5');
    assert.equal(again.length, 1);
    assert.match(messageOf(again[0]), /builtins\.exec/);
    const versions = (c.diagnostics.get(uri) ?? []).map((p) => p.version);
    assert.deepEqual([...versions].sort((a, b) => (a ?? 0) - (b ?? 0)), versions, 'versions are published in order');
  });

  it('moves diagnostics with lines typed into a docstring, and applies an allow comment typed into a comment', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/calc_doc.py');
    const text = CALC.replace('    return eval', '    # reviewed\n    return eval');
    await c.open(uri, 'python', text);
    const first = await c.diagnosticsFor(uri, (ds) => ds.length === 1);
    // Two new lines inside the docstring (an edit the server answers without running the checks again).
    const doc = positionOf(text, 'evaluate a formula');
    await c.change(uri, 2, [{ range: { start: doc, end: doc }, text: 'First,\n    then\n    ' }]);
    const moved = await c.diagnosticsFor(uri, (_d, v) => v === 2, 'diagnostics for version 2');
    assert.equal(moved.length, 1);
    assert.equal(moved[0].range.start.line, first[0].range.start.line + 2);
    assert.equal(moved[0].range.start.character, first[0].range.start.character);
    // An allow comment typed at the start of the comment above the sink suppresses it (shown as a hint).
    const comment = positionOf(text, '# reviewed');
    const afterHash = { line: comment.line + 2, character: comment.character + 1 };
    await c.change(uri, 3, [{ range: { start: afterHash, end: afterHash }, text: ' sentinel: allow JIT-EVAL-COMPILE -- SEC-7' }]);
    const allowed = await c.diagnosticsFor(uri, (_d, v) => v === 3, 'diagnostics for version 3');
    assert.equal(allowed.length, 1);
    assert.equal(allowed[0].severity, 4, "a suppressed finding is a hint");
    assert.match(messageOf(allowed[0]), /SEC-7/);
  });

  it('explains the rule on hover', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/calc.py');
    await c.open(uri, 'python', CALC);
    await c.diagnosticsFor(uri, (ds) => ds.length > 0);
    const hover: Hover = await c.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: positionOf(CALC, 'eval(expression)', 'at') });
    assert.ok(typeof hover.contents === 'object' && 'kind' in hover.contents && hover.contents.kind === 'markdown');
    const md = (hover.contents as { value: string }).value;
    assert.match(md, /\*\*JIT-EVAL-COMPILE\*\* · HIGH · Dynamic eval or compile/);
    assert.match(md, /\[CWE-95\]\(https:\/\/cwe\.mitre\.org\/data\/definitions\/95\.html\)/);
    assert.match(md, /OWASP LLM01 — Prompt Injection/);
    assert.match(md, /\*\*Owner:\*\* Application security and backend\/agent owner/);
    assert.match(md, /\*\*Release decision:\*\* Treat as a release gate/);
    assert.match(md, /\*\*Retest:\*\* `sentinel sast \.\/src\/ --rule JIT`/);
    const none = await c.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 0, character: 2 } });
    assert.equal(none, null);
  });

  it('scans the workspace with progress and publishes diagnostics for closed files', async () => {
    const c = await start();
    const result = (await c.connection.sendRequest('workspace/executeCommand', { command: 'sentinel.scanWorkspace', arguments: [] })) as { filesScanned: number; findings: number; cancelled: boolean };
    assert.deepEqual(result, { filesScanned: 4, findings: 3, cancelled: false });
    const kinds = c.progress.map((p) => p.value.kind);
    assert.equal(kinds[0], 'begin');
    assert.equal(kinds[kinds.length - 1], 'end');
    assert.ok(kinds.includes('report'));
    const env = await c.diagnosticsFor(uriOf(root, 'deploy/.env'), (ds) => ds.length === 1);
    assert.equal(env[0].code, 'JIT-CACHE-POISONING');
    assert.equal(env[0].severity, 2);
    assert.equal(c.latest(uriOf(root, 'src/clean.py')), undefined, 'a clean file gets no diagnostics');
    // A second scan after the finding is fixed on disk clears the stale diagnostics.
    fs.writeFileSync(path.join(root, 'deploy/.env'), 'TRITON_CACHE_DIR=${HOME}/.cache/triton\n');
    await c.connection.sendRequest('workspace/executeCommand', { command: 'sentinel.scanWorkspace', arguments: [] });
    await c.diagnosticsFor(uriOf(root, 'deploy/.env'), (ds) => ds.length === 0, 'cleared after the fix');
  });

  it('stops a workspace scan when the request is cancelled', async () => {
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(root, 'src', `gen_${i}.py`), CALC);
    const c = await start();
    const { CancellationTokenSource } = await import('vscode-languageserver-protocol');
    const source = new CancellationTokenSource();
    const pending = c.connection.sendRequest('workspace/executeCommand', { command: 'sentinel.scanWorkspace', arguments: [] }, source.token);
    await c.waitFor(() => c.progress.some((p) => p.value.kind === 'report'), 'first progress report');
    source.cancel();
    const outcome = await pending.then(
      (r) => r as { filesScanned: number; cancelled: boolean },
      (e: Error) => e,
    );
    // Either the server answered with a cancelled, partial result or the request was rejected as cancelled.
    if (outcome instanceof Error) assert.match(outcome.message, /cancel/i);
    else {
      assert.equal(outcome.cancelled, true);
      assert.ok(outcome.filesScanned < 304);
    }
  });

  it('sends the policy status and updates it when the decision changes', async () => {
    const c = await start();
    await c.waitFor(() => c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).length > 0, 'initial policy status');
    assert.equal(c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION)[0].decision, 'clean');
    const uri = uriOf(root, 'src/calc.py');
    await c.open(uri, 'python', CALC);
    await c.waitFor(() => c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).some((s) => s.decision === 'blocked'), 'blocked status');
    const blocked = c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).find((s) => s.decision === 'blocked')!;
    assert.equal(blocked.blocking, 1);
    assert.equal(blocked.retest, 'sentinel sast ./src/ --rule JIT');
    assert.equal(blocked.findings[0].ruleId, 'JIT-EVAL-COMPILE');
    assert.equal(blocked.findings[0].uri, uri);
    assert.deepEqual({ line: blocked.findings[0].line, character: blocked.findings[0].character }, positionOf(CALC, 'eval('));
    const at = positionOf(CALC, 'eval(');
    await c.change(uri, 2, [{ range: { start: at, end: { line: at.line, character: at.character + 4 } }, text: 'float' }]);
    await c.waitFor(() => c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).at(-1)!.decision === 'clean', 'clean status after the fix');
  });

  it('reloads the policy when sentinel-policy.yml changes on disk', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/calc.py');
    await c.open(uri, 'python', CALC);
    await c.diagnosticsFor(uri, (ds) => ds.length === 1 && ds[0].severity === 1);
    const policy = path.join(root, 'sentinel-policy.yml');
    fs.writeFileSync(policy, 'category: JIT\nfail_on: [CRITICAL, HIGH]\nticket_on: [MEDIUM]\nretest: "sentinel sast src --rule JIT"\nallowlist:\n  - rule: JIT-EVAL-COMPILE\n    path: "src/calc.py"\n    reason: "sandboxed math evaluator"\n');
    await c.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(policy).toString(), type: 1 }] });
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length === 1 && ds[0].severity === 4, 'suppressed hint');
    assert.match(messageOf(d), /^Suppressed \(policy .*sentinel-policy\.yml#allowlist\[0\]\): sandboxed math evaluator\./);
    await c.waitFor(() => c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).at(-1)?.retest === 'sentinel sast src --rule JIT', 'status with the new retest');
    assert.equal(c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).at(-1)!.decision, 'clean');
  });

  it('reports a broken policy in the status and keeps working with the default', async () => {
    fs.writeFileSync(path.join(root, 'sentinel-policy.yml'), 'fail_on: [HGH]\n');
    const c = await start();
    await c.waitFor(() => !!c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).at(-1)?.policyError, 'policy error in status');
    assert.match(c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).at(-1)!.policyError!, /sentinel-policy\.yml.*HGH/);
    const uri = uriOf(root, 'src/calc.py');
    await c.open(uri, 'python', CALC);
    assert.equal((await c.diagnosticsFor(uri, (ds) => ds.length === 1))[0].code, 'JIT-EVAL-COMPILE');
  });

  it('applies configuration changes without a restart', async () => {
    const c = await start();
    const env = uriOf(root, 'deploy/.env');
    await c.open(env, 'dotenv', 'TRITON_CACHE_DIR=/tmp/triton\n');
    await c.diagnosticsFor(env, (ds) => ds.length === 1);
    c.settings = { minimumSeverity: 'HIGH' };
    await c.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    await c.diagnosticsFor(env, (ds) => ds.length === 0, 'MEDIUM hidden below minimumSeverity HIGH');
    c.settings = { rules: ['JIT-EVAL-COMPILE'] };
    await c.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    const calc = uriOf(root, 'src/calc.py');
    await c.open(calc, 'python', CALC);
    await c.diagnosticsFor(calc, (ds) => ds.length === 1);
    await c.diagnosticsFor(env, (ds) => ds.length === 0, 'cache rule disabled');
  });

  it('takes in-house sinks and sources from the settings', async () => {
    const c = await start({
      settings: {
        extraSinks: [{ rule: 'JIT-EVAL-COMPILE', languages: ['python'], api: 'ourlib.sandbox.run', args: [0] }, { rule: 'NOPE', languages: ['python'], api: 'x', args: [0] }],
        extraSources: { python: { calls: [{ api: 'ourllm.complete', note: 'LLM output' }] } },
      },
    });
    const uri = uriOf(root, 'src/inhouse.py');
    const text = 'import ourllm\nfrom ourlib import sandbox\n\nplan = ourllm.complete("write code")\nsandbox.run(plan)\n';
    await c.open(uri, 'python', text);
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length === 1);
    assert.equal(d.code, 'JIT-EVAL-COMPILE');
    assert.deepEqual(d.range.start, positionOf(text, 'sandbox.run('));
    assert.match(d.relatedInformation![0].message, /^source: LLM output read by `ourllm.complete\(\)`/);
    await c.waitFor(() => c.notifications.some((n) => n.method === 'window/showMessage' && /unknown rule 'NOPE'/.test(JSON.stringify(n.params))), 'a warning about the bad extra sink');
  });

  it('takes in-house sources and sinks from the policy models, and re-analyses open files when they change', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/inhouse.py');
    const text = 'import acme_llm\nfrom acme import formula\n\nplan = acme_llm.complete("write a formula")\nformula.run(plan)\n';
    await c.open(uri, 'python', text);
    await c.diagnosticsFor(uri, (ds) => ds.length === 0, 'quiet before the policy names the in-house sink');
    const policy = path.join(root, 'sentinel-policy.yml');
    fs.writeFileSync(
      policy,
      [
        'category: JIT',
        'models:',
        '  sources:',
        '    python:',
        '      calls:',
        '        - { api: acme_llm.complete, note: "LLM output (in-house client)" }',
        '  sinks:',
        '    - { rule: JIT-EVAL-COMPILE, languages: [python], api: acme.formula.run, args: [0] }',
        '',
      ].join('\n'),
    );
    await c.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(policy).toString(), type: 1 }] });
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length === 1, 'the in-house sink from the policy');
    assert.equal(d.code, 'JIT-EVAL-COMPILE');
    assert.deepEqual(d.range.start, positionOf(text, 'formula.run('));
    assert.match(d.relatedInformation![0].message, /^source: LLM output \(in-house client\) read by `acme_llm.complete\(\)`/);
  });

  it('rescans a closed file that changed on disk and clears a deleted one', async () => {
    const c = await start();
    await c.connection.sendRequest('workspace/executeCommand', { command: 'sentinel.scanWorkspace', arguments: [] });
    const clean = path.join(root, 'src/clean.py');
    fs.writeFileSync(clean, 'def run(code):\n    exec(code)\n');
    await c.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(clean).toString(), type: 2 }] });
    await c.diagnosticsFor(pathToFileURL(clean).toString(), (ds) => ds.length === 1);
    const env = path.join(root, 'deploy/.env');
    fs.rmSync(env);
    await c.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(env).toString(), type: 3 }] });
    await c.diagnosticsFor(pathToFileURL(env).toString(), (ds) => ds.length === 0);
  });

  it('runs the retest and shows a rule through commands', async () => {
    fs.writeFileSync(path.join(root, 'sentinel-policy.yml'), 'category: JIT\nfail_on: [CRITICAL, HIGH]\nticket_on: [MEDIUM]\nretest: "sentinel sast ./src/ --rule JIT"\n');
    const c = await start();
    const r = (await c.connection.sendRequest('workspace/executeCommand', { command: 'sentinel.retest', arguments: [] })) as { decision: string; exitCode: number; blocking: number; filesScanned: number; command: string };
    assert.deepEqual([r.decision, r.exitCode, r.blocking, r.filesScanned, r.command], ['blocked', 1, 2, 3, 'sentinel sast ./src/ --rule JIT']);
    const rule = (await c.connection.sendRequest('workspace/executeCommand', { command: 'sentinel.showRule', arguments: ['JIT-CACHE-POISONING'] })) as { markdown: string };
    assert.match(rule.markdown, /\*\*JIT-CACHE-POISONING\*\* · MEDIUM · Writable JIT Cache/);
    await assert.rejects(c.connection.sendRequest('workspace/executeCommand', { command: 'sentinel.showRule', arguments: ['NOPE'] }), /unknown rule 'NOPE'/);
  });

  it('shows suppressed findings as hints with the reason', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/allowed.py');
    const text = 'def f(e):\n    # sentinel: allow JIT-EVAL-COMPILE -- reviewed: grammar-checked input\n    return eval(e)\n';
    await c.open(uri, 'python', text);
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length === 1);
    assert.equal(d.severity, 4);
    assert.deepEqual(d.tags, [1]);
    assert.match(messageOf(d), /^Suppressed \(allow comment\): reviewed: grammar-checked input\./);
    assert.equal((d.data as { suppressed: boolean }).suppressed, true);
  });

  it('analyses notebook cells as one program and puts findings on the right cell', async () => {
    const c = await start();
    const nbUri = uriOf(root, 'analysis.ipynb');
    const cell = (n: number) => `vscode-notebook-cell:${path.join(root, 'analysis.ipynb')}#cell${n}`;
    const texts = ['# Notes', '%pip install numexpr\nexpr = input("formula: ")', '!ls\nresult = eval(expr)'];
    await c.connection.sendNotification('notebookDocument/didOpen', {
      notebookDocument: {
        uri: nbUri,
        notebookType: 'jupyter-notebook',
        version: 1,
        cells: [
          { kind: 1, document: cell(0) },
          { kind: 2, document: cell(1) },
          { kind: 2, document: cell(2) },
        ],
      },
      cellTextDocuments: texts.map((text, i) => ({ uri: cell(i), languageId: i === 0 ? 'markdown' : 'python', version: 1, text })),
    });
    const [d] = await c.diagnosticsFor(cell(2), (ds) => ds.length === 1);
    assert.equal(d.code, 'JIT-EVAL-COMPILE');
    assert.deepEqual(d.range.start, positionOf(texts[2], 'eval('));
    assert.equal(d.relatedInformation![0].location.uri, cell(1));
    assert.deepEqual(d.relatedInformation![0].location.range.start, positionOf(texts[1], 'input('));
    assert.deepEqual(await c.diagnosticsFor(cell(1)), []);
    // Editing the first code cell so that the value is a constant clears the finding in the later cell.
    const at = positionOf(texts[1], 'input("formula: ")');
    await c.connection.sendNotification('notebookDocument/didChange', {
      notebookDocument: { uri: nbUri, version: 2 },
      change: { cells: { textContent: [{ document: { uri: cell(1), version: 2 }, changes: [{ range: { start: at, end: { line: at.line, character: at.character + 'input("formula: ")'.length } }, text: '"1 + 1"' }] }] } },
    });
    await c.diagnosticsFor(cell(2), (ds) => ds.length === 0, 'finding cleared after the edit');
  });

  it('offers quick fixes inside notebook cells, with edits on the cell', async () => {
    const c = await start();
    const nbUri = uriOf(root, 'ops.ipynb');
    const cell = (n: number) => `vscode-notebook-cell:${path.join(root, 'ops.ipynb')}#cell${n}`;
    const texts = ['a, b = 2.0, 3.0\nop = input("op: ")', 'result = eval(f"{a} {op} {b}")'];
    await c.connection.sendNotification('notebookDocument/didOpen', {
      notebookDocument: { uri: nbUri, notebookType: 'jupyter-notebook', version: 1, cells: texts.map((_, i) => ({ kind: 2, document: cell(i) })) },
      cellTextDocuments: texts.map((text, i) => ({ uri: cell(i), languageId: 'python', version: 1, text })),
    });
    const [d] = await c.diagnosticsFor(cell(1), (ds) => ds.length === 1);
    const actions = (await c.connection.sendRequest('textDocument/codeAction', { textDocument: { uri: cell(1) }, range: d.range, context: { diagnostics: [d] } })) as {
      title: string;
      edit?: { changes?: Record<string, { range: never; newText: string }[]> };
    }[];
    const titles = actions.map((a) => a.title);
    assert.ok(titles.some((t) => t.startsWith('Allow JIT-EVAL-COMPILE with reason')), titles.join('\n'));
    assert.ok(titles.some((t) => t.startsWith('Add JIT-EVAL-COMPILE to policy allowlist')), titles.join('\n'));
    const allow = actions.find((a) => a.title.startsWith('Allow JIT-EVAL-COMPILE'))!;
    assert.deepEqual(Object.keys(allow.edit!.changes!), [cell(1)]);
    assert.match(applyEdit(texts[1], allow.edit!.changes![cell(1)]), /# sentinel: allow JIT-EVAL-COMPILE -- /);
  });

  /** Applies a WorkspaceEdit's `changes` for `uri` to `text` (edits sorted from the end). */
  function applyEdit(text: string, edits: { range: { start: { line: number; character: number }; end: { line: number; character: number } }; newText: string }[]): string {
    const offset = (p: { line: number; character: number }) => {
      const lines = text.split('\n');
      return lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
    };
    let out = text;
    for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start))) {
      out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
    }
    return out;
  }

  it('offers quick fixes that make the finding disappear once applied', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/ops.py');
    const text = 'def apply(a: float, op: str, b: float) -> float:\n    return eval(f"{a} {op} {b}")\n';
    await c.open(uri, 'python', text);
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length === 1);
    const actions = (await c.connection.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } })) as {
      title: string;
      kind: string;
      isPreferred?: boolean;
      edit: { changes?: Record<string, { range: never; newText: string }[]>; documentChanges?: unknown[] };
    }[];
    const titles = actions.map((a) => a.title);
    assert.ok(titles.includes('Replace eval() with an explicit operator map (+ - * / // %)'), titles.join('\n'));
    assert.ok(titles.some((t) => t.startsWith('Allow JIT-EVAL-COMPILE with reason')));
    assert.ok(titles.some((t) => t.startsWith('Add JIT-EVAL-COMPILE to policy allowlist')));
    assert.ok(actions.some((a) => a.kind === 'source.fixAll.sentinel'));
    const preferred = actions.find((a) => a.isPreferred)!;
    assert.equal(preferred.kind, 'quickfix');
    const fixed = applyEdit(text, preferred.edit.changes![uri]);
    assert.match(fixed, /operator\.add/);
    await c.change(uri, 2, [{ text: fixed }]);
    assert.deepEqual(await c.diagnosticsFor(uri, (_d, v) => v === 2), []);
    // The allow action keeps the finding, as a suppressed hint.
    const allow = actions.find((a) => a.title.startsWith('Allow JIT-EVAL-COMPILE'))!;
    await c.change(uri, 3, [{ text: applyEdit(text, allow.edit.changes![uri]) }]);
    const [hint] = await c.diagnosticsFor(uri, (_d, v) => v === 3);
    assert.equal(hint.severity, 4);
  });

  it('answers source.fixAll.sentinel with the safe rewrites only', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/fn.js');
    const text = 'export function make(op) {\n  return new Function("a", "b", "return a " + op + " b");\n}\n';
    await c.open(uri, 'javascript', text);
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length === 1);
    const actions = (await c.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 3, character: 0 } },
      context: { diagnostics: [d], only: ['source.fixAll'] },
    })) as { kind: string; edit: { changes: Record<string, never[]> } }[];
    assert.deepEqual(actions.map((a) => a.kind), ['source.fixAll.sentinel']);
    const fixed = applyEdit(text, actions[0].edit.changes[uri]);
    await c.change(uri, 2, [{ text: fixed }]);
    assert.deepEqual(await c.diagnosticsFor(uri, (_d, v) => v === 2), []);
  });

  it('places scanned .ipynb findings on their JSON lines and counts an opened notebook once', async () => {
    const nb = { cells: [{ cell_type: 'code', metadata: {}, outputs: [], execution_count: null, source: ['q = input()\n', 'eval(q)\n'] }], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    const json = JSON.stringify(nb, null, 1);
    fs.writeFileSync(path.join(root, 'src/nb.ipynb'), json);
    const c = await start();
    await c.connection.sendRequest('workspace/executeCommand', { command: 'sentinel.scanWorkspace', arguments: [] });
    const nbUri = uriOf(root, 'src/nb.ipynb');
    const [d] = await c.diagnosticsFor(nbUri, (ds) => ds.length === 1);
    const line = json.split('\n').findIndex((l) => l.includes('eval(q)'));
    assert.equal(d.range.start.line, line);
    await c.waitFor(() => c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).at(-1)?.blocking === 3, 'calc.py, kernels.py and nb.ipynb blocking');
    const cell = `vscode-notebook-cell:${path.join(root, 'src/nb.ipynb')}#c0`;
    await c.connection.sendNotification('notebookDocument/didOpen', {
      notebookDocument: { uri: nbUri, notebookType: 'jupyter-notebook', version: 1, cells: [{ kind: 2, document: cell }] },
      cellTextDocuments: [{ uri: cell, languageId: 'python', version: 1, text: 'q = input()\neval(q)' }],
    });
    await c.diagnosticsFor(cell, (ds) => ds.length === 1);
    await c.diagnosticsFor(nbUri, (ds) => ds.length === 0, 'the .ipynb file diagnostics cleared while the notebook is open');
    const status = c.notificationsOf<PolicyStatus>(POLICY_STATUS_NOTIFICATION).at(-1)!;
    assert.equal(status.blocking, 3, 'the notebook counts once');
    // A policy change reaches the open notebook's cells.
    const policy = path.join(root, 'sentinel-policy.yml');
    fs.writeFileSync(policy, 'category: JIT\nfail_on: [HIGH]\nticket_on: [MEDIUM]\nretest: "sentinel sast src"\nallowlist:\n  - rule: JIT\n    path: "src/nb.ipynb"\n    reason: "exploration notebook, never deployed"\n');
    await c.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(policy).toString(), type: 1 }] });
    await c.diagnosticsFor(cell, (ds) => ds.length === 1 && ds[0].severity === 4, 'cell finding suppressed by the new policy');
  });

  it('leaves plain C++ alone until it calls NVRTC', async () => {
    const c = await start();
    const uri = uriOf(root, 'src/host.cpp');
    const plain = 'int main(int argc, char** argv) { return run(argv[1]); }\n';
    await c.open(uri, 'cpp', plain);
    await c.change(uri, 2, [{ text: `#include <nvrtc.h>\n${plain.replace('return run(argv[1]);', 'nvrtcProgram p; nvrtcCreateProgram(&p, argv[1], "k.cu", 0, 0, 0); return 0;')}` }]);
    const [d] = await c.diagnosticsFor(uri, (ds) => ds.length === 1);
    assert.equal(d.code, 'JIT-DYNAMIC-KERNEL');
    assert.equal(c.diagnostics.get(uri)!.filter((p) => p.diagnostics.length > 0).length, 1);
  });

  it('survives unknown methods, documents it never opened and out-of-range positions', async () => {
    const c = await start();
    await assert.rejects(c.connection.sendRequest('sentinel/nope', {}), /Unhandled method|not found/i);
    const hover = await c.connection.sendRequest('textDocument/hover', { textDocument: { uri: uriOf(root, 'never.py') }, position: { line: 0, character: 0 } });
    assert.equal(hover, null);
    const uri = uriOf(root, 'src/calc.py');
    await c.open(uri, 'python', CALC);
    await c.diagnosticsFor(uri, (ds) => ds.length === 1);
    await c.change(uri, 2, [{ range: { start: { line: 999, character: 999 }, end: { line: 1000, character: 0 } }, text: '\n# appended\n' }]);
    const ds: Diagnostic[] = await c.diagnosticsFor(uri, (_d, v) => v === 2);
    assert.equal(ds.length, 1);
  });
});
