// Registers the language server's handlers. Each handler is a few lines that call the workspace, the code
// actions or the hover module: the logic lives there, and the analysis in the engine.
import {
  type CodeAction,
  CodeActionKind,
  type Connection,
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  ErrorCodes,
  FileChangeType,
  type InitializeParams,
  type InitializeResult,
  MarkupKind,
  MessageType,
  PositionEncodingKind,
  ResponseError,
  ShowMessageNotification,
  TextDocumentSyncKind,
  type CancellationToken,
  type WorkDoneProgressReporter,
  type WorkDoneProgressServerReporter,
} from 'vscode-languageserver/node';
import * as fs from 'node:fs';
import { Commands, type ShowRuleResult } from '../../../shared/src/protocol';
import { normaliseSettings } from '../../../shared/src/settings';
import { ENGINE_VERSION } from '../engine/scanner';
import { codeActionsFor, FIX_ALL_KIND, fixAllActions, type CodeActionInput } from './codeActions';
import { languageOf, OpenDocument, uriToPath } from './documents';
import { NotebookState } from './notebooks';
import { ruleCardMarkdown } from './hover';
import { policyLocationFor } from './policyFile';
import { type ProgressReporter, Workspace } from './workspace';

// The shapes the handlers read, checked before use: a client that sends `null` or a wrong type gets
// InvalidParams (-32602) naming what is needed, not an internal error carrying a TypeError.
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isPosition = (v: unknown): boolean => isObject(v) && Number.isInteger(v.line) && Number.isInteger(v.character);
const isRange = (v: unknown): boolean => isObject(v) && isPosition(v.start) && isPosition(v.end);
const hasDocument = (v: unknown): boolean => isObject(v) && isObject(v.textDocument) && typeof v.textDocument.uri === 'string';

function invalidParams(method: string, needs: string): ResponseError<void> {
  return new ResponseError(ErrorCodes.InvalidParams, `${method} needs ${needs}`);
}

const SOURCE_GLOB = '**/*.{py,pyi,ipynb,js,mjs,cjs,jsx,ts,mts,cts,tsx,cu,cuh,cpp,cc,cxx,c,h,hpp,sh,bash,yml,yaml,env}';

