// A small LSP test client that speaks the real protocol to `sentinel lsp --stdio` (the built bundle),
// records what the server sends, and finds positions by searching text rather than by hard-coded numbers.
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import {
  createProtocolConnection,
  type Diagnostic,
  type InitializeResult,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';
import { pathToFileURL } from 'node:url';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');

export interface ClientOptions {
  rootPath: string;
  positionEncodings?: string[];
  settings?: Record<string, unknown>;
  /** Answer server-created progress tokens (window.workDoneProgress). */
  workDoneProgress?: boolean;
  /** Workspace folder URIs sent besides the root's (for folders a path cannot name). */
  extraFolderUris?: string[];
}

export class TestClient {
  readonly connection: ProtocolConnection;
  readonly process: ChildProcess;
  readonly diagnostics = new Map<string, PublishDiagnosticsParams[]>();
  readonly notifications: { method: string; params: unknown }[] = [];
  readonly progress: { token: string | number; value: { kind: string; percentage?: number; message?: string } }[] = [];
  stderr = '';
  settings: Record<string, unknown>;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  initializeResult?: InitializeResult;

  constructor(readonly options: ClientOptions) {
    this.settings = options.settings ?? {};
    this.process = spawn(process.execPath, [CLI, 'lsp', '--stdio'], { cwd: options.rootPath, stdio: ['pipe', 'pipe', 'pipe'] });
    this.process.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.connection = createProtocolConnection(new StreamMessageReader(this.process.stdout!), new StreamMessageWriter(this.process.stdin!));
    this.connection.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      this.diagnostics.set(p.uri, [...(this.diagnostics.get(p.uri) ?? []), p]);
      this.wake();
    });
    this.connection.onUnhandledNotification((message) => {
      this.notifications.push({ method: message.method, params: message.params });
      this.wake();
    });
    this.connection.onRequest('workspace/configuration', (params: { items: { section?: string }[] }) => params.items.map(() => this.settings));
    this.connection.onRequest('client/registerCapability', () => null);
    this.connection.onRequest('window/workDoneProgress/create', () => null);
    this.connection.onNotification('$/progress', (p: { token: string | number; value: { kind: string } }) => {
      this.progress.push(p);
      this.wake();
    });
    this.connection.listen();
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves when `check` holds, re-checked on every message; fails after `ms` with `what` in the error. */
  waitFor(check: () => boolean, what: string, ms = 15000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`)), ms);
      this.waiters.push({ check, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async initialize(): Promise<InitializeResult> {
    const rootUri = pathToFileURL(this.options.rootPath).toString();
    this.initializeResult = await this.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: 'ws' }, ...(this.options.extraFolderUris ?? []).map((uri, i) => ({ uri, name: `extra${i}` }))],
      capabilities: {
        general: this.options.positionEncodings ? { positionEncodings: this.options.positionEncodings } : {},
        workspace: { configuration: true, didChangeWatchedFiles: { dynamicRegistration: true }, workspaceFolders: true },
        window: { workDoneProgress: this.options.workDoneProgress ?? true },
        textDocument: { publishDiagnostics: { relatedInformation: true, versionSupport: true, codeDescriptionSupport: true, dataSupport: true } },
      },
    });
    await this.connection.sendNotification('initialized', {});
    return this.initializeResult;
  }

  /** The latest diagnostics published for `uri`. */
  latest(uri: string): PublishDiagnosticsParams | undefined {
    const list = this.diagnostics.get(uri);
    return list?.[list.length - 1];
  }

  /** Waits for diagnostics of `uri` that satisfy `check` (default: any), and returns them. */
  async diagnosticsFor(uri: string, check: (d: Diagnostic[], version?: number) => boolean = () => true, what = `diagnostics for ${uri}`): Promise<Diagnostic[]> {
    await this.waitFor(() => {
      const l = this.latest(uri);
      return !!l && check(l.diagnostics, l.version);
    }, what);
    return this.latest(uri)!.diagnostics;
  }

  notificationsOf<T>(method: string): T[] {
    return this.notifications.filter((n) => n.method === method).map((n) => n.params as T);
  }

  async open(uri: string, languageId: string, text: string, version = 1): Promise<void> {
    await this.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  async change(uri: string, version: number, changes: unknown[]): Promise<void> {
    await this.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: changes });
  }

  async shutdown(): Promise<void> {
    try {
      await Promise.race([this.connection.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 3000))]);
      await this.connection.sendNotification('exit');
    } catch {
      // the process may already be gone
    }
    await new Promise<void>((resolve) => {
      if (this.process.exitCode !== null) return resolve();
      const t = setTimeout(() => (this.process.kill(), resolve()), 3000);
      this.process.on('exit', () => (clearTimeout(t), resolve()));
    });
    this.connection.dispose();
  }
}

/** The LSP position (UTF-16) just after the first occurrence of `needle` in `text` (or at it, with `at`). */
export function positionOf(text: string, needle: string, at: 'after' | 'at' = 'at'): { line: number; character: number } {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`'${needle}' not in text`);
  const offset = at === 'after' ? i + needle.length : i;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}
