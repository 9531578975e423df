// JIT-DYNAMIC-KERNEL in CUDA C++: NVRTC sources traced from argv, the environment, files, sockets and stdin;
// module images loaded from a path that is not fixed; and the scope index the CUDA adapter is built on.
import { strict as assert } from 'node:assert';
import { CudaFile } from '../../server/src/engine/checks/cuda';
import { ScopeIndex } from '../../server/src/engine/checks/scopeIndex';
import type { Finding } from '../../server/src/engine/finding';
import { parseText } from '../../server/src/engine/parser';
import { analyzeDocument } from '../../server/src/engine/scanner';

const RULE = 'JIT-DYNAMIC-KERNEL';

async function findings(text: string): Promise<Finding[]> {
  const result = await analyzeDocument('kernel.cu', text, 'cuda', { rules: [RULE] });
  assert.deepEqual(result.warnings.filter((w) => w.code === 'internal-error'), []);
  return result.findings.filter((f) => f.ruleId === RULE);
}

/** The one finding on the line that contains `needle`. */
function at(text: string, found: Finding[], needle: string): Finding {
  const line = text.split('\n').findIndex((l) => l.includes(needle)) + 1;
  assert.ok(line > 0, `no line holds ${needle}`);
  const hits = found.filter((f) => f.evidence.startLine === line);
  assert.equal(hits.length, 1, `expected one finding on line ${line} (${needle}), got ${hits.length}`);
  return hits[0]!;
}

/** The trace as `kind@line: note`, to compare whole paths. */
function steps(f: Finding): string[] {
  return f.trace.map((s) => `${s.kind}@${s.startLine}: ${s.note}`);
}

describe('CUDA kernels: NVRTC sources', () => {
  const text = [
    '#include <nvrtc.h>', //                                                         1
    '#include <fstream>', //                                                         2
    'nvrtcProgram from_file(const char* path) {', //                                 3
    '  std::ifstream in(path);', //                                                  4
    '  std::stringstream ss;', //                                                    5
    '  ss << in.rdbuf();', //                                                        6
    '  std::string src = ss.str();', //                                              7
    '  nvrtcProgram p;', //                                                          8
    '  nvrtcCreateProgram(&p, src.c_str(), "f.cu", 0, nullptr, nullptr);', //        9
    '  return p;', //                                                                10
    '}', //                                                                          11
    'nvrtcProgram from_env() {', //                                                  12
    '  const char* body = getenv("KERNEL_BODY");', //                                13
    '  std::string src = "extern \\"C\\" __global__ void k(float* x) {";', //       14
    '  src += body;', //                                                             15
    '  src.append("}");', //                                                         16
    '  nvrtcProgram p;', //                                                          17
    '  nvrtcCreateProgram(&p, src.c_str(), "e.cu", 0, nullptr, nullptr);', //        18
    '  return p;', //                                                                19
    '}', //                                                                          20
    'nvrtcProgram from_socket(int fd) {', //                                         21
    '  char buf[8192];', //                                                          22
    '  recv(fd, buf, sizeof(buf), 0);', //                                           23
    '  nvrtcProgram p;', //                                                          24
    '  nvrtcCreateProgram(&p, buf, "s.cu", 0, nullptr, nullptr);', //                25
    '  return p;', //                                                                26
    '}', //                                                                          27
    'nvrtcProgram constant_parts() {', //                                            28
    '  std::string src;', //                                                         29
    '  src += "extern \\"C\\" __global__ void k(float* x) { x[0] = 1.f; }";', //   30
    '  char name[64];', //                                                           31
    '  snprintf(name, sizeof(name), "%s.cu", "k");', //                              32
    '  nvrtcProgram p;', //                                                          33
    '  nvrtcCreateProgram(&p, src.c_str(), name, 0, nullptr, nullptr);', //          34
    '  return p;', //                                                                35
    '}', //                                                                          36
    'nvrtcProgram param(const char* code) {', //                                     37
    '  nvrtcProgram p;', //                                                          38
    '  nvrtcCreateProgram(&p, code, "p.cu", 0, nullptr, nullptr);', //               39
    '  return p;', //                                                                40
    '}', //                                                                          41
  ].join('\n');
  let found: Finding[];
  before(async () => {
    found = await findings(text);
  });

  it('traces a file read through a stream and a stringstream, with confidence high', () => {
    const f = at(text, found, '"f.cu"');
    assert.equal(f.confidence, 'high');
    assert.deepEqual(steps(f), [
      'source@6: file contents read by `rdbuf()`',
      'step@6: flows into `ss`',
      'step@7: flows into `src`',
      'sink@9: reaches `nvrtcCreateProgram()`',
    ]);
  });

  it('traces getenv through += and append', () => {
    const f = at(text, found, '"e.cu"');
    assert.equal(f.confidence, 'high');
    assert.deepEqual(steps(f), [
      'source@13: environment variable read by `getenv()`',
      'step@13: flows into `body`',
      'step@15: flows into `src`',
      'sink@18: reaches `nvrtcCreateProgram()`',
    ]);
  });

  it('traces a buffer filled by recv()', () => {
    const f = at(text, found, '"s.cu"');
    assert.equal(f.confidence, 'high');
    assert.deepEqual(steps(f), ['source@23: socket data read by `recv()`', 'step@23: flows into `buf`', 'sink@25: reaches `nvrtcCreateProgram()`']);
  });

  it('stays quiet on sources built only from literals, and gives a parameter medium confidence without a trace', () => {
    const lines = new Set(found.map((f) => f.evidence.startLine));
    assert.ok(!lines.has(34), 'a string appended from literals is constant');
    const p = at(text, found, '"p.cu"');
    assert.equal(p.confidence, 'medium');
    assert.deepEqual(p.trace, []);
    assert.match(p.evidence.signal, /a parameter of `param\(\)`/);
    assert.equal(found.length, 4);
  });
});

