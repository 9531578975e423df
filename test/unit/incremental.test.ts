// The syntax document the language server keeps per open file: incremental edits give the same tree as a
// fresh parse, and an edit that arrives while the first parse waits for its grammar is not lost.
import { strict as assert } from 'node:assert';
import { SyntaxDocument } from '../../server/src/engine/incremental';
import { EditableLineStarts, LineIndex, lineStartsOf } from '../../server/src/engine/lines';
import { parseText } from '../../server/src/engine/parser';
import { analyzeDocument } from '../../server/src/engine/scanner';

async function sexp(lang: 'python' | 'typescript', text: string): Promise<string> {
  const tree = await parseText(lang, text);
  try {
    return tree.rootNode.toString();
  } finally {
    tree.delete();
  }
}

describe('SyntaxDocument', () => {
  it('matches a fresh parse after a sequence of incremental edits, including multi-line and CRLF ones', async () => {
    let text = 'def f(x):\r\n    return eval(x)\r\n';
    const doc = new SyntaxDocument('python', text);
    await doc.syntaxTree();
    const edits: [string, string][] = [
      ['eval(x)', 'exec(x'],
      ['exec(x', 'exec(x)'],
      ['def f(x):', '# 😀 中文\ndef f(x, y):\n    """doc"""'],
      ['    return', '    y = x\n    return'],
    ];
    for (const [from, to] of edits) {
      const start = text.indexOf(from);
      doc.applyChange(start, start + from.length, to);
      text = text.slice(0, start) + to + text.slice(start + from.length);
      const tree = await doc.syntaxTree();
      assert.equal(doc.content, text);
      assert.equal(tree!.rootNode.toString(), await sexp('python', text), `after replacing ${JSON.stringify(from)}`);
    }
    doc.dispose();
  });

  it('parses lone CRs as line breaks (as the editor and the CLI read them) and finds the sinks on their lines', async () => {
    const lf = 'import os\n\ndef run(e):\n    # check nothing\n    return eval(e)\n';
    const cr = lf.replace(/\n/g, '\r');
    const doc = new SyntaxDocument('python', cr);
    const tree = await doc.syntaxTree();
    assert.equal(tree!.rootNode.hasError, false, 'a CR-only file is not one long line with syntax errors');
    assert.equal(doc.content, cr, 'the document keeps the text the editor has');
    const live = await analyzeDocument('cr.py', doc.content, 'python', { tree });
    const plain = await analyzeDocument('lf.py', lf, 'python');
    assert.deepEqual(live.findings.map((f) => [f.evidence.startLine, f.evidence.startColumn]), [[5, 12]]);
    assert.deepEqual(live.findings.map((f) => [f.evidence.startLine, f.evidence.startColumn]), plain.findings.map((f) => [f.evidence.startLine, f.evidence.startColumn]));
    assert.deepEqual(live.warnings, []);
    doc.dispose();
  });

  it('names the line of a syntax error that is a missing token (a zero-width node)', async () => {
    const { warnings } = await analyzeDocument('m.py', 'x = 1\ndef broken(:\n    pass\n', 'python');
    assert.deepEqual(warnings.map((w) => [w.code, w.line]), [['parse-error', 2]]);
  });

  it('keeps an edit made while the first parse was loading its grammar', async () => {
    // TypeScript's grammar is not loaded by any earlier test in this file: the first parse awaits it.
    const doc = new SyntaxDocument('typescript', 'const a = 1;\n');
    const pending = doc.syntaxTree();
    doc.applyChange(0, 0, 'eval(code);\n');
    const tree = await pending;
    assert.equal(doc.content, 'eval(code);\nconst a = 1;\n');
    assert.equal(tree!.rootNode.toString(), await sexp('typescript', doc.content));
    doc.dispose();
  });
});

describe('EditableLineStarts', () => {
  it('matches a fresh scan after random edits that split and join CR, LF and CRLF line breaks', () => {
    // A small deterministic generator: the same edits on every run.
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const pieces = ['\n', '\r', '\r\n', 'a', 'bc', ' ', '😀', 'x\ny', '\r\r\n\n', ''];
    let text = 'first\r\nsecond\rthird\n\nlast';
    const lines = new EditableLineStarts(text);
    for (let i = 0; i < 2000; i++) {
      const start = next(text.length + 1);
      const end = Math.min(text.length, start + next(4));
      const inserted = pieces[next(pieces.length)];
      text = text.slice(0, start) + inserted + text.slice(end);
      lines.replace(text, start, end, inserted);
      const index = lines.index(text);
      const got = Array.from({ length: index.lineCount }, (_, l) => index.lineStart(l + 1));
      assert.deepEqual(got, lineStartsOf(text), `after edit ${i}: ${JSON.stringify(inserted)} at ${start}-${end}`);
    }
  });

  it('gives the syntax document positions equal to a fresh line index after edits', async () => {
    let text = 'import os\r\n\r\ndef f(x):\n    return eval(x)\n';
    const doc = new SyntaxDocument('python', text);
    await doc.syntaxTree();
    for (const [at, inserted] of [[0, '# head\r'], [12, '\n\n'], [text.length, 'tail'], [5, '']] as [number, string][]) {
      doc.applyChange(at, Math.min(at + 2, doc.content.length), inserted);
      text = doc.content;
      const fresh = new LineIndex(text);
      for (let o = 0; o <= text.length; o++) assert.deepEqual(doc.lineIndex().position(o), fresh.position(o));
    }
    doc.dispose();
  });
});

describe('half-typed code', () => {
  it('analyses a file whose root node is ERROR without hanging (exec( followed by a module)', async () => {
    const body = Array.from({ length: 80 }, (_, i) => `def f${i}(x):\n    y = x + ${i}\n    return y`).join('\n');
    const result = await analyzeDocument('half.py', `exec(p\n${body}\n`, 'python');
    assert.ok(Array.isArray(result.findings));
  }).timeout(20000);
});
