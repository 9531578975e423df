// Correctness of the language server under bursts of edits (not timing: the latency bench measures that).
// Changes that arrive before or during an analysis are folded into one analysis of the latest version, no
// result is published for a version the editor has already left, and what is published for a version is
// exactly what a fresh analysis of that version's text gives.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Connection, Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver/node';
import { OpenDocument } from '../../server/src/lsp/documents';
import { Workspace } from '../../server/src/lsp/workspace';
import { ensureBuiltCli } from '../helpers/builtCli';
import { TestClient } from '../helpers/lspClient';
import { makeWorkspace, removeWorkspace } from '../helpers/workspace';

/** A Python module of `blocks` blocks, every other one with a sink fed by a parameter. */
function moduleText(blocks: number): string {
  const lines = ['"""Burst test module."""', 'import json', ''];
  const sinks = ['return eval(expression)', 'exec(expression, namespace)', 'return compile(expression, "<s>", "exec")'];
  for (let b = 0; b < blocks; b++) {
    lines.push(
      '',
      `def transform_${b}(records, factor=${b + 1}):`,
      `    """Scale block ${b}."""`,
      '    return [r * factor for r in records]',
      '',
      '',
      `class Handler${b}:`,
      '    def evaluate(self, expression, namespace=None):',
      '        namespace = dict(namespace or {})',
      b % 2 === 0 ? `        ${sinks[(b / 2) % sinks.length]}` : '        return json.dumps(expression)',
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}

interface Key {
  line: number;
  character: number;
  /** Characters replaced after the position (0 for typing). */
  remove: number;
  text: string;
}

/**
 * Keystrokes that add sinks (half-typed ones break the syntax), type into a docstring, insert lines above
 * existing findings, and delete a sink's first letter and put it back.
 */
function burst(text: string): Key[] {
  const lines = text.split('\n');
  const find = (prefix: string, from = 0): number => lines.findIndex((l, i) => i >= from && l.startsWith(prefix));
  const keys: Key[] = [];
  const typed = (line: number, character: number, snippet: string): void => {
    for (let c = 0; c < snippet.length; c++) keys.push({ line, character: character + c, remove: 0, text: snippet[c] });
  };
  const late = find('def transform_6');
  typed(late, 0, 'exec(payload)\n');
  const doc = find('    """Scale block 2');
  typed(doc, 7, 'See #42 ');
  const early = find('def transform_1(');
  typed(early, 0, 'eval(data)\n');
  // `return eval(expression)` of block 0, above every line typed so far: `eval` → `val` → `eval`.
  const sink = find('        return eval(expression)');
  keys.push({ line: sink, character: 15, remove: 1, text: '' });
  keys.push({ line: sink, character: 15, remove: 0, text: 'e' });
  return keys;
}

/** The text after `key`, for checking what each version should give. */
function applyKey(text: string, key: Key): string {
  const lines = text.split('\n');
  const offset = lines.slice(0, key.line).reduce((n, l) => n + l.length + 1, 0) + key.character;
  return text.slice(0, offset) + key.text + text.slice(offset + key.remove);
}

function changeOf(key: Key): { range: { start: { line: number; character: number }; end: { line: number; character: number } }; text: string } {
  return { range: { start: { line: key.line, character: key.character }, end: { line: key.line, character: key.character + key.remove } }, text: key.text };
}

/** A workspace whose connection records what it would send. */
function recordingWorkspace(root: string): { ws: Workspace; published: PublishDiagnosticsParams[]; next: () => Promise<PublishDiagnosticsParams> } {
  const published: PublishDiagnosticsParams[] = [];
  let wake: (() => void) | undefined;
  const connection = {
    sendDiagnostics: (p: PublishDiagnosticsParams) => {
      published.push(p);
      wake?.();
      return Promise.resolve();
    },
    sendNotification: () => Promise.resolve(),
    console: { error: (m: string) => assert.fail(m), warn: () => undefined, log: () => undefined, info: () => undefined },
  } as unknown as Connection;
  const ws = new Workspace(connection);
  ws.roots = [root];
  const next = (): Promise<PublishDiagnosticsParams> => {
    const seen = published.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no diagnostics published within 30 s')), 30_000);
      wake = () => {
        if (published.length > seen) {
          clearTimeout(timer);
          wake = undefined;
          resolve(published[published.length - 1]);
        }
      };
    });
  };
  return { ws, published, next };
}

/** Diagnostics of a fresh analysis of `text`: a new workspace that opens it, with no edit history. */
async function freshDiagnostics(root: string, uri: string, text: string): Promise<Diagnostic[]> {
  const { ws, next } = recordingWorkspace(root);
  const done = next();
  ws.documents.set(uri, new OpenDocument(uri, 'python', 1, 'python', text));
  ws.schedule(uri);
  return (await done).diagnostics;
}

