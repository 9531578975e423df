// Protocol abuse: `sentinel lsp --stdio` fed broken frames, bodies that are not JSON, unknown methods,
// documents it never opened, positions out of range, stale versions, a flood of edits and a 20 MB document.
// After each, the server logs what went wrong, answers a normal hover, and is still running.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, Hover } from 'vscode-languageserver-protocol';
import { FrameGuard } from '../../server/src/lsp/main';
import { ensureBuiltCli } from '../helpers/builtCli';
import { positionOf, TestClient } from '../helpers/lspClient';
import { makeWorkspace, removeWorkspace } from '../helpers/workspace';

const CALC = 'import math\n\n\ndef calculator(expression):\n    return eval(expression)\n';

interface LogMessage {
  type: number;
  message: string;
}

function frame(body: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([Buffer.from(`Content-Length: ${bytes.length}\r\n\r\n`), bytes]);
}

describe('language server under protocol abuse', function () {
  this.timeout(120_000);
  let root: string;
  let client: TestClient;
  let raw: string;
  let uri: string;

  before(() => ensureBuiltCli());

  beforeEach(async () => {
    root = makeWorkspace({ 'src/calc.py': CALC });
    uri = pathToFileURL(path.join(root, 'src/calc.py')).toString();
    client = new TestClient({ rootPath: root });
    raw = '';
    client.process.stdout!.on('data', (d: Buffer) => (raw += d.toString('latin1')));
    await client.initialize();
    await client.open(uri, 'python', CALC);
    await client.diagnosticsFor(uri, (ds) => ds.length === 1);
  });

  afterEach(async () => {
    await client.shutdown();
    removeWorkspace(root);
  });

  /** The server is up and answers a normal request: a hover on the eval() finding shows its rule card. */
  async function assertAlive(text = CALC): Promise<void> {
    const hover = await client.connection.sendRequest<Hover | null>('textDocument/hover', { textDocument: { uri }, position: positionOf(text, 'eval(expression)') });
    assert.ok(hover, 'a hover on the finding');
    assert.match(JSON.stringify(hover.contents), /JIT-EVAL-COMPILE/);
    assert.equal(client.process.exitCode, null, 'the server process is still running');
  }

  function logs(): string[] {
    return client.notificationsOf<LogMessage>('window/logMessage').map((l) => l.message);
  }

  async function waitForLog(pattern: RegExp): Promise<string> {
    await client.waitFor(() => logs().some((m) => pattern.test(m)), `a log message matching ${pattern}`);
    return logs().find((m) => pattern.test(m))!;
  }

  describe('malformed JSON-RPC', () => {
    const FRAMES: { name: string; bytes: Buffer; log: RegExp }[] = [
      {
        name: 'a Content-Length that is not a number',
        bytes: Buffer.from('Content-Length: abc\r\n\r\n{}'),
        log: /^sentinel: a message from the client was dropped: Content-Length is not a number of bytes \("abc"\); reading on from the next Content-Length header$/,
      },
      {
        name: 'a header without Content-Length',
        bytes: Buffer.from('Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{"jsonrpc":"2.0","id":7,"method":"shutdown"}'),
        log: /^sentinel: a message from the client was dropped: the header has no Content-Length; reading on/,
      },
      {
        name: 'garbage instead of a header',
        bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff garbage'),
        log: /^sentinel: a message from the client was dropped: a header line is not 'Name: value' \("GET \/ HTTP\/1\.1"\); reading on/,
      },
      {
        name: 'a Content-Length over the limit',
        bytes: Buffer.from('Content-Length: 999999999999\r\n\r\n{}'),
        log: /^sentinel: a message from the client was dropped: Content-Length 999999999999 is over the 268435456-byte limit for one message; reading on/,
      },
      {
        name: 'kilobytes of binary noise with no header at all',
        bytes: Buffer.alloc(20_000, 0xab),
        log: /^sentinel: a message from the client was dropped: 20000 bytes arrived without a message header; reading on/,
      },
    ];

    for (const f of FRAMES) {
      it(`drops ${f.name}, logs why, and reads on from the next message`, async () => {
        client.process.stdin!.write(f.bytes);
        await waitForLog(f.log);
        await assertAlive();
      });
    }

    it('answers a body that is not JSON with a -32700 parse error (id null) and logs it', async () => {
      client.process.stdin!.write(frame('{"jsonrpc": "2.0", "id": 5, "method": '));
      await waitForLog(/^sentinel: dropped a message from the client: /);
      // A response with a null id wakes no waiter in the test client: poll the raw stream for it.
      const deadline = Date.now() + 15_000;
      while (!/"id":null,"error":\{"code":-32700,"message":"Parse error: /.test(raw)) {
        assert.ok(Date.now() < deadline, `no -32700 response; the server wrote: ${raw.slice(-500)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await assertAlive();
    });

    it('logs JSON that is not a JSON-RPC message (a number, an object without method or id)', async () => {
      client.process.stdin!.write(frame('42'));
      client.process.stdin!.write(frame('{"foo": 1}'));
      await waitForLog(/neither a response nor a notification message:\n42/);
      await waitForLog(/neither a response nor a notification message:\n\{\n {4}"foo": 1\n\}/);
      await assertAlive();
    });

    it('survives a body that is invalid UTF-8', async () => {
      client.process.stdin!.write(frame(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])));
      await waitForLog(/neither a response nor a notification message|dropped a message from the client/);
      await assertAlive();
    });
  });

  it('answers an unknown request with MethodNotFound (-32601) and ignores an unknown notification', async () => {
    await assert.rejects(client.connection.sendRequest('sentinel/doesNotExist', { x: 1 }), (err: { code?: number; message?: string }) => err.code === -32601 && /Unhandled method sentinel\/doesNotExist/.test(err.message ?? ''));
    await assert.rejects(client.connection.sendRequest('$/unknownRequest', {}), (err: { code?: number }) => err.code === -32601);
    const before = raw.length;
    await client.connection.sendNotification('sentinel/unknownNotification', { y: 2 });
    await client.connection.sendNotification('$/unknownNotification', {});
    await assertAlive();
    assert.doesNotMatch(raw.slice(before), /unknownNotification/, 'nothing answered to a notification');
  });

  it('answers hover and code actions for a document it never opened with null and an empty list', async () => {
    const never = pathToFileURL(path.join(root, 'src/never-opened.py')).toString();
    const hover = await client.connection.sendRequest('textDocument/hover', { textDocument: { uri: never }, position: { line: 0, character: 0 } });
    assert.equal(hover, null);
    const actions = await client.connection.sendRequest<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri: never },
      range: { start: { line: 0, character: 0 }, end: { line: 3, character: 0 } },
      context: { diagnostics: [] },
    });
    assert.deepEqual(actions, []);
    const odd = await client.connection.sendRequest('textDocument/hover', { textDocument: { uri: 'untitled:Untitled-1' }, position: { line: 0, character: 0 } });
    assert.equal(odd, null);
    await assertAlive();
  });

  it('answers requests with missing or wrongly typed params with InvalidParams (-32602) naming what is needed', async () => {
    const invalid = (method: string, needs: RegExp) => (err: { code?: number; message?: string }) => err.code === -32602 && err.message!.startsWith(method) && needs.test(err.message!);
    await assert.rejects(client.connection.sendRequest('textDocument/hover', {}), invalid('textDocument/hover', /position/));
    await assert.rejects(client.connection.sendRequest('textDocument/hover', { textDocument: { uri: 42 }, position: { line: 0, character: 0 } }), invalid('textDocument/hover', /uri/));
    await assert.rejects(client.connection.sendRequest('textDocument/hover', { textDocument: { uri: 'file:///x.py' }, position: { line: 'a', character: 0 } }), invalid('textDocument/hover', /line/));
    await assert.rejects(client.connection.sendRequest('textDocument/codeAction', { textDocument: { uri: 'file:///x.py' }, range: null, context: { diagnostics: [] } }), invalid('textDocument/codeAction', /range/));
    await assertAlive();
  });

  it('logs and ignores malformed didOpen and didChange notifications', async () => {
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri: 'file:///bad.py', languageId: 'python', version: 1 } });
    assert.match(await waitForLog(/ignored a textDocument\/didOpen/), /uri, languageId, version, text/);
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 99 }, contentChanges: [{ range: null, text: 5 }] });
    assert.match(await waitForLog(/ignored a textDocument\/didChange/), /contentChanges/);
    await assertAlive();
  });

  it('clamps out-of-range and negative positions in hover, code actions and edits', async () => {
    for (const position of [{ line: 1_000_000, character: 1_000_000 }, { line: -1, character: -5 }]) {
      const hover = await client.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position });
      assert.equal(hover, null, JSON.stringify(position));
    }
    // Past the end of the eval() line clamps to that line's end, which is the end of the finding.
    const clamped = await client.connection.sendRequest<Hover | null>('textDocument/hover', { textDocument: { uri }, position: { line: 4, character: 1_000_000 } });
    assert.deepEqual(clamped?.range?.start, positionOf(CALC, 'eval(expression)'));
    const actions = await client.connection.sendRequest<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri },
      range: { start: { line: 99, character: 99 }, end: { line: -3, character: 0 } },
      context: { diagnostics: [] },
    });
    assert.ok(Array.isArray(actions));
    // An edit far past the end appends; one with its end before its start inserts at the start.
    await client.change(uri, 2, [{ range: { start: { line: 500, character: 9 }, end: { line: 900, character: 0 } }, text: '\n# tail\n' }]);
    await client.change(uri, 3, [{ range: { start: { line: 1, character: 0 }, end: { line: 0, character: 0 } }, text: '# head\n' }]);
    const [d] = await client.diagnosticsFor(uri, (ds, v) => v === 3 && ds.length === 1);
    const now = `import math\n# head\n${CALC.slice('import math\n'.length)}\n# tail\n`;
    assert.deepEqual(d.range.start, positionOf(now, 'eval(expression)'));
    await assertAlive(now);
  });

  it('ignores an edit on a stale version and logs it; later edits apply to the current text', async () => {
    await client.change(uri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# v2\n' }]);
    await client.diagnosticsFor(uri, (_ds, v) => v === 2);
    // Version 2 again, and version 1: both would delete the whole file if they were applied.
    await client.change(uri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 99, character: 0 } }, text: '' }]);
    await client.change(uri, 1, [{ text: '' }]);
    await waitForLog(new RegExp(`^sentinel: ignored a change to ${uri.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} at version 1, not after 2$`));
    await client.change(uri, 3, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# v3\n' }]);
    const [d] = await client.diagnosticsFor(uri, (ds, v) => v === 3 && ds.length === 1);
    assert.deepEqual(d.range.start, positionOf(`# v3\n# v2\n${CALC}`, 'eval(expression)'));
  });

  it('keeps up with a flood of 2,000 edits and publishes the last version with the right positions', async () => {
    let text = CALC;
    for (let v = 2; v <= 2001; v++) {
      // Alternate inserting a line at the top and typing into the comment it makes.
      const change = v % 2 === 0 ? { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '#\n' } : { range: { start: { line: 0, character: 1 }, end: { line: 0, character: 1 } }, text: 'x' };
      text = v % 2 === 0 ? `#\n${text}` : `#x${text.slice(1)}`;
      void client.change(uri, v, [change]);
    }
    const [d] = await client.diagnosticsFor(uri, (ds, v) => v === 2001 && ds.length === 1, 'diagnostics for version 2001');
    assert.deepEqual(d.range.start, positionOf(text, 'eval(expression)'));
    await assertAlive(text);
  });

  it('says which workspace folders it cannot scan: one whose path is not UTF-8 (%E9), one that does not exist', async () => {
    const other = new TestClient({ rootPath: root, extraFolderUris: [`${pathToFileURL(root).toString()}/%E9t%E9`, `${pathToFileURL(root).toString()}/gone`] });
    try {
      await other.initialize();
      const shown = (): string[] => other.notificationsOf<LogMessage>('window/showMessage').filter((m) => m.type === 2).map((m) => m.message);
      await other.waitFor(() => shown().length >= 2, 'two warnings');
      const base = pathToFileURL(root).toString();
      assert.deepEqual(shown().sort(), [
        `Sentinel: the workspace folder ${base}/%E9t%E9 is not scanned: its path holds bytes that are not valid UTF-8, which Node.js cannot open.`,
        `Sentinel: the workspace folder ${base}/gone is not scanned: it does not exist.`,
      ]);
    } finally {
      await other.shutdown();
    }
  });

  it('does not analyse a 20 MB document: logs and shows why, publishes no findings, and answers at once', async () => {
    const big = pathToFileURL(path.join(root, 'src/big.py')).toString();
    const filler = '# filler line to make a very large document\n';
    const bigText = `${filler.repeat(Math.ceil((20 * 1024 * 1024) / filler.length))}def f(x):\n    return eval(x)\n`;
    await client.open(big, 'python', bigText);
    const expected = `Sentinel does not analyse ${big}: it is ${bigText.length} characters, over the sentinel.maxFileSize limit of 5242880`;
    await waitForLog(new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));
    await client.waitFor(() => client.notificationsOf<LogMessage>('window/showMessage').some((m) => m.message === expected && m.type === 2), 'a warning shown to the user');
    const ds = await client.diagnosticsFor(big);
    assert.deepEqual(ds, []);
    const hover = await client.connection.sendRequest('textDocument/hover', { textDocument: { uri: big }, position: { line: 471_000, character: 12 } });
    assert.equal(hover, null);
    await assertAlive();
    // Cut down to a normal size, it is analysed again.
    await client.change(big, 2, [{ text: 'def f(x):\n    return eval(x)\n' }]);
    await client.diagnosticsFor(big, (d, v) => v === 2 && d.length === 1);
  });

  it('ignores didClose and didChange for documents it never opened', async () => {
    const ghost = pathToFileURL(path.join(root, 'src/ghost.py')).toString();
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: ghost } });
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: 'untitled:nothing' } });
    await client.change(ghost, 5, [{ text: 'eval(x)\n' }]);
    await assertAlive();
    assert.equal(client.latest(ghost)?.diagnostics.length ?? 0, 0);
  });
});

