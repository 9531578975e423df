// Starts the language server: `sentinel lsp --stdio` for any LSP editor, or over IPC when VS Code's
// client launches dist/server.js. stdout is the protocol, so nothing else may print to it.
import { Transform, type TransformCallback } from 'node:stream';
import {
  type Connection,
  createConnection,
  ErrorCodes,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver/node';
import { startServer } from './server';

/** The largest message the server accepts over stdio; a bigger Content-Length is a broken or hostile client. */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/** Headers are a line or two; this many bytes without the blank line that ends them is not a header. */
const MAX_HEADER_BYTES = 8 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Passes on only whole messages whose header holds a valid Content-Length. After a broken header it skips
 * to the next `Content-Length:`, so one bad message costs that message, not the rest of the session (the
 * JSON-RPC reader stops making sense of the stream after a header it cannot parse).
 */
export class FrameGuard extends Transform {
  private buffer: Buffer = Buffer.alloc(0);
  /** After a broken header: looking for the next `Content-Length:`, with the bytes before it dropped. */
  private resyncing = false;
  private dropped = 0;

  constructor(private readonly report: (problem: string) => void) {
    super();
  }

  /** Chunks of a body still arriving, joined once it is whole: a 20 MB message is copied once, not per chunk. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private needed = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.needed) {
      this.buffer = Buffer.concat([this.buffer, ...this.pending]);
      this.pending = [];
      this.pendingBytes = 0;
      this.needed = 0;
      this.drain();
    }
    done();
  }

  private drain(): void {
    for (;;) {
      if (this.resyncing && !this.resync()) return;
      const end = this.buffer.indexOf(HEADER_END);
      if (end < 0) {
        if (this.buffer.length > MAX_HEADER_BYTES) this.startResync(`${this.buffer.length} bytes arrived without a message header`);
        else return;
        continue;
      }
      const length = contentLength(this.buffer.subarray(0, end).toString('latin1'));
      if (typeof length === 'string') {
        this.startResync(length);
        continue;
      }
      const total = end + HEADER_END.length + length;
      if (this.buffer.length < total) {
        this.needed = total - this.buffer.length;
        return;
      }
      this.push(this.buffer.subarray(0, total));
      this.buffer = this.buffer.subarray(total);
    }
  }

  private startResync(problem: string): void {
    this.report(`a message from the client was dropped: ${problem}; reading on from the next Content-Length header`);
    this.resyncing = true;
    this.dropped = 1;
    this.buffer = this.buffer.subarray(1);
  }

  /** Drops bytes up to the next `Content-Length:`; false while none has arrived yet (a partial one is kept). */
  private resync(): boolean {
    const next = this.buffer.toString('latin1').search(/content-length:/i);
    if (next < 0) {
      const keep = Math.min(this.buffer.length, 'content-length:'.length - 1);
      this.dropped += this.buffer.length - keep;
      this.buffer = this.buffer.subarray(this.buffer.length - keep);
      return false;
    }
    this.dropped += next;
    this.buffer = this.buffer.subarray(next);
    this.resyncing = false;
    return true;
  }
}

/** The body length a header announces, or why the header is unusable. */
function contentLength(header: string): number | string {
  let length: number | undefined;
  for (const line of header.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return `a header line is not 'Name: value' (${JSON.stringify(line.slice(0, 80))})`;
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d{1,12}$/.test(value)) return `Content-Length is not a number of bytes (${JSON.stringify(value.slice(0, 40))})`;
    length = Number(value);
  }
  if (length === undefined) return 'the header has no Content-Length';
  if (length > MAX_MESSAGE_BYTES) return `Content-Length ${length} is over the ${MAX_MESSAGE_BYTES}-byte limit for one message`;
  return length;
}

/** Over stdio: frames checked by FrameGuard, and a body that is not JSON answered with a JSON-RPC parse error. */
function stdioConnection(log: (message: string) => void): Connection {
  const guard = new FrameGuard(log);
  process.stdin.pipe(guard);
  const reader = new StreamMessageReader(guard);
  const writer = new StreamMessageWriter(process.stdout);
  reader.onError((err) => {
    log(`dropped a message from the client: ${err.message.split('\n')[0]}`);
    // JSON-RPC 2.0: a body that does not parse is answered with -32700 and a null id (its id is unknowable).
    if (err instanceof SyntaxError) {
      void writer.write({ jsonrpc: '2.0', id: null, error: { code: ErrorCodes.ParseError, message: `Parse error: ${err.message}` } } as never);
    }
  });
  const connection = createConnection(ProposedFeatures.all, reader, writer);
  let shutdown = false;
  connection.onShutdown(() => {
    shutdown = true;
  });
  // As vscode-languageserver does for its own stdin: the editor went away, so the server goes too.
  const exit = (): never => process.exit(shutdown ? 0 : 1);
  process.stdin.on('end', exit);
  process.stdin.on('close', exit);
  return connection;
}

export function runLanguageServer(): void {
  const holder: { connection?: Connection } = {};
  // Frame problems can only arrive once the connection listens, so the log always has somewhere to go.
  const log = (message: string): void => holder.connection?.console.error(`sentinel: ${message}`);
  // createConnection reads --node-ipc / --socket / --pipe from process.argv; stdio is wired here to guard it.
  const conn = process.argv.includes('--stdio') ? stdioConnection(log) : createConnection(ProposedFeatures.all);
  holder.connection = conn;
  // Anything that would write to stdout would corrupt the protocol stream: route it to the client log.
  // eslint-disable-next-line no-console -- replacing console.log is the point: keep stdout for the protocol
  console.log = (...args: unknown[]) => conn.console.log(args.map(String).join(' '));
  // eslint-disable-next-line no-console -- as above
  console.info = console.debug = console.log;
  // eslint-disable-next-line no-console -- as above
  console.dir = (item: unknown) => conn.console.log(String(item));
  // One failed promise must not take the editor's server down: log it and keep serving.
  process.on('unhandledRejection', (reason) => conn.console.error(`sentinel: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`));
  startServer(conn);
}
