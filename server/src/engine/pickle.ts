// Disassembles Python pickles opcode by opcode (protocols 0–5, several pickles in a row) without unpickling:
// a symbolic stack links each import (GLOBAL, STACK_GLOBAL, INST, EXT*) to the opcodes that call it.
import type { Buffer } from 'node:buffer';

/** How an opcode's argument is encoded, after pickletools' names. */
type ArgKind =
  | 'none'
  | 'uint1'
  | 'uint2'
  | 'int4'
  | 'uint4'
  | 'uint8'
  | 'long1'
  | 'long4'
  | 'string1'
  | 'string4'
  | 'bytes1'
  | 'bytes4'
  | 'bytes8'
  | 'unicode1'
  | 'unicode4'
  | 'unicode8'
  | 'float8'
  | 'line'
  | 'linePair';

interface OpInfo {
  name: string;
  arg: ArgKind;
}

/** Every opcode of protocols 0–5, by byte value (Lib/pickletools.py lists the same 68). */
const OPCODES: ReadonlyMap<number, OpInfo> = new Map<number, OpInfo>(
  (
    [
      [0x28, 'MARK', 'none'], [0x2e, 'STOP', 'none'], [0x30, 'POP', 'none'], [0x31, 'POP_MARK', 'none'],
      [0x32, 'DUP', 'none'], [0x46, 'FLOAT', 'line'], [0x49, 'INT', 'line'], [0x4a, 'BININT', 'int4'],
      [0x4b, 'BININT1', 'uint1'], [0x4c, 'LONG', 'line'], [0x4d, 'BININT2', 'uint2'], [0x4e, 'NONE', 'none'],
      [0x50, 'PERSID', 'line'], [0x51, 'BINPERSID', 'none'], [0x52, 'REDUCE', 'none'], [0x53, 'STRING', 'line'],
      [0x54, 'BINSTRING', 'string4'], [0x55, 'SHORT_BINSTRING', 'string1'], [0x56, 'UNICODE', 'line'],
      [0x58, 'BINUNICODE', 'unicode4'], [0x61, 'APPEND', 'none'], [0x62, 'BUILD', 'none'], [0x63, 'GLOBAL', 'linePair'],
      [0x64, 'DICT', 'none'], [0x7d, 'EMPTY_DICT', 'none'], [0x65, 'APPENDS', 'none'], [0x67, 'GET', 'line'],
      [0x68, 'BINGET', 'uint1'], [0x69, 'INST', 'linePair'], [0x6a, 'LONG_BINGET', 'uint4'], [0x6c, 'LIST', 'none'],
      [0x5d, 'EMPTY_LIST', 'none'], [0x6f, 'OBJ', 'none'], [0x70, 'PUT', 'line'], [0x71, 'BINPUT', 'uint1'],
      [0x72, 'LONG_BINPUT', 'uint4'], [0x73, 'SETITEM', 'none'], [0x74, 'TUPLE', 'none'], [0x29, 'EMPTY_TUPLE', 'none'],
      [0x75, 'SETITEMS', 'none'], [0x47, 'BINFLOAT', 'float8'], [0x80, 'PROTO', 'uint1'], [0x81, 'NEWOBJ', 'none'],
      [0x82, 'EXT1', 'uint1'], [0x83, 'EXT2', 'uint2'], [0x84, 'EXT4', 'int4'], [0x85, 'TUPLE1', 'none'],
      [0x86, 'TUPLE2', 'none'], [0x87, 'TUPLE3', 'none'], [0x88, 'NEWTRUE', 'none'], [0x89, 'NEWFALSE', 'none'],
      [0x8a, 'LONG1', 'long1'], [0x8b, 'LONG4', 'long4'], [0x42, 'BINBYTES', 'bytes4'], [0x43, 'SHORT_BINBYTES', 'bytes1'],
      [0x8c, 'SHORT_BINUNICODE', 'unicode1'], [0x8d, 'BINUNICODE8', 'unicode8'], [0x8e, 'BINBYTES8', 'bytes8'],
      [0x8f, 'EMPTY_SET', 'none'], [0x90, 'ADDITEMS', 'none'], [0x91, 'FROZENSET', 'none'], [0x92, 'NEWOBJ_EX', 'none'],
      [0x93, 'STACK_GLOBAL', 'none'], [0x94, 'MEMOIZE', 'none'], [0x95, 'FRAME', 'uint8'], [0x96, 'BYTEARRAY8', 'bytes8'],
      [0x97, 'NEXT_BUFFER', 'none'], [0x98, 'READONLY_BUFFER', 'none'],
    ] as [number, string, ArgKind][]
  ).map(([code, name, arg]) => [code, { name, arg }]),
);

