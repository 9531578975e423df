// The parse floor: reads each file of a list and parses it with web-tree-sitter and the same grammar
// .wasm files Sentinel ships (dist/grammars), running no rule and no query. With --jobs N > 1 the files
// are shared among N worker threads (each loads its own grammars), taking the next file from a shared
// counter. Prints one JSON object: files, lines, bytes, files whose tree has an error node, time.
//
//   node bench/floor.mjs --list FILE [--jobs N]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Language, Parser } from 'web-tree-sitter';

const REPO = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const GRAMMARS = path.join(REPO, 'dist', 'grammars');

/** The grammar Sentinel's languages.ts picks for the extensions the corpora hold. */
const GRAMMAR_BY_EXT = {
  '.py': 'tree-sitter-python.wasm',
  '.pyi': 'tree-sitter-python.wasm',
  '.js': 'tree-sitter-javascript.wasm',
  '.mjs': 'tree-sitter-javascript.wasm',
  '.cjs': 'tree-sitter-javascript.wasm',
  '.jsx': 'tree-sitter-javascript.wasm',
  '.ts': 'tree-sitter-typescript.wasm',
  '.mts': 'tree-sitter-typescript.wasm',
  '.cts': 'tree-sitter-typescript.wasm',
  '.tsx': 'tree-sitter-tsx.wasm',
};

async function parseShare(files, next) {
  await Parser.init({ locateFile: () => path.join(GRAMMARS, 'web-tree-sitter.wasm') });
  const parsers = new Map();
  const result = { files: 0, lines: 0, bytes: 0, withErrors: 0, skipped: 0 };
  for (let i = next(); i !== undefined; i = next()) {
    const file = files[i];
    const grammar = GRAMMAR_BY_EXT[path.extname(file).toLowerCase()];
    if (!grammar) {
      result.skipped++;
      continue;
    }
    let parser = parsers.get(grammar);
    if (!parser) {
      parser = new Parser();
      parser.setLanguage(await Language.load(path.join(GRAMMARS, grammar)));
      parsers.set(grammar, parser);
    }
    const text = fs.readFileSync(file, 'utf8');
    const tree = parser.parse(text);
    if (tree.rootNode.hasError) result.withErrors++;
    tree.delete();
    result.files++;
    result.bytes += Buffer.byteLength(text);
    let lines = 0;
    for (let j = text.indexOf('\n'); j !== -1; j = text.indexOf('\n', j + 1)) lines++;
    if (text.length > 0 && !text.endsWith('\n')) lines++;
    result.lines += lines;
  }
  return result;
}

if (isMainThread) {
  const args = process.argv.slice(2);
  const listAt = args.indexOf('--list');
  const jobsAt = args.indexOf('--jobs');
  if (listAt < 0) {
    process.stderr.write('usage: node bench/floor.mjs --list FILE [--jobs N]\n');
    process.exit(2);
  }
  const files = fs.readFileSync(args[listAt + 1], 'utf8').split('\n').filter(Boolean);
  const jobs = jobsAt >= 0 ? Math.max(1, Number(args[jobsAt + 1])) : 1;
  const started = process.hrtime.bigint();
  let total;
  if (jobs === 1) {
    let i = 0;
    total = await parseShare(files, () => (i < files.length ? i++ : undefined));
  } else {
    const counter = new SharedArrayBuffer(4);
    const parts = await Promise.all(
      Array.from(
        { length: jobs },
        () =>
          new Promise((resolve, reject) => {
            const w = new Worker(fileURLToPath(import.meta.url), { workerData: { files, counter } });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    total = parts.reduce((a, b) => ({
      files: a.files + b.files,
      lines: a.lines + b.lines,
      bytes: a.bytes + b.bytes,
      withErrors: a.withErrors + b.withErrors,
      skipped: a.skipped + b.skipped,
    }));
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`${JSON.stringify({ ...total, jobs, inProcessMs: ms })}\n`);
} else {
  const { files, counter } = workerData;
  const shared = new Int32Array(counter);
  const next = () => {
    const i = Atomics.add(shared, 0, 1);
    return i < files.length ? i : undefined;
  };
  parentPort.postMessage(await parseShare(files, next));
}
