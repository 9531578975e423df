// CUDA C++ (and C++ that calls NVRTC) side of the analysis: declarations, assignments and buffer fills in
// function scopes, expression shapes of string building, the sources of rules/sources.yml (argv, getenv, file
// and socket reads), and the module-load check (a cubin/PTX image read from a path that is not fixed).
import type { Node, Tree } from 'web-tree-sitter';
import type { ModuleLoading } from '../cacheTrees';
import type { SourceModel } from '../rules/catalog';
import { type CheckContext, rawTraceFrom, scopeNames } from './context';
import { type Binding, type ExprShape, ExpressionReasoner, type LanguageAdapter, type SourceHit, type TraceHop, snippetOf } from './expressions';
import { ScopeIndex } from './scopeIndex';

/** Calls that only wrap or view their string input (`std::string(x)`, `s.c_str()`). */
const STRING_WRAPPERS = new Set(['std::string', 'string', 'std::string_view', 'c_str', 'data', 'str', 'substr', 'std::move']);
/** Calls whose result is a file (or stream) opened at their first argument: as fixed as that path. */
const PATH_OPENERS = new Set(['fopen', 'fopen_s', 'open', 'std::ifstream', 'ifstream', 'std::fstream', 'fstream', 'std::basic_ifstream']);
/** `sprintf(buf, fmt, …)`: the buffer holds the format and the arguments after the buffer (and its size). */
const FORMATTERS: Record<string, number> = { sprintf: 1, snprintf: 2, vsprintf: 1, vsnprintf: 2 };

/**
 * Calls that fill a buffer argument with what they read: which argument is filled and which one names the
 * file, stream or socket read from. `receiver` is the object of a method call (`in.read(buf, n)`).
 */
const READS: Record<string, { target: number; from: number | 'receiver'; socket?: boolean }> = {
  fread: { target: 0, from: 3 },
  fgets: { target: 0, from: 2 },
  read: { target: 1, from: 0 },
  pread: { target: 1, from: 0 },
  recv: { target: 1, from: 0, socket: true },
  recvfrom: { target: 1, from: 0, socket: true },
  SSL_read: { target: 1, from: 0, socket: true },
  getline: { target: 1, from: 0 },
  'std::getline': { target: 1, from: 0 },
  '.read': { target: 0, from: 'receiver' },
  '.getline': { target: 0, from: 'receiver' },
  '.readsome': { target: 0, from: 'receiver' },
};
/** Calls that copy or append their second argument into the first. */
const COPIES: Record<string, 'assign' | 'augassign'> = {
  strcpy: 'assign', strncpy: 'assign', memcpy: 'augassign', memmove: 'augassign', strcat: 'augassign', strncat: 'augassign',
};

/** Methods that put their argument into the receiver (`s.append(x)`, `in.open(path)`). */
const FILL_METHODS = new Set(['.append', '.push_back', '.insert', '.assign', '.open']);

/** Node types gathered in one tree query: scopes, declarations, assignments, calls and stream operators. */
const COLLECTED = [
  'function_definition', 'lambda_expression', 'init_declarator', 'declaration', 'field_declaration',
  'assignment_expression', 'call_expression', 'expression_statement',
];

function declaredName(declarator: Node | null | undefined): Node | undefined {
  let cur = declarator;
  while (cur && cur.type !== 'identifier') {
    cur = cur.childForFieldName('declarator') ?? cur.namedChildren.find((c) => c?.type === 'identifier') ?? null;
  }
  return cur ?? undefined;
}

/** `std::istreambuf_iterator<char>` → `std::istreambuf_iterator`; `in.rdbuf` → `.rdbuf`. */
function calleeKey(fn: Node): string {
  if (fn.type === 'field_expression') return `.${fn.childForFieldName('field')?.text ?? ''}`;
  return fn.text.replace(/<[^<>]*(<[^<>]*>[^<>]*)*>/g, '').replace(/\s+/g, '');
}