/** The opcodes that bring a global into the stream. */
export type ImportOpcode = 'GLOBAL' | 'STACK_GLOBAL' | 'INST' | 'EXT1' | 'EXT2' | 'EXT4';
/** The opcodes that call (or instantiate) what is on the stack. */
export type CallOpcode = 'REDUCE' | 'INST' | 'OBJ' | 'NEWOBJ' | 'NEWOBJ_EX';

export interface PickleCall {
  opcode: CallOpcode;
  /** Byte offset of the calling opcode. */
  offset: number;
  /** True when the callee is the result of calling the import (`getattr(os, 'system')(…)`), not the import itself. */
  indirect: boolean;
}

export interface PickleImport {
  /** Module and name as written in the stream; `?` when they are not known before loading. */
  module: string;
  name: string;
  /** `module.name` as Python 3 resolves it (protocol 0–2 names such as `__builtin__` mapped as `fix_imports` does). */
  qualified: string;
  /** False for extension-registry codes and STACK_GLOBAL operands computed at load time. */
  known: boolean;
  opcode: ImportOpcode;
  /** Byte offset of the importing opcode. */
  offset: number;
  /** Which pickle of the stream (0-based) holds it. */
  pickle: number;
  calls: PickleCall[];
}

export interface PickleOpcode {
  offset: number;
  name: string;
  /** The decoded argument: numbers, strings (cut at 120 characters), or `<N bytes>` for binary payloads. */
  arg?: string | number;
}

/** A byte or text payload that is itself loadable: a nested pickle, a zip archive, or Python source. */
export interface EmbeddedPayload {
  kind: 'pickle' | 'zip' | 'python';
  offset: number;
  length: number;
  pickle: number;
}

export interface PickleProblem {
  kind: 'truncated' | 'malformed';
  /** Byte offset of the opcode that could not be read or executed (the end of the data for a missing STOP). */
  offset: number;
  message: string;
  pickle: number;
}

export interface PickleStream {
  index: number;
  start: number;
  /** Offset just past the STOP opcode, or where reading stopped. */
  end: number;
  protocol: number;
  complete: boolean;
}

export interface PickleDisassembly {
  pickles: PickleStream[];
  imports: PickleImport[];
  opcodes: PickleOpcode[];
  /** Opcodes read but not recorded in `opcodes` (beyond `maxRecordedOpcodes`, or all when recording is off). */
  opcodesOmitted: number;
  embedded: EmbeddedPayload[];
  problems: PickleProblem[];
  /** Bytes after the last pickle read, when `maxPickles` stopped the reading (torch's raw storage data). */
  trailingBytes: number;
}

export interface DisassembleOptions {
  /** Stop after this many pickles (Numba's index holds 2, torch's legacy format 5). Default: read to the end. */
  maxPickles?: number;
  /** Keep the opcode listing (default true); scanners only need imports and problems. */
  recordOpcodes?: boolean;
  /** Default 100,000. */
  maxRecordedOpcodes?: number;
  /** Added to every reported offset, when `data` is a slice of a larger file. */
  baseOffset?: number;
}

/** Python 2 module names that Python 3's unpickler maps when `fix_imports` is on (protocol < 3). */
const COMPAT_MODULES: Record<string, string> = {
  __builtin__: 'builtins',
  exceptions: 'builtins',
  copy_reg: 'copyreg',
  cPickle: 'pickle',
  cStringIO: 'io',
  StringIO: 'io',
  commands: 'subprocess',
  urllib2: 'urllib.request',
  httplib: 'http.client',
  Queue: 'queue',
  repr: 'reprlib',
  thread: '_thread',
  UserDict: 'collections',
  UserList: 'collections',
  UserString: 'collections',
};

/** Strings longer than this are never module or global names; keeping them would only cost memory. */
const MAX_NAME_LENGTH = 512;
/** Text payloads shorter than this are not worth parsing as Python source. */
const MIN_SOURCE_LENGTH = 64;
const RECORDED_TEXT = 120;