describe('CUDA kernels: module images', () => {
  const text = [
    '#include <cuda.h>', //                                                          1
    'CUmodule fixed() {', //                                                         2
    '  FILE* f = fopen("/opt/app/k.cubin", "rb");', //                               3
    '  char img[1 << 20];', //                                                       4
    '  fread(img, 1, sizeof(img), f);', //                                           5
    '  CUmodule m;', //                                                              6
    '  cuModuleLoadData(&m, img);', //                                               7
    '  return m;', //                                                                8
    '}', //                                                                          9
    'int main(int argc, char** argv) {', //                                          10
    '  const char* path = argv[1];', //                                              11
    '  FILE* f = fopen(path, "rb");', //                                             12
    '  std::vector<char> img(1 << 20);', //                                          13
    '  fread(img.data(), 1, img.size(), f);', //                                     14
    '  CUmodule m;', //                                                              15
    '  cuModuleLoadData(&m, img.data());', //                                        16
    '  cuModuleLoad(&m, getenv("CUBIN"));', //                                       17
    '  cuModuleLoad(&m, "k.cubin");', //                                             18
    '  return 0;', //                                                                19
    '}', //                                                                          20
    'CUmodule jit(nvrtcProgram prog) {', //                                          21
    '  size_t n;', //                                                                22
    '  nvrtcGetPTXSize(prog, &n);', //                                               23
    '  std::string ptx(n, 0);', //                                                   24
    '  nvrtcGetPTX(prog, &ptx[0]);', //                                              25
    '  CUmodule m;', //                                                              26
    '  cuModuleLoadDataEx(&m, ptx.c_str(), 0, nullptr, nullptr);', //                27
    '  return m;', //                                                                28
    '}', //                                                                          29
  ].join('\n');
  let found: Finding[];
  before(async () => {
    found = await findings(text);
  });

  it('reports an image read from a path given on the command line, with the path in the trace', () => {
    const f = at(text, found, 'cuModuleLoadData(&m, img.data())');
    assert.equal(f.confidence, 'high');
    assert.equal(f.evidence.api, 'cuModuleLoadData');
    assert.deepEqual(steps(f), [
      'source@11: command-line argument read by `argv`',
      'step@11: flows into `path`',
      'step@12: flows into `f`',
      'step@14: the module image is read from `f`',
      'step@14: flows into `img`',
      'sink@16: reaches `cuModuleLoadData()`',
    ]);
  });

  it('reports a module file named by the environment', () => {
    const f = at(text, found, 'getenv("CUBIN")');
    assert.equal(f.confidence, 'high');
    assert.deepEqual(steps(f), ['source@17: environment variable read by `getenv()`', 'sink@17: reaches `cuModuleLoad()`']);
  });

  it('stays quiet on fixed paths and on NVRTC output', () => {
    const lines = found.map((f) => f.evidence.startLine).sort((a, b) => a - b);
    assert.deepEqual(lines, [16, 17]);
  });
});

describe('ScopeIndex', () => {
  it('assigns bindings to the innermost scope by position and resolves names outwards', async () => {
    const text = 'int g = 1;\nvoid f(int a) {\n  int b = a;\n  auto l = [](int c) { return c + b + g; };\n}\n';
    const tree = await parseText('cuda', text);
    try {
      const file = new CudaFile(tree, { calls: [], attributes: [] });
      const use = (name: string, occurrence: number): string[] => {
        const ids = tree.rootNode.descendantsOfType('identifier').filter((n) => n?.text === name);
        return file.bindingsOf(ids[occurrence]!).map((b) => `${b.kind}@${b.node.startPosition.row + 1}`);
      };
      // `c`, `b` and `g` used inside the lambda: its parameter, the function's local, the file's global.
      assert.deepEqual(use('c', 1), ['param@4']);
      assert.deepEqual(use('b', 1), ['assign@3']);
      assert.deepEqual(use('g', 1), ['assign@1']);
      assert.deepEqual(use('a', 1), ['param@2']);
      // A name nobody binds.
      const index = ScopeIndex.build(tree.rootNode, ['function_definition'], () => 'lookup', () => undefined);
      assert.deepEqual(index.lookup('zzz', tree.rootNode), []);
      assert.equal(index.scopeAround(0, 1).id, tree.rootNode.id);
    } finally {
      tree.delete();
    }
  });
});
