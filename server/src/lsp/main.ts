// Starts the language server: `sentinel lsp --stdio` for any LSP editor, or over IPC when VS Code's
// client launches dist/server.js. stdout is the protocol, so nothing else may print to it.
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from './server';

export function runLanguageServer(): void {
  // createConnection reads --stdio / --node-ipc / --socket from process.argv.
  const connection = createConnection(ProposedFeatures.all);
  // Anything that would write to stdout would corrupt the protocol stream: route it to the client log.
  // eslint-disable-next-line no-console -- replacing console.log is the point: keep stdout for the protocol
  console.log = (...args: unknown[]) => connection.console.log(args.map(String).join(' '));
  // eslint-disable-next-line no-console -- as above
  console.info = console.log;
  // One failed promise must not take the editor's server down: log it and keep serving.
  process.on('unhandledRejection', (reason) => connection.console.error(`sentinel: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`));
  startServer(connection);
}