type Sym =
  | { k: 'mark' }
  | { k: 'str'; v: string }
  | { k: 'global'; imp: number }
  | { k: 'result'; imp: number }
  | { k: 'other' };

const OTHER: Sym = { k: 'other' };

class StreamError extends Error {
  constructor(
    readonly kind: 'truncated' | 'malformed',
    readonly at: number,
    message: string,
  ) {
    super(message);
  }
}

function latin1(buf: Buffer, start: number, end: number): string {
  return buf.toString('latin1', start, end);
}

/** Python's raw-unicode-escape, the encoding of protocol 0's UNICODE lines. */
function rawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, four: string | undefined, eight: string | undefined) => {
    const code = parseInt((four ?? eight)!, 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
  });
}

/** The value of protocol 0's STRING line: a quoted Python literal with backslash escapes. */
function stringLiteral(line: string): string | undefined {
  const q = line[0];
  if (line.length < 2 || (q !== "'" && q !== '"') || line[line.length - 1] !== q) return undefined;
  return line.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, esc: string) => {
    if (esc[0] === 'x') return String.fromCharCode(parseInt(esc.slice(1), 16));
    if (/^[0-7]/.test(esc)) return String.fromCharCode(parseInt(esc, 8));
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };
    return simple[esc] ?? `\\${esc}`;
  });
}

function cut(text: string): string {
  return text.length > RECORDED_TEXT ? `${text.slice(0, RECORDED_TEXT - 1)}…` : text;
}

function looksLikePythonSource(buf: Buffer, start: number, end: number): boolean {
  if (end - start < MIN_SOURCE_LENGTH) return false;
  // Only the head is examined: generated modules start with their imports.
  const head = buf.toString('utf8', start, Math.min(end, start + 4096));
  return /(^|\n)[ \t]*(import [A-Za-z_]|from [A-Za-z_][\w.]* import )/.test(head);
}

/**
 * Reads every opcode of the pickle(s) in `data` and returns what a loader would import and call, without
 * running anything. Problems (a cut-off stream, an unknown opcode, a stack that would underflow) end that
 * pickle's reading and are returned with their offset; what was read before them is kept.
 */
export function disassemblePickles(data: Buffer, options: DisassembleOptions = {}): PickleDisassembly {
  const base = options.baseOffset ?? 0;
  const maxPickles = options.maxPickles ?? Number.POSITIVE_INFINITY;
  const record = options.recordOpcodes ?? true;
  const maxRecorded = options.maxRecordedOpcodes ?? 100_000;
  const out: PickleDisassembly = { pickles: [], imports: [], opcodes: [], opcodesOmitted: 0, embedded: [], problems: [], trailingBytes: 0 };

  let pos = 0;
  if (data.length === 0) {
    out.problems.push({ kind: 'truncated', offset: base, message: 'is empty: no pickle opcodes', pickle: 0 });
    return out;
  }
  while (pos < data.length) {
    if (out.pickles.length >= maxPickles) {
      out.trailingBytes = data.length - pos;
      break;
    }
    const index = out.pickles.length;
    const stream: PickleStream = { index, start: base + pos, end: base + pos, protocol: 0, complete: false };
    out.pickles.push(stream);
    try {
      pos = readOne(data, pos, stream, out, { base, record, maxRecorded });
      stream.complete = true;
      stream.end = base + pos;
    } catch (err) {
      if (!(err instanceof StreamError)) throw err;
      stream.end = base + Math.min(err.at, data.length);
      out.problems.push({ kind: err.kind, offset: base + err.at, message: err.message, pickle: index });
      // A stream that cannot be read to its STOP gives no reliable place to resume.
      break;
    }
  }
  return out;
}