/** The variable a buffer expression stands for: `buf`, `buf.data()`, `&buf[0]`, `(char*)buf`, `reinterpret_cast<char*>(&v[0])`. */
export function bufferRoot(node: Node | null | undefined, depth = 0): Node | undefined {
  if (!node || depth > 8) return undefined;
  switch (node.type) {
    case 'identifier':
      return node;
    case 'pointer_expression':
    case 'subscript_expression':
    case 'field_expression':
      return bufferRoot(node.childForFieldName('argument'), depth + 1);
    case 'cast_expression':
      return bufferRoot(node.childForFieldName('value'), depth + 1);
    case 'parenthesized_expression':
      return bufferRoot(node.namedChildren[0], depth + 1);
    case 'call_expression': {
      const fn = node.childForFieldName('function');
      const args = node.childForFieldName('arguments')?.namedChildren ?? [];
      if (fn?.type === 'field_expression') return bufferRoot(fn.childForFieldName('argument'), depth + 1);
      if (fn && /_cast$/.test(calleeKey(fn))) return bufferRoot(args[0], depth + 1);
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The leftmost operand of a `<<`/`>>` chain (`ss << a << b` → `ss`). */
function streamOf(node: Node, op: string): Node | undefined {
  let cur: Node | null = node;
  while (cur?.type === 'binary_expression' && cur.childForFieldName('operator')?.type === op) cur = cur.childForFieldName('left');
  return cur?.type === 'identifier' ? cur : undefined;
}

/** The right operands of a `<<`/`>>` chain, left to right. */
function chainOperands(node: Node, op: string): Node[] {
  const out: Node[] = [];
  let cur: Node | null = node;
  while (cur?.type === 'binary_expression' && cur.childForFieldName('operator')?.type === op) {
    const right = cur.childForFieldName('right');
    if (right) out.unshift(right);
    cur = cur.childForFieldName('left');
  }
  return out;
}

const files = new WeakMap<Tree, CudaFile>();

export class CudaFile implements LanguageAdapter {
  private built?: ScopeIndex;
  private readonly allCalls: Node[] = [];
  /** Declaration types that stand for an empty value (`std::string s;` starts empty). */
  private readonly emptyValues = new Set<number>();
  /** `in >> word` statements: the word holds what the stream on the left yields. */
  private readonly extractions = new Set<number>();
  /** Constructor-style declarations (`std::ifstream in(path);`, parsed as a function declarator): the argument types. */
  private readonly ctorArgs = new Set<number>();
  private readonly sourceCalls: Map<string, SourceHit>;

  /** One analysis per tree, shared by the checks that run on it. */
  static of(tree: Tree, sources: SourceModel): CudaFile {
    let file = files.get(tree);
    if (!file) {
      file = new CudaFile(tree, sources);
      files.set(tree, file);
    }
    return file;
  }

  constructor(
    readonly tree: Tree,
    private readonly sources: SourceModel,
  ) {
    this.sourceCalls = new Map(sources.calls.map((s) => [s.api, { api: s.api.startsWith('.') ? `${s.api.slice(1)}()` : `${s.api}()`, note: s.note }]));
  }

  /**
   * The scope index, built on first use: one query over the whole file, scopes assigned by position. A file
   * without a sink call never needs it.
   */
  private get index(): ScopeIndex {
    this.built ??= ScopeIndex.build(
      this.tree.rootNode,
      COLLECTED,
      (n) => (n.type === 'function_definition' || n.type === 'lambda_expression' ? 'lookup' : undefined),
      (node, owner, index) => {
        this.built = index;
        this.collect(node, owner);
      },
    );
    return this.built;
  }

  /** Every call in the file, in document order. */
  get calls(): readonly Node[] {
    void this.index;
    return this.allCalls;
  }

  private add(scope: Node, b: Binding): void {
    this.built!.add(scope, b);
  }

  private collect(node: Node, owner: Node): void {
    switch (node.type) {
      case 'function_definition':
      case 'lambda_expression': {
        const declarator = node.childForFieldName('declarator');
        const fnName = node.type === 'lambda_expression' ? 'lambda' : `${declaredName(declarator)?.text ?? 'function'}()`;
        let params = declarator?.childForFieldName('parameters');
        // `T C::f(...)`, `auto f(...) -> T`: the parameters sit on the innermost function declarator.
        for (let d = declarator; !params && d; d = d.childForFieldName('declarator')) params = d.childForFieldName('parameters');
        for (const p of params?.namedChildren ?? []) {
          const id = p && declaredName(p.childForFieldName('declarator'));
          if (id) this.add(node, { kind: 'param', name: id.text, node: id, owner: fnName });
        }
        break;
      }
      case 'init_declarator': {
        const id = declaredName(node.childForFieldName('declarator'));
        const value = node.childForFieldName('value');
        if (id && value) {
          const first = value.type === 'initializer_list' || value.type === 'argument_list' ? value.namedChildren.find((c) => c?.type !== 'comment') : value;
          if (first) this.add(owner, { kind: 'assign', name: id.text, node: id, value: first });
          else {
            this.emptyValues.add(value.id);
            this.add(owner, { kind: 'assign', name: id.text, node: id, value });
          }
        }
        break;
      }
      case 'declaration':
      case 'field_declaration': {
        let type: Node | null | undefined;
        for (const d of node.childrenForFieldName('declarator')) {
          if (!d || d.type === 'init_declarator') continue;
          type ??= node.childForFieldName('type');
          const id = declaredName(d);
          if (!id) continue;
          if (d.type === 'function_declarator') {
            // Inside a function, `std::ifstream in(path);` is a constructor call that the grammar reads as a
            // declarator with parameter "types": the first one is the argument.
            const params = (d.childForFieldName('parameters')?.namedChildren ?? []).filter((p): p is Node => p?.type === 'parameter_declaration');
            const isCall = owner.id !== this.tree.rootNode.id && params.length > 0 && params.every((p) => !declaredName(p.childForFieldName('declarator')));
            const arg = params[0]?.childForFieldName('type');
            if (isCall && arg) {
              this.ctorArgs.add(arg.id);
              this.add(owner, { kind: 'assign', name: id.text, node: id, value: arg });
            }
            continue;
          }
          if (type) {
            // `std::string s;`, `std::stringstream ss;`, `char buf[N];`: starts empty, and holds what the
            // assignments, reads, copies and appends recorded for it put there.
            this.emptyValues.add(type.id);
            this.add(owner, { kind: 'assign', name: id.text, node: id, value: type });
          }
        }
        break;
      }
      case 'assignment_expression': {
        const left = node.childForFieldName('left');
        const right = node.childForFieldName('right');
        const op = node.childForFieldName('operator')?.text ?? '=';
        if (left?.type === 'identifier' && right) {
          if (op === '=') this.add(owner, { kind: 'assign', name: left.text, node: left, value: right });
          else if (op === '+=') this.add(owner, { kind: 'augassign', name: left.text, node: left, value: right });
          else this.add(owner, { kind: 'other', name: left.text, node: left, why: 'computed by an operator' });
        }
        break;
      }
      case 'call_expression':
        this.allCalls.push(node);
        this.collectFill(node, owner);
        break;
      case 'expression_statement': {
        // Statement-level `ss << a << b` appends to a stream; `in >> word` reads from one. (Collected as the
        // statement, not the expression: a parent lookup costs a descent from the root.)
        const expr = node.firstNamedChild;
        if (expr?.type !== 'binary_expression') break;
        node = expr;
        const op = node.childForFieldName('operator')?.type;
        if (op !== '<<' && op !== '>>') break;
        const stream = streamOf(node, op);
        if (!stream) break;
        if (op === '<<') {
          for (const part of chainOperands(node, op)) this.add(owner, { kind: 'augassign', name: stream.text, node: stream, value: part });
        } else {
          this.extractions.add(node.id);
          for (const part of chainOperands(node, op)) {
            const target = bufferRoot(part);
            if (target) this.add(owner, { kind: 'assign', name: target.text, node: target, value: node });
          }
        }
        break;
      }
    }
  }

  /** Buffers filled in place: reads (`fread(buf, …)`), copies (`strcpy`), formatting (`sprintf`), `s.append(x)`. */
  private collectFill(call: Node, owner: Node): void {
    const fn = call.childForFieldName('function');
    if (!fn) return;
    const key = calleeKey(fn);
    // Most calls fill nothing: decide on the name before reading the arguments (each read is a wasm call).
    if (READS[key] === undefined && COPIES[key] === undefined && FORMATTERS[key] === undefined && !FILL_METHODS.has(key)) return;
    const args = this.positionalArgs(call);
    const read = READS[key];
    if (read) {
      // POSIX getline(&line, &n, f) fills its first argument.
      const targetArg = key === 'getline' && args[0]?.type === 'pointer_expression' ? args[0] : args[read.target];
      const target = bufferRoot(targetArg);
      if (target) this.add(owner, { kind: 'assign', name: target.text, node: target, value: call });
      return;
    }
    const copy = COPIES[key];
    if (copy && args[1]) {
      const target = bufferRoot(args[0]);
      if (target) this.add(owner, { kind: copy, name: target.text, node: target, value: args[1] });
      return;
    }
    if (FORMATTERS[key] !== undefined) {
      const target = bufferRoot(args[0]);
      if (target) this.add(owner, { kind: 'assign', name: target.text, node: target, value: call });
      return;
    }
    if (fn.type === 'field_expression') {
      const receiver = bufferRoot(fn.childForFieldName('argument'));
      if (!receiver || !args[0]) return;
      if (key === '.append' || key === '.push_back' || key === '.insert') {
        this.add(owner, { kind: 'augassign', name: receiver.text, node: receiver, value: args[args.length - 1] });
      } else if (key === '.assign' || key === '.open') {
        this.add(owner, { kind: 'assign', name: receiver.text, node: receiver, value: args[0] });
      }
    }
  }

  bindingsOf(node: Node): Binding[] {
    return this.index.lookup(node.text, node);
  }

  calleeName(fn: Node): string {
    if (fn.type === 'field_expression') return fn.childForFieldName('field')?.text ?? fn.text;
    return fn.text;
  }

  positionalArgs(call: Node): Node[] {
    return (call.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
  }

  shape(node: Node): ExprShape {
    void this.index;
    if (this.emptyValues.has(node.id)) return { kind: 'literal' };
    if (this.ctorArgs.has(node.id)) return node.type === 'type_identifier' ? { kind: 'name', node } : { kind: 'opaque', inputs: [] };
    switch (node.type) {
      case 'string_literal':
      case 'raw_string_literal':
      case 'char_literal':
      case 'number_literal':
      case 'true':
      case 'false':
      case 'null':
      case 'nullptr':
      case 'sizeof_expression':
        return { kind: 'literal' };
      case 'concatenated_string':
      case 'parenthesized_expression':
      case 'binary_expression':
      case 'conditional_expression':
      case 'cast_expression':
        if (this.extractions.has(node.id)) {
          const stream = streamOf(node, '>>');
          return { kind: 'opaque', inputs: stream ? [stream] : [] };
        }
        return {
          kind: 'compose',
          parts: (node.type === 'cast_expression' ? [node.childForFieldName('value')] : node.namedChildren).filter((c): c is Node => !!c && c.type !== 'comment'),
          label: 'a string built by concatenation',
        };
      case 'identifier':
        return { kind: 'name', node };
      case 'call_expression': {
        const fn = node.childForFieldName('function');
        const args = this.positionalArgs(node);
        const key = fn ? calleeKey(fn) : '';
        const receiver = fn?.type === 'field_expression' ? fn.childForFieldName('argument') : undefined;
        const bare = key.startsWith('.') ? key.slice(1) : key;
        if (STRING_WRAPPERS.has(bare)) return { kind: 'compose', parts: receiver ? [receiver, ...args] : args, label: 'a string' };
        if (PATH_OPENERS.has(key) && args[0]) return { kind: 'compose', parts: args.slice(0, 1), label: 'a file opened at a path' };
        if (FORMATTERS[key] !== undefined) return { kind: 'compose', parts: args.slice(FORMATTERS[key]), label: 'a formatted string' };
        return { kind: 'opaque', inputs: receiver ? [receiver, ...args] : args };
      }
      case 'pointer_expression':
      case 'subscript_expression':
      case 'field_expression': {
        const arg = node.childForFieldName('argument');
        return { kind: 'opaque', inputs: arg ? [arg] : [] };
      }
      default:
        return { kind: 'opaque', inputs: [] };
    }
  }

  ownLiteralText(node: Node): string | undefined {
    if (node.type === 'string_literal' || node.type === 'raw_string_literal') {
      return node.namedChildren.filter((c): c is Node => c?.type === 'string_content' || c?.type === 'raw_string_content').map((c) => c.text).join('');
    }
    return undefined;
  }

  sourceAt(node: Node): SourceHit | undefined {
    void this.index;
    if (node.type === 'call_expression') {
      const fn = node.childForFieldName('function');
      return fn ? this.sourceCalls.get(calleeKey(fn)) : undefined;
    }
    if (node.type === 'identifier' || node.type === 'qualified_identifier' || (node.type === 'type_identifier' && this.ctorArgs.has(node.id))) {
      const hit = this.sources.attributes.find((s) => s.api === node.text);
      return hit ? { api: node.text, note: hit.note } : undefined;
    }
    return undefined;
  }

  /**
   * The read that fills `node` (a buffer, or a string built from one), the file, stream or socket it reads
   * from, and the steps from the read to `node`; undefined when `node` holds no file read (socket reads are
   * sources, not files). Helper calls named like
   * readers (`read_file(path)`, `loadBinary(p)`) count as reads of their first argument.
   */
  readBehind(node: Node, reasoner: ExpressionReasoner, readerNames: RegExp, depth = 0, seen = new Set<number>()): { read: Node; from?: Node; hops: TraceHop[] } | undefined {
    if (depth > 40 || seen.has(node.id)) return undefined;
    seen.add(node.id);
    if (node.type === 'call_expression') {
      const fn = node.childForFieldName('function');
      const key = fn ? calleeKey(fn) : '';
      const args = this.positionalArgs(node);
      const read = READS[key];
      if (read && !read.socket) {
        const from = read.from === 'receiver' ? fn?.childForFieldName('argument') : key === 'getline' && args[0]?.type === 'pointer_expression' ? args[2] : args[read.from];
        return { read: node, from: from ?? undefined, hops: [] };
      }
      if (key === 'std::istreambuf_iterator' || key === '.rdbuf') {
        return { read: node, from: key === '.rdbuf' ? (fn?.childForFieldName('argument') ?? undefined) : args[0], hops: [] };
      }
      const bare = key.replace(/^.*[.:]/, '');
      if (!STRING_WRAPPERS.has(bare) && readerNames.test(bare) && args[0]) return { read: node, from: args[0], hops: [] };
    }
    if (this.extractions.has(node.id)) return { read: node, from: streamOf(node, '>>'), hops: [] };
    const shape = this.shape(node);
    const children = shape.kind === 'compose' ? shape.parts : shape.kind === 'opaque' ? shape.inputs : [];
    for (const child of children) {
      const inner = this.readBehind(child, reasoner, readerNames, depth + 1, seen);
      if (inner) return inner;
    }
    if (shape.kind === 'name') {
      for (const b of this.bindingsOf(shape.node)) {
        if (b.kind !== 'assign' && b.kind !== 'augassign') continue;
        const inner = this.readBehind(b.value, reasoner, readerNames, depth + 1, seen);
        if (inner) return { ...inner, hops: [...inner.hops, { node: b.node, note: `flows into \`${b.name}\``, kind: 'step' }] };
      }
    }
    return undefined;
  }
}

/**
 * Compiled modules loaded from memory or from a file (`cuModuleLoadData`, `cuModuleLoad`, …, the
 * `moduleLoading` section of cache-kinds.yml). The machine code that runs is whatever sits at the path, so a
 * path that is not fixed lets its origin choose it: reported with a trace when the path comes from a source.
 * An image that comes from NVRTC or from a file at a fixed path stays quiet.
 */
export function checkModuleLoads(ctx: CheckContext, loading: ModuleLoading): void {
  if (!ctx.tree || ctx.lang !== 'cuda' || !ctx.enabled.has(loading.rule)) return;
  const names = new Set([...loading.images, ...loading.paths].map((l) => l.api));
  if (![...names].some((n) => ctx.text.includes(n))) return;
  const file = CudaFile.of(ctx.tree, ctx.catalog.sources.cuda ?? { calls: [], attributes: [] });
  const reasoner = new ExpressionReasoner(file);
  const readerNames = new RegExp(loading.readerNames, 'i');
  for (const call of file.calls) {
    const fn = call.childForFieldName('function');
    const api = fn ? file.calleeName(fn) : '';
    if (!names.has(api)) continue;
    const args = file.positionalArgs(call);
    const image = loading.images.find((l) => l.api === api);
    const pathLoader = loading.paths.find((l) => l.api === api);
    let pathNode: Node | undefined;
    let hopsToSink: TraceHop[] = [];
    let what: string;
    if (image) {
      const arg = args[image.arg];
      if (!arg) continue;
      const behind = file.readBehind(arg, reasoner, readerNames);
      if (behind) {
        if (!behind.from || reasoner.isConstant(behind.from)) continue;
        pathNode = behind.from;
        hopsToSink = [{ node: behind.read, note: `the module image is read from \`${snippetOf(behind.from, 60)}\``, kind: 'step' }, ...behind.hops];
        what = `an image read from ${reasoner.explain(behind.from)}`;
      } else {
        // Not read from a file: only an image that comes from a source (a socket, the environment) is reported.
        const hops = reasoner.traceSource(arg);
        if (!hops) continue;
        emitLoad(ctx, loading, call, api, `\`${api}()\` loads a module image derived from ${hops[0].note}`, hops);
        continue;
      }
    } else if (pathLoader) {
      const arg = args[pathLoader.arg];
      if (!arg || reasoner.isConstant(arg)) continue;
      pathNode = arg;
      what = `the file at \`${snippetOf(arg, 60)}\``;
    } else continue;
    const fromSource = reasoner.traceSource(pathNode);
    const signal = `\`${api}()\` loads ${what}: the path is not fixed, so whoever chooses it chooses the machine code that runs${fromSource ? `; it comes from ${fromSource[0].note}` : ''}`;
    emitLoad(ctx, loading, call, api, signal, fromSource ? [...fromSource, ...hopsToSink] : undefined);
  }
}

function emitLoad(ctx: CheckContext, loading: ModuleLoading, call: Node, api: string, signal: string, hops: TraceHop[] | undefined): void {
  ctx.emit({
    ruleId: loading.rule,
    startOffset: call.startIndex,
    endOffset: call.endIndex,
    nodeType: call.type,
    signal,
    api,
    confidence: hops ? 'high' : 'medium',
    scope: scopeNames(call),
    trace: hops ? [...rawTraceFrom(hops), { startOffset: call.startIndex, endOffset: call.endIndex, note: `reaches \`${api}()\``, kind: 'sink' }] : [],
    fix: { kind: 'precompiled-kernel', argument: snippetOf(call, 120), language: ctx.lang },
  });
}