describe('language server under bursts of edits (in process)', function () {
  this.timeout(60000);
  let root: string;
  const text = moduleText(12);

  beforeEach(() => {
    root = makeWorkspace({ 'README.md': 'burst test\n' });
  });
  afterEach(() => removeWorkspace(root));

  it('folds the changes that arrive before the analysis starts into one analysis of the latest version', async () => {
    const { ws, published, next } = recordingWorkspace(root);
    const uri = pathToFileURL(path.join(root, 'burst.py')).toString();
    const opened = next();
    ws.documents.set(uri, new OpenDocument(uri, 'python', 1, 'python', text));
    ws.schedule(uri);
    await opened;
    const doc = ws.documents.get(uri)!;
    let expected = text;
    const keys = burst(text);
    const done = next();
    for (const [i, key] of keys.entries()) {
      doc.applyChanges([changeOf(key)], 2 + i, ws.encoding);
      expected = applyKey(expected, key);
      ws.schedule(uri);
    }
    const last = await done;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(doc.text, expected);
    assert.deepEqual(published.map((p) => p.version), [1, 1 + keys.length], 'one analysis for the open, one for the whole burst');
    assert.deepEqual(last.diagnostics, await freshDiagnostics(root, uri, expected));
  });

  it('does not publish a result for a version left during its analysis, and analyses the latest one next', async () => {
    const { ws, published, next } = recordingWorkspace(root);
    const uri = pathToFileURL(path.join(root, 'burst.py')).toString();
    const opened = next();
    ws.documents.set(uri, new OpenDocument(uri, 'python', 1, 'python', text));
    ws.schedule(uri);
    await opened;
    const doc = ws.documents.get(uri)!;
    const keys = burst(text);
    let expected = applyKey(text, keys[0]);
    // The rest of the burst arrives while version 2 is being parsed and analysed.
    const original = doc.syntax.syntaxTree.bind(doc.syntax);
    let hooked = false;
    doc.syntax.syntaxTree = async () => {
      const tree = await original();
      if (!hooked) {
        hooked = true;
        for (const [i, key] of keys.slice(1).entries()) {
          doc.applyChanges([changeOf(key)], 3 + i, ws.encoding);
          expected = applyKey(expected, key);
          ws.schedule(uri);
        }
        return original();
      }
      return tree;
    };
    doc.applyChanges([changeOf(keys[0])], 2, ws.encoding);
    ws.schedule(uri);
    let last = await next();
    while (last.version !== 1 + keys.length) last = await next();
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(hooked);
    assert.deepEqual(published.map((p) => p.version), [1, 1 + keys.length], 'version 2 was left before its result was ready');
    assert.deepEqual(last.diagnostics, await freshDiagnostics(root, uri, expected));
  });

  it('publishes for every analysed version what a fresh analysis of its text gives, edit by edit', async () => {
    const { ws, next } = recordingWorkspace(root);
    const uri = pathToFileURL(path.join(root, 'burst.py')).toString();
    const opened = next();
    ws.documents.set(uri, new OpenDocument(uri, 'python', 1, 'python', text));
    ws.schedule(uri);
    await opened;
    const doc = ws.documents.get(uri)!;
    let expected = text;
    const counts = new Set<number>();
    for (const [i, key] of burst(text).entries()) {
      const done = next();
      doc.applyChanges([changeOf(key)], 2 + i, ws.encoding);
      expected = applyKey(expected, key);
      ws.schedule(uri);
      const got = await done;
      assert.equal(got.version, 2 + i);
      assert.deepEqual(got.diagnostics, await freshDiagnostics(root, uri, expected), `after edit ${i + 1}`);
      counts.add(got.diagnostics.length);
    }
    assert.ok(counts.size > 1, 'the burst added and removed findings');
  });
});

describe('language server under bursts of edits (over stdio)', function () {
  this.timeout(120000);
  let root: string;
  let client: TestClient | undefined;
  let reference: TestClient | undefined;

  before(() => ensureBuiltCli());
  beforeEach(() => {
    root = makeWorkspace({ 'README.md': 'burst test\n' });
  });
  afterEach(async () => {
    await client?.shutdown();
    await reference?.shutdown();
    client = reference = undefined;
    removeWorkspace(root);
  });

  it('answers a burst sent without waiting: versions in order, the last one published, each equal to a fresh open of its text', async () => {
    client = new TestClient({ rootPath: root });
    await client.initialize();
    const uri = pathToFileURL(path.join(root, 'burst.py')).toString();
    // Large enough that edits arrive while an analysis runs.
    const text = moduleText(300);
    await client.open(uri, 'python', text);
    await client.diagnosticsFor(uri, (_d, v) => v === 1, 'diagnostics for version 1');
    const texts = new Map<number, string>([[1, text]]);
    let current = text;
    const keys = burst(text);
    for (const [i, key] of keys.entries()) {
      current = applyKey(current, key);
      texts.set(2 + i, current);
      void client.change(uri, 2 + i, [changeOf(key)]);
    }
    const lastVersion = 1 + keys.length;
    await client.diagnosticsFor(uri, (_d, v) => v === lastVersion, `diagnostics for version ${lastVersion}`);
    await new Promise((r) => setTimeout(r, 200));
    const published = client.diagnostics.get(uri) ?? [];
    const versions = published.map((p) => p.version!);
    // A version may be published twice (the settings arriving after the open re-analyse it), never after a newer one.
    for (let i = 1; i < versions.length; i++) assert.ok(versions[i] >= versions[i - 1], `published versions never go back: ${versions.join(', ')}`);
    assert.equal(versions[versions.length - 1], lastVersion);

    // The reference: each published version's text opened from scratch in another server, under the same URI.
    reference = new TestClient({ rootPath: root });
    await reference.initialize();
    for (const p of published) {
      await reference.open(uri, 'python', texts.get(p.version!)!, p.version!);
      await reference.diagnosticsFor(uri, (_d, v) => v === p.version, `reference diagnostics for version ${p.version}`);
      assert.deepEqual(p.diagnostics, reference.latest(uri)!.diagnostics, `version ${p.version}`);
      await reference.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
      await reference.waitFor(() => reference!.latest(uri)!.version === undefined, 'the reference document closed');
    }
  });
});