function readOne(
  data: Buffer,
  start: number,
  stream: PickleStream,
  out: PickleDisassembly,
  opts: { base: number; record: boolean; maxRecorded: number },
): number {
  let stack: Sym[] = [];
  const metastack: Sym[][] = [];
  const memo = new Map<number, Sym>();
  let pos = start;
  const end = data.length;

  const need = (at: number, n: number, what: string): void => {
    if (pos + n > end) {
      throw new StreamError('truncated', at, `is truncated: ${what} at byte ${opts.base + at} needs ${n} bytes, ${end - pos} remain`);
    }
  };
  const pop = (at: number, op: string): Sym => {
    const v = stack.pop();
    if (v === undefined) throw new StreamError('malformed', at, `is malformed: ${op} at byte ${opts.base + at} pops an empty stack`);
    return v;
  };
  const top = (at: number, op: string): Sym => {
    const v = stack[stack.length - 1];
    if (v === undefined) throw new StreamError('malformed', at, `is malformed: ${op} at byte ${opts.base + at} needs a value on the stack`);
    return v;
  };
  const popMark = (at: number, op: string): Sym[] => {
    const outer = metastack.pop();
    if (outer === undefined) throw new StreamError('malformed', at, `is malformed: ${op} at byte ${opts.base + at} has no MARK to pop to`);
    const items = stack;
    stack = outer;
    return items;
  };
  const readLine = (at: number, op: string, encoding: 'utf8' | 'latin1' = 'utf8'): string => {
    const nl = data.indexOf(0x0a, pos);
    if (nl < 0) throw new StreamError('truncated', at, `is truncated: ${op} at byte ${opts.base + at} has no end of line`);
    const text = data.toString(encoding, pos, nl);
    pos = nl + 1;
    return text;
  };
  const recordOp = (at: number, name: string, arg?: string | number): void => {
    if (opts.record && out.opcodes.length < opts.maxRecorded) out.opcodes.push(arg === undefined ? { offset: opts.base + at, name } : { offset: opts.base + at, name, arg });
    else out.opcodesOmitted++;
  };
  const addImport = (module: string, name: string, opcode: ImportOpcode, at: number, known: boolean, qualified?: string): number => {
    const resolvedModule = stream.protocol < 3 ? (COMPAT_MODULES[module] ?? module) : module;
    out.imports.push({ module, name, qualified: qualified ?? `${resolvedModule}.${name}`, known, opcode, offset: opts.base + at, pickle: stream.index, calls: [] });
    return out.imports.length - 1;
  };
  const addExtension = (code: number, opcode: ImportOpcode, at: number): Sym => ({
    k: 'global',
    imp: addImport('?', '?', opcode, at, false, `copyreg extension code ${code}`),
  });
  const call = (callee: Sym, opcode: CallOpcode, at: number): Sym => {
    if (callee.k === 'global' || callee.k === 'result') {
      out.imports[callee.imp]!.calls.push({ opcode, offset: opts.base + at, indirect: callee.k === 'result' });
      return { k: 'result', imp: callee.imp };
    }
    return OTHER;
  };
  const payload = (payloadStart: number, length: number, binary: boolean): void => {
    if (length >= 2 && data[payloadStart] === 0x80 && data[payloadStart + 1]! >= 2 && data[payloadStart + 1]! <= 5) {
      out.embedded.push({ kind: 'pickle', offset: opts.base + payloadStart, length, pickle: stream.index });
    } else if (length >= 4 && data.readUInt32LE(payloadStart) === 0x04034b50) {
      out.embedded.push({ kind: 'zip', offset: opts.base + payloadStart, length, pickle: stream.index });
    } else if (!binary && looksLikePythonSource(data, payloadStart, payloadStart + length)) {
      out.embedded.push({ kind: 'python', offset: opts.base + payloadStart, length, pickle: stream.index });
    }
  };
  const pushText = (text: string): void => {
    stack.push(text.length <= MAX_NAME_LENGTH ? { k: 'str', v: text } : OTHER);
  };

  for (;;) {
    if (pos >= end) {
      throw new StreamError('truncated', pos, `is truncated: it ends at byte ${opts.base + pos} without a STOP opcode`);
    }
    const at = pos;
    const code = data[pos]!;
    const info = OPCODES.get(code);
    if (!info) {
      throw new StreamError('malformed', at, `is malformed: byte 0x${code.toString(16).padStart(2, '0')} at byte ${opts.base + at} is not a pickle opcode`);
    }
    pos++;
    const op = info.name;
    switch (info.arg) {
      case 'none':
        recordOp(at, op);
        break;
      case 'uint1': {
        need(at, 1, op);
        const v = data[pos]!;
        pos += 1;
        recordOp(at, op, v);
        if (op === 'PROTO') {
          if (v > 5) throw new StreamError('malformed', at, `is malformed: PROTO at byte ${opts.base + at} names protocol ${v}; the highest is 5`);
          stream.protocol = v;
        } else if (op === 'BININT1') stack.push(OTHER);
        else if (op === 'BINGET') pushMemo(at, v);
        else if (op === 'BINPUT') putMemo(at, v);
        else if (op === 'EXT1') stack.push(addExtension(v, 'EXT1', at));
        break;
      }
      case 'uint2': {
        need(at, 2, op);
        const v = data.readUInt16LE(pos);
        pos += 2;
        recordOp(at, op, v);
        if (op === 'BININT2') stack.push(OTHER);
        else stack.push(addExtension(v, 'EXT2', at));
        break;
      }
      case 'int4': {
        need(at, 4, op);
        const v = data.readInt32LE(pos);
        pos += 4;
        recordOp(at, op, v);
        if (op === 'BININT') stack.push(OTHER);
        else stack.push(addExtension(v, 'EXT4', at));
        break;
      }
      case 'uint4': {
        need(at, 4, op);
        const v = data.readUInt32LE(pos);
        pos += 4;
        recordOp(at, op, v);
        if (op === 'LONG_BINGET') pushMemo(at, v);
        else putMemo(at, v);
        break;
      }
      case 'uint8': {
        // FRAME: an advisory length; the frame's opcodes follow and are read one by one.
        need(at, 8, op);
        const v = Number(data.readBigUInt64LE(pos));
        pos += 8;
        recordOp(at, op, v);
        if (v > end - pos) {
          throw new StreamError('truncated', at, `is truncated: FRAME at byte ${opts.base + at} announces ${v} bytes, ${end - pos} remain`);
        }
        break;
      }
      case 'long1':
      case 'long4': {
        const width = info.arg === 'long1' ? 1 : 4;
        need(at, width, op);
        const n = width === 1 ? data[pos]! : data.readInt32LE(pos);
        pos += width;
        if (n < 0) throw new StreamError('malformed', at, `is malformed: ${op} at byte ${opts.base + at} has a negative length`);
        need(at, n, op);
        pos += n;
        recordOp(at, op, `<${n} bytes>`);
        stack.push(OTHER);
        break;
      }
      case 'string1':
      case 'string4':
      case 'bytes1':
      case 'bytes4':
      case 'bytes8':
      case 'unicode1':
      case 'unicode4':
      case 'unicode8': {
        const width = info.arg.endsWith('1') ? 1 : info.arg.endsWith('4') ? 4 : 8;
        need(at, width, op);
        let n: number;
        if (width === 1) n = data[pos]!;
        else if (width === 4) n = info.arg === 'string4' ? data.readInt32LE(pos) : data.readUInt32LE(pos);
        else {
          const big = data.readBigUInt64LE(pos);
          n = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
        }
        pos += width;
        if (n < 0) throw new StreamError('malformed', at, `is malformed: ${op} at byte ${opts.base + at} has a negative length`);
        need(at, n, op);
        const payloadStart = pos;
        pos += n;
        const isBinary = info.arg.startsWith('bytes');
        payload(payloadStart, n, isBinary);
        if (isBinary) {
          recordOp(at, op, `<${n} bytes>`);
          stack.push(OTHER);
        } else if (n <= MAX_NAME_LENGTH) {
          const text = info.arg.startsWith('unicode') ? data.toString('utf8', payloadStart, pos) : latin1(data, payloadStart, pos);
          recordOp(at, op, cut(text));
          pushText(text);
        } else {
          recordOp(at, op, `<${n} bytes of text>`);
          stack.push(OTHER);
        }
        break;
      }
      case 'float8':
        need(at, 8, op);
        recordOp(at, op, data.readDoubleBE(pos));
        pos += 8;
        stack.push(OTHER);
        break;
      case 'line': {
        const line = readLine(at, op, op === 'UNICODE' || op === 'STRING' ? 'latin1' : 'utf8');
        recordOp(at, op, cut(line));
        if (op === 'STRING') {
          const value = stringLiteral(line);
          if (value === undefined) throw new StreamError('malformed', at, `is malformed: STRING at byte ${opts.base + at} is not a quoted literal`);
          pushText(value);
        } else if (op === 'UNICODE') pushText(rawUnicodeEscape(line));
        else if (op === 'GET' || op === 'PUT') {
          if (!/^-?\d+$/.test(line)) throw new StreamError('malformed', at, `is malformed: ${op} at byte ${opts.base + at} has a non-numeric index`);
          const idx = Number(line);
          if (op === 'GET') pushMemo(at, idx);
          else {
            if (idx < 0) throw new StreamError('malformed', at, `is malformed: PUT at byte ${opts.base + at} has a negative index`);
            putMemo(at, idx);
          }
        } else if (op === 'PERSID') stack.push(OTHER);
        else stack.push(OTHER); // INT, LONG, FLOAT
        break;
      }
      case 'linePair': {
        const module = readLine(at, op);
        const name = readLine(at, op);
        recordOp(at, op, cut(`${module} ${name}`));
        const imp = addImport(module, name, op as ImportOpcode, at, true);
        if (op === 'GLOBAL') stack.push({ k: 'global', imp });
        else {
          popMark(at, op);
          stack.push(call({ k: 'global', imp }, 'INST', at));
        }
        break;
      }
    }
    if (info.arg !== 'none') continue;

    switch (op) {
      case 'STOP':
        pop(at, op);
        return pos;
      case 'MARK':
        metastack.push(stack);
        stack = [];
        break;
      case 'POP':
        if (stack.length > 0) stack.pop();
        else popMark(at, op);
        break;
      case 'POP_MARK':
        popMark(at, op);
        break;
      case 'DUP':
        stack.push(top(at, op));
        break;
      case 'NONE':
      case 'NEWTRUE':
      case 'NEWFALSE':
      case 'EMPTY_LIST':
      case 'EMPTY_TUPLE':
      case 'EMPTY_DICT':
      case 'EMPTY_SET':
      case 'NEXT_BUFFER':
        stack.push(OTHER);
        break;
      case 'READONLY_BUFFER':
      case 'BINPERSID':
        pop(at, op);
        stack.push(OTHER);
        break;
      case 'APPEND':
        pop(at, op);
        top(at, op);
        break;
      case 'APPENDS':
      case 'SETITEMS':
      case 'ADDITEMS':
        popMark(at, op);
        top(at, op);
        break;
      case 'SETITEM':
        pop(at, op);
        pop(at, op);
        top(at, op);
        break;
      case 'LIST':
      case 'TUPLE':
      case 'DICT':
      case 'FROZENSET':
        popMark(at, op);
        stack.push(OTHER);
        break;
      case 'TUPLE1':
      case 'TUPLE2':
      case 'TUPLE3': {
        const n = op === 'TUPLE1' ? 1 : op === 'TUPLE2' ? 2 : 3;
        for (let i = 0; i < n; i++) pop(at, op);
        stack.push(OTHER);
        break;
      }
      case 'MEMOIZE':
        memo.set(memo.size, top(at, op));
        break;
      case 'STACK_GLOBAL': {
        const name = pop(at, op);
        const module = pop(at, op);
        const known = module.k === 'str' && name.k === 'str';
        const imp = addImport(module.k === 'str' ? module.v : '?', name.k === 'str' ? name.v : '?', 'STACK_GLOBAL', at, known);
        stack.push({ k: 'global', imp });
        break;
      }
      case 'REDUCE': {
        pop(at, op);
        const callee = pop(at, op);
        stack.push(call(callee, 'REDUCE', at));
        break;
      }
      case 'BUILD':
        pop(at, op);
        top(at, op);
        break;
      case 'OBJ': {
        const items = popMark(at, op);
        const cls = items[0];
        if (cls === undefined) throw new StreamError('malformed', at, `is malformed: OBJ at byte ${opts.base + at} has no class after its MARK`);
        stack.push(call(cls, 'OBJ', at));
        break;
      }
      case 'NEWOBJ': {
        pop(at, op);
        const cls = pop(at, op);
        stack.push(call(cls, 'NEWOBJ', at));
        break;
      }
      case 'NEWOBJ_EX': {
        pop(at, op);
        pop(at, op);
        const cls = pop(at, op);
        stack.push(call(cls, 'NEWOBJ_EX', at));
        break;
      }
      default:
        throw new StreamError('malformed', at, `is malformed: ${op} at byte ${opts.base + at} is not handled`);
    }
  }

  function pushMemo(at: number, idx: number): void {
    const v = memo.get(idx);
    if (v === undefined) throw new StreamError('malformed', at, `is malformed: the memo read at byte ${opts.base + at} names index ${idx}, which was never stored`);
    stack.push(v);
  }
  function putMemo(at: number, idx: number): void {
    const v = stack[stack.length - 1];
    if (v === undefined) throw new StreamError('malformed', at, `is malformed: the memo store at byte ${opts.base + at} has an empty stack`);
    memo.set(idx, v);
  }
}
