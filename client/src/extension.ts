// Sentinel for VS Code: starts the language server, shows the release gate in the status bar and the
// findings in the Sentinel view, and registers the commands. Everything it knows comes from the server.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { PolicyStatus } from '../../shared/src/protocol';
import { createClient } from './client';
import { type CommandContext, registerCommands, serverCommandHook } from './commands';
import { CLIENT_COMMANDS, FINDINGS_VIEW } from '../../shared/src/ids';
import { GateStatusBar, showGatingFindings, statusText } from './status';
import { FindingsView } from './view';

/** What the extension exports to other extensions (and to its end-to-end tests). */
export interface SentinelApi {
  getStatus(): PolicyStatus | undefined;
  statusText(): string;
  /** Resolves when the server has sent a status satisfying `check` (or rejects after `timeoutMs`). */
  waitForStatus(check: (s: PolicyStatus) => boolean, timeoutMs?: number): Promise<PolicyStatus>;
  client(): LanguageClient;
  /** The Sentinel view's items as indented labels. */
  viewOutline(): string[];
}

export async function activate(context: vscode.ExtensionContext): Promise<SentinelApi> {
  const output = vscode.window.createOutputChannel('Sentinel', { log: true });
  const statusBar = new GateStatusBar();
  const view = new FindingsView();
  const listeners = new Set<(s: PolicyStatus) => void>();
  const onStatus = (s: PolicyStatus): void => {
    statusBar.update(s);
    view.update(s);
    for (const l of [...listeners]) l(s);
  };
  let client: LanguageClient;
  const commandContext: CommandContext = { context, client: () => client, status: () => statusBar.status, output, restart: async () => restart() };
  const hook = serverCommandHook(commandContext);
  client = createClient(context, onStatus, output, hook);
  const restart = async (): Promise<void> => {
    await client.stop().catch(() => undefined);
    client = createClient(context, onStatus, output, hook);
    await client.start();
  };
  context.subscriptions.push(
    output,
    statusBar,
    vscode.window.registerTreeDataProvider(FINDINGS_VIEW, view),
    vscode.languages.onDidChangeDiagnostics(() => view.refresh()),
    vscode.commands.registerCommand(CLIENT_COMMANDS.showGatingFindings, () => showGatingFindings(statusBar.status)),
    ...registerCommands(commandContext),
    { dispose: () => void client.stop() },
  );
  await client.start();
  return {
    getStatus: () => statusBar.status,
    statusText: () => statusText(statusBar.status),
    client: () => client,
    viewOutline: () => view.outline(),
    waitForStatus: (check, timeoutMs = 20000) =>
      new Promise((resolve, reject) => {
        if (statusBar.status && check(statusBar.status)) return resolve(statusBar.status);
        const timer = setTimeout(() => (listeners.delete(listener), reject(new Error(`no matching status within ${timeoutMs} ms; last: ${statusText(statusBar.status)}`))), timeoutMs);
        const listener = (s: PolicyStatus): void => {
          if (!check(s)) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(s);
        };
        listeners.add(listener);
      }),
  };
}

export function deactivate(): void {
  // The client is stopped through context.subscriptions.
}
