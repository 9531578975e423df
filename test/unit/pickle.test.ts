// Tests for the pickle disassembler: opcode offsets agree with Python's pickletools for protocols 0–5,
// imports are linked to the opcodes that call them, and broken streams give problems with offsets, never throws.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { disassemblePickles } from '../../server/src/engine/pickle';

const HAS_PYTHON = spawnSync('python3', ['--version']).status === 0;

/** Bytes from a mix of strings (latin1) and numbers, to write pickles by hand. */
function bytes(...parts: (string | number | number[])[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(Array.isArray(p) ? p : [p]))));
}

/** SHORT_BINUNICODE of `s`. */
function su(s: string): Buffer {
  return bytes(0x8c, s.length, s);
}

/** `os.system('id')` through STACK_GLOBAL, protocol 4, with memoized names. */
const STACK_GLOBAL_SYSTEM = Buffer.concat([
  bytes(0x80, 4), // PROTO 4           @0
  su('os'), // SHORT_BINUNICODE         @2
  bytes(0x94), // MEMOIZE               @6
  su('system'), // SHORT_BINUNICODE     @7
  bytes(0x94), // MEMOIZE               @15
  bytes(0x93), // STACK_GLOBAL          @16
  bytes(0x94), // MEMOIZE               @17
  su('id'), // SHORT_BINUNICODE         @18
  bytes(0x85), // TUPLE1                @22
  bytes('R'), // REDUCE                 @23
  bytes('.'), // STOP                   @24
]);