export function startServer(connection: Connection): void {
  const ws = new Workspace(connection);
  let clientCanRegisterWatchers = false;
  let clientHasConfiguration = false;
  let clientHasProgress = false;
  let unreachableRoots: { uri: string; why: string }[] = [];

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const offered = params.capabilities.general?.positionEncodings ?? [];
    ws.encoding = offered.includes(PositionEncodingKind.UTF8) ? 'utf-8' : 'utf-16';
    const uris = params.workspaceFolders?.length ? params.workspaceFolders.map((f) => f.uri) : params.rootUri ? [params.rootUri] : [];
    // A folder whose path is not valid UTF-8 comes as a URI (`%E9`) that no text path opens: say so once
    // initialised, rather than scanning nothing in silence.
    const reachable: string[] = [];
    unreachableRoots = [];
    for (const uri of uris) {
      const p = uriToPath(uri);
      if (p === undefined) continue;
      if (fs.existsSync(p)) reachable.push(p);
      else unreachableRoots.push({ uri, why: isUtf8Uri(uri) ? 'it does not exist' : 'its path holds bytes that are not valid UTF-8, which Node.js cannot open' });
    }
    ws.roots = uris.length > 0 ? reachable : params.rootPath ? [params.rootPath] : [];
    clientCanRegisterWatchers = !!params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration;
    clientHasConfiguration = !!params.capabilities.workspace?.configuration;
    clientHasProgress = !!params.capabilities.window?.workDoneProgress;
    return {
      capabilities: {
        positionEncoding: ws.encoding === 'utf-8' ? PositionEncodingKind.UTF8 : PositionEncodingKind.UTF16,
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, FIX_ALL_KIND], resolveProvider: false },
        executeCommandProvider: { commands: Object.values(Commands) },
        notebookDocumentSync: { notebookSelector: [{ notebook: { notebookType: 'jupyter-notebook' }, cells: [{ language: 'python' }] }] },
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      },
      serverInfo: { name: 'sentinel', version: ENGINE_VERSION },
    };
  });

  connection.onInitialized(async () => {
    for (const { uri, why } of unreachableRoots) {
      void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message: `Sentinel: the workspace folder ${uri} is not scanned: ${why}.` });
    }
    if (clientHasConfiguration) {
      void connection.client.register(DidChangeConfigurationNotification.type, { section: 'sentinel' });
      await refreshSettings();
    }
    if (clientCanRegisterWatchers) {
      void connection.client.register(DidChangeWatchedFilesNotification.type, {
        watchers: [{ globPattern: '**/sentinel-policy.{yml,yaml}' }, { globPattern: SOURCE_GLOB }, { globPattern: '**/{Dockerfile,Containerfile,*.dockerfile,.env,.env.*}' }],
      });
    }
    ws.sendPolicyStatus(true);
  });

  async function refreshSettings(): Promise<void> {
    const raw: unknown = clientHasConfiguration ? await connection.workspace.getConfiguration('sentinel') : undefined;
    ws.settings = normaliseSettings(raw);
    ws.applyCatalogSettings();
    ws.reloadPolicies();
    for (const uri of ws.documents.keys()) ws.schedule(uri);
    ws.republishAll();
  }

  connection.onDidChangeConfiguration(async (change) => {
    if (clientHasConfiguration) await refreshSettings();
    else {
      ws.settings = normaliseSettings((change.settings as { sentinel?: unknown } | undefined)?.sentinel);
      ws.applyCatalogSettings();
      ws.reloadPolicies();
      for (const uri of ws.documents.keys()) ws.schedule(uri);
      ws.republishAll();
    }
  });

  /** Documents over `sentinel.maxFileSize`, told once each: the workspace clears their diagnostics and skips them. */
  const oversize = new Set<string>();
  function sayIfTooLarge(uri: string, text: string): void {
    const limit = ws.settings.maxFileSize;
    if (text.length <= limit) {
      oversize.delete(uri);
      return;
    }
    if (oversize.has(uri)) return;
    oversize.add(uri);
    const message = `Sentinel does not analyse ${uri}: it is ${text.length} characters, over the sentinel.maxFileSize limit of ${limit}`;
    connection.console.warn(message);
    void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message });
  }

  connection.onDidOpenTextDocument((params) => {
    const d = params?.textDocument;
    if (!hasDocument(params) || typeof d.text !== 'string' || typeof d.languageId !== 'string' || !Number.isInteger(d.version)) {
      connection.console.warn('sentinel: ignored a textDocument/didOpen without { textDocument: { uri, languageId, version, text } }');
      return;
    }
    const lang = languageOf(d.uri, d.languageId, d.text);
    if (!lang) return;
    ws.documents.get(d.uri)?.dispose();
    ws.documents.set(d.uri, new OpenDocument(d.uri, d.languageId, d.version, lang, d.text));
    sayIfTooLarge(d.uri, d.text);
    ws.schedule(d.uri);
  });

  connection.onDidChangeTextDocument((params) => {
    const { textDocument, contentChanges } = params ?? {};
    const wellFormed = (c: unknown): boolean => isObject(c) && typeof c.text === 'string' && (c.range === undefined || isRange(c.range));
    if (!hasDocument(params) || !Array.isArray(contentChanges) || !contentChanges.every(wellFormed)) {
      connection.console.warn('sentinel: ignored a textDocument/didChange without { textDocument: { uri, version }, contentChanges: [{ range?, text }] }');
      return;
    }
    const doc = ws.documents.get(textDocument.uri);
    if (!doc) return;
    if (textDocument.version !== null && textDocument.version <= doc.version) {
      connection.console.warn(`sentinel: ignored a change to ${textDocument.uri} at version ${textDocument.version}, not after ${doc.version}`);
      return;
    }
    doc.applyChanges(contentChanges, textDocument.version ?? doc.version + 1, ws.encoding);
    sayIfTooLarge(textDocument.uri, doc.text);
    ws.schedule(textDocument.uri);
  });

  connection.onDidCloseTextDocument(({ textDocument }) => {
    oversize.delete(textDocument.uri);
    return ws.closed(textDocument.uri);
  });

  connection.onDidChangeWatchedFiles(async ({ changes }) => {
    if (changes.some((c) => /sentinel-policy\.ya?ml$/.test(c.uri))) ws.reloadPolicies();
    const files = changes
      .filter((c) => !/sentinel-policy\.ya?ml$/.test(c.uri))
      .map((c) => ({ path: uriToPath(c.uri), deleted: c.type === FileChangeType.Deleted, uri: c.uri }));
    for (const f of files) if (f.deleted) ws.forget(f.uri);
    await ws.rescanFiles(files.filter((f) => !f.deleted && f.path).map((f) => f.path!));
  });

  connection.notebooks.synchronization.onDidOpenNotebookDocument((params) => {
    ws.notebooks.set(params.notebookDocument.uri, new NotebookState(params.notebookDocument.uri, params));
    void ws.analyzeNotebook(params.notebookDocument.uri);
  });
  connection.notebooks.synchronization.onDidChangeNotebookDocument((params) => {
    const nb = ws.notebooks.get(params.notebookDocument.uri);
    if (!nb) return;
    nb.apply(params, ws.encoding);
    void ws.analyzeNotebook(params.notebookDocument.uri);
  });
  connection.notebooks.synchronization.onDidCloseNotebookDocument(({ notebookDocument }) => void ws.closeNotebook(notebookDocument.uri));

  connection.onHover((params) => {
    if (!hasDocument(params) || !isPosition(params.position)) throw invalidParams('textDocument/hover', '{ textDocument: { uri }, position: { line, character } }');
    const { textDocument, position } = params;
    const known = ws.findingsFor(textDocument.uri);
    if (!known) return null;
    const converter = known.converter;
    const offset = converter.offsetAt(position);
    const hit = known.findings.find((f) => f.evidence.startOffset <= offset && offset <= f.evidence.endOffset);
    const card = hit && ws.catalog.byId.get(hit.ruleId);
    if (!hit || !card) return null;
    return {
      contents: { kind: MarkupKind.Markdown, value: ruleCardMarkdown(card, hit) },
      range: converter.rangeOf(hit.evidence.startOffset, hit.evidence.endOffset),
    };
  });

  connection.onCodeAction((params) => {
    if (!hasDocument(params) || !isRange(params.range) || !isObject(params.context)) {
      throw invalidParams('textDocument/codeAction', '{ textDocument: { uri }, range: { start, end }, context: { diagnostics } }');
    }
    const { textDocument, range, context } = params;
    const known = ws.findingsFor(textDocument.uri);
    const doc = ws.documents.get(textDocument.uri);
    // A notebook cell is not a text document of its own: its text and language come from the notebook, and
    // policy edits go to the policy above the .ipynb file.
    const notebook = doc ? undefined : ws.notebookOfCell(textDocument.uri);
    const cellText = notebook?.cells.find((cell) => cell.uri === textDocument.uri)?.text;
    const current = doc ? { text: doc.text, lang: doc.lang } : cellText !== undefined ? { text: cellText, lang: 'python' as const } : undefined;
    if (!known || !current || known.text !== current.text) return [];
    const converter = known.converter;
    const fsPath = uriToPath(notebook ? notebook.uri : textDocument.uri);
    const inputs: CodeActionInput[] = [];
    const diagnostics = ws.diagnosticsFor({ uri: textDocument.uri, ...known });
    for (const diagnostic of diagnostics) {
      const data = diagnostic.data as { fingerprint?: string } | undefined;
      const finding = known.findings.find((f) => f.fingerprint === data?.fingerprint);
      const start = converter.offsetAt(range.start);
      const end = converter.offsetAt(range.end);
      if (!finding || finding.evidence.endOffset < start || finding.evidence.startOffset > end) continue;
      inputs.push({
        uri: textDocument.uri,
        text: known.text,
        lang: current.lang,
        finding,
        diagnostic,
        converter,
        policy: policyLocationFor(ws, fsPath),
      });
    }
    const only = context.only;
    const actions: CodeAction[] = [];
    if (!only || only.some((k) => k === CodeActionKind.QuickFix || CodeActionKind.QuickFix.startsWith(k))) {
      for (const input of inputs) actions.push(...codeActionsFor(input));
    }
    if (!only || only.some((k) => FIX_ALL_KIND.startsWith(k))) {
      const fixAll = fixAllActions(inputs);
      if (fixAll) actions.push(fixAll);
    }
    return actions;
  });

  connection.onExecuteCommand(async ({ command, arguments: args, workDoneToken }, cancel) => {
    switch (command) {
      case Commands.scanWorkspace: {
        // A client-provided token is used as is; otherwise the server creates one when the client shows progress.
        const reporter = workDoneToken
          ? connection.window.attachWorkDoneProgress(workDoneToken)
          : clientHasProgress
            ? await connection.window.createWorkDoneProgress()
            : undefined;
        return ws.scanWorkspace(progressFrom(reporter, cancel));
      }
      case Commands.retest:
        return ws.retest();
      case Commands.showRule: {
        const id = String(args?.[0] ?? '');
        const card = ws.catalog.byId.get(id);
        if (!card) throw new Error(`unknown rule '${id}'`);
        const result: ShowRuleResult = { ruleId: card.id, markdown: ruleCardMarkdown(card), helpUri: card.helpUri };
        return result;
      }
      default:
        throw new Error(`unknown command '${command}'`);
    }
  });

  connection.listen();
}

function progressFrom(reporter: WorkDoneProgressReporter | undefined, request: CancellationToken): ProgressReporter {
  reporter?.begin('Sentinel: scanning workspace', 0, 'listing files', true);
  // A server-created reporter carries the token the client's cancel button trips; the request has its own.
  const progressToken = (reporter as Partial<WorkDoneProgressServerReporter> | undefined)?.token;
  return {
    report: (percentage, message) => reporter?.report(percentage, message),
    isCancelled: () => request.isCancellationRequested || !!progressToken?.isCancellationRequested,
    done: () => reporter?.done(),
  };
}

/** Whether a URI's percent-escapes decode to UTF-8 (`%E9` alone does not: the path's byte is Latin-1). */
function isUtf8Uri(uri: string): boolean {
  try {
    decodeURIComponent(uri);
    return true;
  } catch {
    return false;
  }
}
