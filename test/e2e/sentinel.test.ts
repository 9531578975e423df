// Sentinel inside a real VS Code: diagnostics on a fixture of the demo workspace, hover, a quick fix applied
// through VS Code's own code-action command, the workspace scan and the release gate in the status bar, the
// retest task's exit code, and the policy file created from the template. Run by test/e2e/run.mjs.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { screenshot, sentinelApi, sleep, waitFor } from './support';

function root(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the demo workspace is open');
  return folder.uri;
}

function sentinelDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'sentinel');
}

function codeOf(d: vscode.Diagnostic): string {
  return typeof d.code === 'object' ? String(d.code.value) : String(d.code);
}

describe('Sentinel in VS Code', function () {
  this.timeout(90000);

  it('underlines eval() in the calculator tool with JIT-EVAL-COMPILE and explains it on hover', async () => {
    const api = await sentinelApi();
    const uri = vscode.Uri.joinPath(root(), 'src/agent/calculator_tool.py');
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc);
    const diagnostics = await waitFor(() => {
      const ds = sentinelDiagnostics(uri);
      return ds.length > 0 ? ds : undefined;
    }, 'Sentinel diagnostics on calculator_tool.py');
    assert.equal(diagnostics.length, 1);
    const [d] = diagnostics;
    assert.equal(codeOf(d), 'JIT-EVAL-COMPILE');
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    const evalAt = doc.getText().indexOf('eval(expression');
    assert.deepEqual(d.range.start, doc.positionAt(evalAt));
    assert.match(d.message, /Dynamic eval or compile/);

    const hovers = (await vscode.commands.executeCommand('vscode.executeHoverProvider', uri, d.range.start)) as vscode.Hover[];
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /\*\*JIT-EVAL-COMPILE\*\* · HIGH/);
    assert.match(text, /Retest:/);

    editor.selection = new vscode.Selection(d.range.start, d.range.start);
    editor.revealRange(d.range, vscode.TextEditorRevealType.InCenter);
    await vscode.commands.executeCommand('editor.action.showHover');
    await sleep(1500);
    await screenshot('squiggle-and-hover');
    assert.ok(api.getStatus(), 'the server has sent a policy status');
  });

  it('scans the workspace and shows the blocked gate in the status bar', async () => {
    const api = await sentinelApi();
    const result = (await vscode.commands.executeCommand('sentinel.scanWorkspace')) as { filesScanned: number; findings: number };
    assert.ok(result.filesScanned >= 8, JSON.stringify(result));
    await api.waitForStatus((s) => s.decision === 'blocked' && s.blocking === 2 && s.tickets === 2);
    assert.equal(api.statusText(), 'Sentinel: blocked 2 HIGH');
    const env = vscode.Uri.joinPath(root(), 'deploy/.env');
    await waitFor(() => (sentinelDiagnostics(env).length > 0 ? true : undefined), 'diagnostics on the closed deploy/.env');
    assert.equal(codeOf(sentinelDiagnostics(env)[0]), 'JIT-CACHE-POISONING');
    await screenshot('status-bar-blocked');
    // The Sentinel view: retest on top, then Gate / Ticket / Suppressed, by rule.
    const outline = api.viewOutline();
    assert.deepEqual(outline.slice(0, 2), ['Retest: sentinel sast ./src/ --rule JIT', 'Gate (2)']);
    assert.ok(outline.includes('  JIT-EVAL-COMPILE (1)'), outline.join('\n'));
    assert.ok(outline.includes('Ticket (2)'), outline.join('\n'));
    assert.ok(outline.includes('  JIT-CACHE-POISONING (2)'), outline.join('\n'));
    assert.ok(outline.some((l) => /^Suppressed \(0\)$/.test(l)), outline.join('\n'));
    await vscode.commands.executeCommand('sentinel.findings.focus');
    await sleep(1500);
    await screenshot('sentinel-view');
  });

  it('applies the operator-map quick fix and the finding goes away', async () => {
    const api = await sentinelApi();
    const uri = vscode.Uri.joinPath(root(), 'src/agent/ops.py');
    fs.writeFileSync(uri.fsPath, 'def apply(a: float, op: str, b: float) -> float:\n    return eval(f"{a} {op} {b}")\n');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const [d] = await waitFor(() => {
      const ds = sentinelDiagnostics(uri);
      return ds.length > 0 ? ds : undefined;
    }, 'diagnostic on ops.py');
    const actions = (await vscode.commands.executeCommand('vscode.executeCodeActionProvider', uri, d.range, vscode.CodeActionKind.QuickFix.value)) as vscode.CodeAction[];
    const titles = actions.map((a) => a.title);
    const fix = actions.find((a) => a.title.startsWith('Replace eval() with an explicit operator map'));
    assert.ok(fix?.edit, `no operator-map fix among: ${titles.join(' | ')}`);
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    await waitFor(() => (sentinelDiagnostics(uri).length === 0 ? true : undefined), 'the finding to disappear after the fix');
    assert.match(doc.getText(), /operator\.add/);
    await doc.save();
    // The gate still counts the demo's own two HIGH findings.
    await api.waitForStatus((s) => s.blocking === 2);
  });

  it('runs the retest in a task whose exit code is the gate', async () => {
    const code = (await vscode.commands.executeCommand('sentinel.retest')) as number | undefined;
    // The demo has no ./src/ policy override: the built-in retest `sentinel sast ./src/ --rule JIT` runs from
    // the workspace root, where src/ holds two HIGH findings: the gate is blocked.
    assert.equal(code, 1);
  });

  it('copies the retest command and opens the policy, creating it from the template', async () => {
    const copied = await vscode.commands.executeCommand('sentinel.copyRetestCommand');
    assert.equal(copied, 'sentinel sast ./src/ --rule JIT');
    assert.equal(await vscode.env.clipboard.readText(), 'sentinel sast ./src/ --rule JIT');
    const policy = path.join(root().fsPath, 'sentinel-policy.yml');
    assert.equal(fs.existsSync(policy), false);
    await vscode.commands.executeCommand('sentinel.openPolicy');
    assert.match(fs.readFileSync(policy, 'utf8'), /^category: JIT$/m);
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, policy);
  });
});