describe('pickle disassembler', () => {
  it('lists every opcode with its byte offset and links STACK_GLOBAL to its REDUCE', () => {
    const d = disassemblePickles(STACK_GLOBAL_SYSTEM);
    assert.deepEqual(
      d.opcodes.map((o) => [o.name, o.offset]),
      [['PROTO', 0], ['SHORT_BINUNICODE', 2], ['MEMOIZE', 6], ['SHORT_BINUNICODE', 7], ['MEMOIZE', 15], ['STACK_GLOBAL', 16], ['MEMOIZE', 17], ['SHORT_BINUNICODE', 18], ['TUPLE1', 22], ['REDUCE', 23], ['STOP', 24]],
    );
    assert.deepEqual(d.imports, [
      { module: 'os', name: 'system', qualified: 'os.system', known: true, opcode: 'STACK_GLOBAL', offset: 16, pickle: 0, calls: [{ opcode: 'REDUCE', offset: 23, indirect: false }] },
    ]);
    assert.deepEqual(d.problems, []);
    assert.deepEqual(d.pickles, [{ index: 0, start: 0, end: 25, protocol: 4, complete: true }]);
  });

  it('follows STACK_GLOBAL operands and globals through the memo (BINGET), as protocol 4 writers reuse them', () => {
    const data = Buffer.concat([
      bytes(0x80, 4, 0x28), // PROTO, MARK                         @0 @2
      su('collections'), bytes(0x94), su('OrderedDict'), bytes(0x94), // @3 @16 @17 @30
      bytes(0x93, 0x94), // STACK_GLOBAL @31, MEMOIZE @32 (memo 2)
      bytes(0x29, 'R'), // EMPTY_TUPLE @33, REDUCE @34
      bytes('h', 2), // BINGET 2 (the global again) @35
      bytes(0x29, 'R'), // @37 @38
      bytes('h', 0), su('Counter'), bytes(0x93, 0x29, 'R'), // BINGET 0 → 'collections' @39; @41; STACK_GLOBAL @50
      bytes('l', '.'), // LIST, STOP
    ]);
    const d = disassemblePickles(data);
    assert.deepEqual(d.problems, []);
    assert.deepEqual(
      d.imports.map((i) => [i.qualified, i.offset, i.calls.map((c) => c.offset)]),
      [['collections.OrderedDict', 31, [34, 38]], ['collections.Counter', 50, [52]]],
    );
  });

  it('reads protocol 0 GLOBAL and INST, maps Python 2 module names as Python 3 does, and links OBJ and NEWOBJ', () => {
    const proto0 = bytes("c__builtin__\neval\n(S'1+1'\ntR.");
    assert.deepEqual(
      disassemblePickles(proto0).imports.map((i) => ({ module: i.module, qualified: i.qualified, opcode: i.opcode, offset: i.offset, calls: i.calls })),
      [{ module: '__builtin__', qualified: 'builtins.eval', opcode: 'GLOBAL', offset: 0, calls: [{ opcode: 'REDUCE', offset: 27, indirect: false }] }],
    );
    const inst = bytes("(S'echo hi'\nios\nsystem\n.");
    assert.deepEqual(
      disassemblePickles(inst).imports.map((i) => [i.qualified, i.opcode, i.offset, i.calls]),
      [['os.system', 'INST', 12, [{ opcode: 'INST', offset: 12, indirect: false }]]],
    );
    const obj = bytes(0x80, 2, '(', 'c', 'subprocess\nPopen\n', 'N', 'o', '.');
    assert.deepEqual(disassemblePickles(obj).imports[0]?.calls, [{ opcode: 'OBJ', offset: 22, indirect: false }]);
    // Protocol 3 and later keep names as written.
    const proto3 = bytes(0x80, 3, 'c__builtin__\neval\n', ')', 'R', '.');
    assert.equal(disassemblePickles(proto3).imports[0]?.qualified, '__builtin__.eval');
    const newobj = bytes(0x80, 2, 'c', 'torch._inductor.output_code\nCompiledFxGraph\n', ')', 0x81, '}', 'b', '.');
    assert.deepEqual(disassemblePickles(newobj).imports[0]?.calls, [{ opcode: 'NEWOBJ', offset: 48, indirect: false }]);
  });

  it('links a call of a call result as indirect (getattr(module, name)(...))', () => {
    const data = Buffer.concat([
      bytes(0x80, 4), su('builtins'), su('getattr'), bytes(0x93), // STACK_GLOBAL @21
      su('posix'), su('system'), bytes(0x93), su('system'), bytes(0x86, 'R'), // getattr(<posix.system>, 'system'): REDUCE @47
      su('id'), bytes(0x85, 'R', '.'), // the result called: REDUCE @53
    ]);
    const d = disassemblePickles(data);
    assert.deepEqual(d.problems, []);
    const getattr = d.imports.find((i) => i.qualified === 'builtins.getattr');
    assert.equal(getattr?.offset, 21);
    assert.deepEqual(getattr?.calls, [
      { opcode: 'REDUCE', offset: 47, indirect: false },
      { opcode: 'REDUCE', offset: 53, indirect: true },
    ]);
    assert.deepEqual(d.imports.find((i) => i.qualified === 'posix.system')?.calls, []);
  });

  it('marks extension codes and computed STACK_GLOBAL names as unknown imports', () => {
    const ext = disassemblePickles(bytes(0x80, 2, 0x82, 7, ')', 'R', '.'));
    assert.deepEqual(ext.imports.map((i) => [i.qualified, i.known, i.opcode, i.offset]), [['copyreg extension code 7', false, 'EXT1', 2]]);
    // The module name is the result of a call, so nobody can tell what STACK_GLOBAL imports before loading.
    const computed = Buffer.concat([bytes(0x80, 4), su('builtins'), su('str'), bytes(0x93), su('o'), bytes(0x85, 'R'), su('system'), bytes(0x93, ')', 'R', '.')]);
    const d = disassemblePickles(computed);
    assert.deepEqual(d.problems, []);
    assert.deepEqual(d.imports.map((i) => [i.module, i.name, i.known]), [['builtins', 'str', true], ['?', 'system', false]]);
  });

  it('reads several pickles in a row, as Numba index files hold them, and stops at maxPickles', () => {
    const first = bytes(0x80, 5, 0x8c, 6, '0.59.1', 0x94, '.');
    const both = Buffer.concat([first, STACK_GLOBAL_SYSTEM]);
    const d = disassemblePickles(both);
    assert.equal(d.pickles.length, 2);
    assert.deepEqual(d.pickles.map((p) => [p.start, p.end, p.protocol]), [[0, 12, 5], [12, 37, 4]]);
    assert.deepEqual(d.imports.map((i) => [i.qualified, i.offset, i.pickle, i.calls[0]?.offset]), [['os.system', 28, 1, 35]]);
    const one = disassemblePickles(both, { maxPickles: 1 });
    assert.equal(one.imports.length, 0);
    assert.equal(one.trailingBytes, STACK_GLOBAL_SYSTEM.length);
  });

  it('adds baseOffset to every offset, for pickles inside archives and other files', () => {
    const d = disassemblePickles(STACK_GLOBAL_SYSTEM, { baseOffset: 1000 });
    assert.equal(d.imports[0]?.offset, 1016);
    assert.equal(d.imports[0]?.calls[0]?.offset, 1023);
    assert.equal(d.opcodes[0]?.offset, 1000);
  });

  it('reports truncated streams with the offset of the opcode that runs past the end', () => {
    const cut = STACK_GLOBAL_SYSTEM.subarray(0, 20);
    const d = disassemblePickles(cut);
    assert.deepEqual(d.problems.map((p) => [p.kind, p.offset]), [['truncated', 18]]);
    assert.match(d.problems[0]!.message, /SHORT_BINUNICODE at byte 18 needs 2 bytes, 0 remain/);
    // What came before the cut is still reported.
    assert.deepEqual(d.imports.map((i) => [i.qualified, i.calls.length]), [['os.system', 0]]);
    const noStop = disassemblePickles(STACK_GLOBAL_SYSTEM.subarray(0, 24));
    assert.deepEqual(noStop.problems.map((p) => [p.kind, p.offset]), [['truncated', 24]]);
    assert.match(noStop.problems[0]!.message, /without a STOP opcode/);
    const frame = disassemblePickles(bytes(0x80, 4, 0x95, [0x00, 0x10, 0, 0, 0, 0, 0, 0], 'N.'));
    assert.deepEqual(frame.problems.map((p) => [p.kind, p.offset]), [['truncated', 2]]);
    const empty = disassemblePickles(Buffer.alloc(0));
    assert.deepEqual(empty.problems.map((p) => p.kind), ['truncated']);
  });

  it('never allocates what a length field claims: an 8-byte length past the end is a truncation', () => {
    const huge = bytes(0x80, 4, 0x8e, [0, 0, 0, 0, 0, 0, 0, 0x40], 'abc');
    const d = disassemblePickles(huge);
    assert.deepEqual(d.problems.map((p) => [p.kind, p.offset]), [['truncated', 2]]);
  });

  it('reports malformed streams: unknown opcodes, stack underflow, missing MARK, unknown memo, protocol 6', () => {
    const cases: [Buffer, number, RegExp][] = [
      [bytes(0x80, 4, 0xff, '.'), 2, /byte 0xff at byte 2 is not a pickle opcode/],
      [bytes(0x80, 4, 'R', '.'), 2, /REDUCE at byte 2 pops an empty stack/],
      [bytes(0x80, 2, 'N', 'e', '.'), 3, /APPENDS at byte 3 has no MARK/],
      [bytes(0x80, 2, 'h', 9, '.'), 2, /memo read at byte 2 names index 9/],
      [bytes(0x80, 6, 'N', '.'), 0, /protocol 6/],
      [bytes("S'abc\n."), 0, /STRING at byte 0 is not a quoted literal/],
    ];
    for (const [data, offset, message] of cases) {
      const d = disassemblePickles(data);
      assert.equal(d.problems.length, 1, data.toString('hex'));
      assert.equal(d.problems[0]!.kind, 'malformed');
      assert.equal(d.problems[0]!.offset, offset, data.toString('hex'));
      assert.match(d.problems[0]!.message, message);
    }
  });

  it('finds loadable payloads inside: nested pickles, zip archives and Python source', () => {
    const nested = Buffer.concat([bytes(0x80, 4, 'C', STACK_GLOBAL_SYSTEM.length), STACK_GLOBAL_SYSTEM, bytes('.')]);
    assert.deepEqual(disassemblePickles(nested).embedded, [{ kind: 'pickle', offset: 4, length: STACK_GLOBAL_SYSTEM.length, pickle: 0 }]);
    const zipHead = bytes('PK', 3, 4, 'rest');
    assert.deepEqual(disassemblePickles(Buffer.concat([bytes(0x80, 4, 'C', zipHead.length), zipHead, bytes('.')])).embedded.map((e) => e.kind), ['zip']);
    const source = 'import torch\nimport subprocess\n\ndef call(args):\n    subprocess.run(["id"])\n    return args\n';
    const text = Buffer.from(source, 'utf8');
    const withSource = Buffer.concat([bytes(0x80, 4, 'X'), Buffer.from([text.length, 0, 0, 0]), text, bytes('.')]);
    assert.deepEqual(disassemblePickles(withSource).embedded, [{ kind: 'python', offset: 7, length: text.length, pickle: 0 }]);
    // Short strings and prose are not source.
    const prose = Buffer.from('a long sentence that mentions nothing importable at all, just words and more words here', 'utf8');
    assert.deepEqual(disassemblePickles(Buffer.concat([bytes(0x80, 4, 'X'), Buffer.from([prose.length, 0, 0, 0]), prose, bytes('.')])).embedded, []);
  });

  it('keeps at most maxRecordedOpcodes opcodes, or none, and counts the rest', () => {
    const items = Buffer.concat([bytes(0x80, 4, ']', '('), Buffer.alloc(5000, 'N'), bytes('e', '.')]);
    const d = disassemblePickles(items, { maxRecordedOpcodes: 100 });
    assert.equal(d.opcodes.length, 100);
    assert.equal(d.opcodesOmitted, 5005 - 100);
    const none = disassemblePickles(items, { recordOpcodes: false });
    assert.equal(none.opcodes.length, 0);
    assert.deepEqual(none.problems, []);
  });

  it('never throws on random or mutated input', () => {
    let seed = 42;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 3000; i++) {
      const base = i % 2 === 0 ? Buffer.from(STACK_GLOBAL_SYSTEM) : Buffer.alloc(Math.floor(rand() * 64));
      for (let k = 0; k < base.length; k++) if (i % 2 === 1 || rand() < 0.2) base[k] = Math.floor(rand() * 256);
      assert.doesNotThrow(() => disassemblePickles(base), base.toString('hex'));
    }
  });

  it('agrees with pickletools on every opcode offset, protocols 0–5', function () {
    if (!HAS_PYTHON) {
      console.log('      skipped: python3 is not installed');
      this.skip();
    }
    // Python writes pickles of assorted values with its own pickle module and lists the offsets
    // pickletools.genops reads; nothing is loaded.
    const script = [
      'import collections, datetime, decimal, fractions, json, pickle, pickletools, sys',
      'values = [0, -1, 255, 65536, 2**70, -2**70, 1.5, "text", "é" * 300, b"raw", bytearray(b"ba"), None, True, False, (), (1,), (1, 2), (1, 2, 3),',
      '          (1, 2, 3, 4), [1, [2, [3]]], {"a": {"b": 1}}, {1, 2}, frozenset({3}), collections.OrderedDict(a=1), collections.Counter("aab"),',
      '          datetime.datetime(2020, 1, 2, 3, 4, 5), decimal.Decimal("1.25"), fractions.Fraction(1, 3), complex(1, 2), ["shared"] * 4, b"x" * 300]',
      'out = []',
      'for proto in range(6):',
      '    for i, v in enumerate(values):',
      '        data = pickle.dumps(v, protocol=proto)',
      '        out.append({"hex": data.hex(), "ops": [[op.name, pos] for op, arg, pos in pickletools.genops(data)]})',
      'json.dump(out, sys.stdout)',
    ].join('\n');
    const cases = JSON.parse(execFileSync('python3', ['-c', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as { hex: string; ops: [string, number][] }[];
    assert.ok(cases.length >= 180);
    for (const c of cases) {
      const d = disassemblePickles(Buffer.from(c.hex, 'hex'));
      assert.deepEqual(d.problems, [], c.hex);
      assert.deepEqual(d.opcodes.map((o) => [o.name, o.offset]), c.ops, c.hex);
    }
  });
});
