// Starts the bundled language server over IPC for every language Sentinel reads, and forwards its
// policy status. All analysis stays in the server; in an untrusted workspace no action may write files.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { type DocumentSelector, LanguageClient, type LanguageClientOptions, type ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { POLICY_STATUS_NOTIFICATION, type PolicyStatus } from '../../shared/src/protocol';

/** The documents the server analyses, by VS Code language id, plus files recognised by name. */
export const DOCUMENT_SELECTOR: DocumentSelector = [
  ...['python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'cuda-cpp', 'cpp', 'c', 'yaml', 'dockerfile', 'shellscript', 'dotenv'].map(
    (language) => ({ scheme: 'file', language }),
  ),
  { scheme: 'file', pattern: '**/{.env,.env.*,*.env,Dockerfile,Dockerfile.*,*.dockerfile,Containerfile}' },
  { scheme: 'untitled', language: 'python' },
];

/**
 * Client-side handling of the server's own commands: vscode-languageclient registers a VS Code command for
 * each command the server announces (sentinel.scanWorkspace, sentinel.retest, sentinel.showRule), and this
 * hook decides what running one in VS Code does (the retest runs in a terminal task, for instance).
 */
export type ExecuteCommandHook = (command: string, args: unknown[], forward: (command: string, args: unknown[]) => Promise<unknown>) => Promise<unknown>;

export function createClient(
  context: vscode.ExtensionContext,
  onStatus: (s: PolicyStatus) => void,
  output: vscode.LogOutputChannel,
  executeCommand: ExecuteCommandHook,
): LanguageClient {
  const module = context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    outputChannel: output,
    synchronize: { configurationSection: 'sentinel' },
    notebookDocumentOptions: { filterCells: (_notebook, cells) => cells.filter((c) => c.kind === vscode.NotebookCellKind.Code) },
    middleware: {
      // Untrusted workspace: diagnostics and hovers only; no edit may be offered.
      provideCodeActions: (document, range, ctx, token, next) => (vscode.workspace.isTrusted ? next(document, range, ctx, token) : []),
      executeCommand: (command, args, next) => executeCommand(command, args, async (c, a) => next(c, a)),
    },
  };
  const client = new LanguageClient('sentinel', 'Sentinel', serverOptions, clientOptions);
  client.onNotification(POLICY_STATUS_NOTIFICATION, (status: PolicyStatus) => onStatus(status));
  return client;
}