describe('FrameGuard (the stdio framing check)', () => {
  /** Feeds `input` in chunks of `size` bytes and returns what passes and what was reported. */
  function feed(input: Buffer, size: number): { out: Buffer; problems: string[] } {
    const problems: string[] = [];
    const guard = new FrameGuard((p) => problems.push(p));
    const out: Buffer[] = [];
    guard.on('data', (d: Buffer) => out.push(d));
    for (let i = 0; i < input.length; i += size) guard.write(input.subarray(i, i + size));
    return { out: Buffer.concat(out), problems };
  }

  const good = [frame('{"jsonrpc":"2.0","id":1,"method":"a"}'), frame(`{"jsonrpc":"2.0","method":"b","params":"${'x'.repeat(70_000)}"}`), frame('{"jsonrpc":"2.0","id":2,"method":"c"}')];

  it('passes whole messages through unchanged, however the bytes are split', () => {
    const input = Buffer.concat(good);
    for (const size of [1, 7, 4096, 65_536, input.length]) {
      const { out, problems } = feed(input, size);
      assert.deepEqual(problems, [], `chunks of ${size}`);
      assert.ok(out.equals(input), `chunks of ${size}`);
    }
  });

  it('drops a broken message and keeps the ones around it, however the bytes are split', () => {
    const input = Buffer.concat([good[0], Buffer.from('Content-Length: 12x\r\n\r\n{"a":1}'), good[1], Buffer.from('\r\nnoise\r\n\r\n'), good[2]]);
    for (const size of [1, 13, 65_536, input.length]) {
      const { out, problems } = feed(input, size);
      assert.ok(out.equals(Buffer.concat(good)), `chunks of ${size}: ${out.toString('latin1').slice(0, 200)}`);
      assert.equal(problems.length, 2, `chunks of ${size}: ${problems.join(' | ')}`);
    }
  });
});
