// The palette commands: scan the workspace, retest in a terminal task (so its output and exit code are
// visible), copy the retest command, show a rule's documentation, open (or create) the policy file,
// restart the server and show its output.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ExecuteCommandRequest, type LanguageClient } from 'vscode-languageclient/node';
import { CLIENT_COMMANDS } from '../../shared/src/ids';
import { Commands, type PolicyStatus, type ShowRuleResult } from '../../shared/src/protocol';


export interface CommandContext {
  context: vscode.ExtensionContext;
  client: () => LanguageClient;
  status: () => PolicyStatus | undefined;
  output: vscode.OutputChannel;
  restart: () => Promise<void>;
}

function workspaceRoot(): vscode.Uri | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

/** The arguments after `sentinel` in a retest command such as `sentinel sast ./src/ --rule JIT`. */
export function retestArguments(command: string): string[] {
  const words = command.match(/"[^"]*"|'[^']*'|\S+/g)?.map((w) => w.replace(/^["']|["']$/g, '')) ?? [];
  const at = words.findIndex((w) => w === 'sast');
  return at >= 0 ? words.slice(at) : ['sast', '.', '--rule', 'JIT'];
}

export async function scanWorkspace(forward: () => Promise<unknown>): Promise<{ filesScanned: number; findings: number; cancelled: boolean }> {
  const result = (await forward()) as {
    filesScanned: number;
    findings: number;
    cancelled: boolean;
  };
  void vscode.window.setStatusBarMessage(`Sentinel: scanned ${result.filesScanned} files, ${result.findings} findings${result.cancelled ? ' (cancelled)' : ''}`, 5000);
  return result;
}

/**
 * Runs the policy's retest command with the bundled CLI in a task terminal, from the workspace root, and
 * resolves with its exit code (1 = release gate blocked).
 */
export async function retest(ctx: CommandContext): Promise<number | undefined> {
  const root = workspaceRoot();
  if (!root) {
    void vscode.window.showWarningMessage('Sentinel: open a folder to retest.');
    return undefined;
  }
  const status = ctx.status();
  const command = status?.retest ?? 'sentinel sast ./src/ --rule JIT';
  const args = retestArguments(command);
  // The retest's paths are written relative to the policy file, as the CLI and the server read them.
  const cwd = status?.policyUri ? path.dirname(vscode.Uri.parse(status.policyUri).fsPath) : root.fsPath;
  const cli = ctx.context.asAbsolutePath(path.join('dist', 'cli.js'));
  // The extension host's own runtime runs the CLI: no separate Node installation is needed.
  const execution = new vscode.ProcessExecution(process.execPath, [cli, ...args], { cwd, env: { ELECTRON_RUN_AS_NODE: '1' } });
  const task = new vscode.Task({ type: 'sentinel', command }, vscode.TaskScope.Workspace, `retest: ${command}`, 'sentinel', execution, []);
  task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, clear: true, panel: vscode.TaskPanelKind.Dedicated };
  const started = await vscode.tasks.executeTask(task);
  return new Promise((resolve) => {
    const sub = vscode.tasks.onDidEndTaskProcess((e) => {
      if (e.execution !== started) return;
      sub.dispose();
      const verdict = e.exitCode === 0 ? 'passed' : e.exitCode === 1 ? 'blocked' : `failed (exit ${e.exitCode})`;
      void vscode.window.setStatusBarMessage(`Sentinel retest: release gate ${verdict}`, 8000);
      resolve(e.exitCode);
    });
  });
}

export async function copyRetest(ctx: CommandContext): Promise<string> {
  const command = ctx.status()?.retest ?? 'sentinel sast ./src/ --rule JIT';
  await vscode.env.clipboard.writeText(command);
  void vscode.window.setStatusBarMessage(`Copied: ${command}`, 4000);
  return command;
}

/** Rule IDs shipped with the extension (dist/rules/<ID>.yml). */
function shippedRuleIds(ctx: CommandContext): string[] {
  const dir = ctx.context.asAbsolutePath(path.join('dist', 'rules'));
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+\.yml$/.test(f)).map((f) => f.slice(0, -4)).sort() : [];
}

export async function showRule(ctx: CommandContext, ruleId?: string): Promise<ShowRuleResult | undefined> {
  const id = ruleId ?? (await vscode.window.showQuickPick(shippedRuleIds(ctx), { placeHolder: 'Rule to explain' }));
  if (!id) return undefined;
  const result = (await ctx.client().sendRequest(ExecuteCommandRequest.type, { command: Commands.showRule, arguments: [id] })) as ShowRuleResult;
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: result.markdown });
  await vscode.commands.executeCommand('markdown.showPreview', doc.uri).then(undefined, () => vscode.window.showTextDocument(doc));
  return result;
}

/** Opens sentinel-policy.yml at the workspace root, creating it from the spec's template when missing (trusted workspaces only). */
export async function openPolicy(ctx: CommandContext): Promise<vscode.Uri | undefined> {
  const root = workspaceRoot();
  if (!root) return undefined;
  const uri = vscode.Uri.joinPath(root, 'sentinel-policy.yml');
  if (!fs.existsSync(uri.fsPath)) {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Sentinel: this workspace is not trusted, so no policy file is created.');
      return undefined;
    }
    const template = fs.readFileSync(ctx.context.asAbsolutePath(path.join('dist', 'rules', 'sentinel-policy.template.yml')), 'utf8');
    await vscode.workspace.fs.writeFile(uri, Buffer.from(template, 'utf8'));
  }
  await vscode.window.showTextDocument(uri);
  return uri;
}

/** What running one of the server's commands from VS Code does (see ExecuteCommandHook in client.ts). */
export function serverCommandHook(ctx: CommandContext) {
  return async (command: string, args: unknown[], forward: (command: string, args: unknown[]) => Promise<unknown>): Promise<unknown> => {
    if (command === Commands.retest) return retest(ctx);
    if (command === Commands.scanWorkspace) return scanWorkspace(() => forward(command, args));
    if (command === Commands.showRule) return showRule(ctx, typeof args[0] === 'string' ? args[0] : undefined);
    return forward(command, args);
  };
}

/** Commands the client registers itself; sentinel.scanWorkspace and sentinel.retest come from the server (above). */
export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(CLIENT_COMMANDS.copyRetest, () => copyRetest(ctx)),
    vscode.commands.registerCommand(CLIENT_COMMANDS.showRule, (id?: string) => showRule(ctx, id)),
    vscode.commands.registerCommand(CLIENT_COMMANDS.openPolicy, () => openPolicy(ctx)),
    vscode.commands.registerCommand(CLIENT_COMMANDS.restart, () => ctx.restart()),
    vscode.commands.registerCommand(CLIENT_COMMANDS.showOutput, () => ctx.output.show(true)),
  ];
}
