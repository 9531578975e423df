// The language server's analysis of an edited document (engine/liveAnalysis.ts): after an edit inside a
// comment or a code-free docstring the raw findings of the previous analysis are moved, not recomputed;
// every other edit runs the checks. Each case compares with a full analysis of the same text.
import { strict as assert } from 'node:assert';
import type { LanguageId } from '../../server/src/engine/finding';
import { SyntaxDocument } from '../../server/src/engine/incremental';
import { LiveAnalysis } from '../../server/src/engine/liveAnalysis';
import { loadCatalog } from '../../server/src/engine/rules/catalog';
import { analyzeDocument, enabledRules } from '../../server/src/engine/scanner';

const catalog = loadCatalog();
const all = enabledRules(catalog, []);

const PY = [
  '"""Formula service."""',
  'import os',
  '',
  '',
  'def run(expression):',
  '    """Evaluate the formula the user sent."""',
  '    # the caller checked nothing',
  '    return eval(expression)',
  '',
  '',
  'def build(code):',
  '    f"{code}"',
  '    return exec(code,  # trusted?',
  '                {})',
  '',
].join('\n');

interface Session {
  doc: SyntaxDocument;
  live: LiveAnalysis;
  /** Applies an edit (at the first occurrence of `anchor`, plus `shift`) and analyses; returns the mode. */
  type(anchor: string, shift: number, text: string, remove?: number): Promise<string>;
}

async function session(lang: LanguageId, text: string, enabled = all): Promise<Session> {
  const doc = new SyntaxDocument(lang, text);
  const live = new LiveAnalysis();
  await live.analyze('live.py', doc, catalog, enabled);
  return {
    doc,
    live,
    async type(anchor, shift, inserted, remove = 0) {
      const at = doc.content.indexOf(anchor);
      assert.ok(at >= 0, `anchor ${anchor} not in the text`);
      doc.applyChange(at + shift, at + shift + remove, inserted);
      const got = await live.analyze('live.py', doc, catalog, enabled);
      const full = await analyzeDocument('live.py', doc.content, lang, { catalog, enabled });
      assert.deepEqual(got, full, `after typing ${JSON.stringify(inserted)} at ${anchor}+${shift}`);
      return live.mode!;
    },
  };
}

describe('live analysis of an edited document', () => {
  it('reuses the findings after typing in a comment or a docstring, moved to their new lines', async () => {
    const s = await session('python', PY);
    const before = (await s.live.analyze('live.py', s.doc, catalog, all)).findings.map((f) => f.evidence.startLine);
    assert.equal(await s.type('"""Evaluate', 3, ' Safely.\n   Really'), 'reused');
    assert.equal(await s.type('# the caller', 5, ' (nobody)'), 'reused');
    assert.equal(await s.type('"""Formula', 10, '\nSecond line of the module docstring.\n'), 'reused');
    const after = (await s.live.analyze('live.py', s.doc, catalog, all)).findings.map((f) => f.evidence.startLine);
    assert.deepEqual(after, before.map((line) => line + 3));
    s.doc.dispose();
  });

  it('runs the checks for an edit in code, or one that ends a comment or a docstring', async () => {
    const s = await session('python', PY);
    assert.equal(await s.type('eval(expression)', 5, 'x'), 'checked');
    // A line break inside a comment turns the rest of the line into code.
    assert.equal(await s.type('# the caller', 11, '\n'), 'checked');
    // Closing the docstring early: the rest becomes code (here a syntax error).
    assert.equal(await s.type('"""Evaluate', 10, '"""'), 'checked');
    s.doc.dispose();
  });

  it('runs the checks when the comment is inside a finding or the string holds code', async () => {
    const s = await session('python', PY);
    // The comment among exec's arguments is part of the finding's snippet.
    assert.equal(await s.type('# trusted?', 4, ' no'), 'checked');
    // An f-string statement evaluates its fields: not a docstring.
    assert.equal(await s.type('f"{code}"', 2, ' '), 'checked');
    s.doc.dispose();
  });

  it('runs the checks when a comment gains or loses a name the rules read anywhere in the text', async () => {
    // A cleared umask is a finding only in a file that mentions a JIT tool (cache-kinds.yml config.jitTools),
    // comments included.
    const s = await session('python', ['import os', '', '# prepare the shared folder', 'os.umask(0)', ''].join('\n'));
    const count = async (): Promise<number> => (await s.live.analyze('live.py', s.doc, catalog, all)).findings.length;
    assert.equal(await count(), 0);
    assert.equal(await s.type('# prepare', 9, ' triton'), 'checked');
    assert.equal(await count(), 1);
    assert.equal(await s.type('# prepare', 2, 'the '), 'reused');
    assert.equal(await s.type('triton', 0, '', 'triton'.length), 'checked');
    assert.equal(await count(), 0);
    s.doc.dispose();
  });

  it('applies an allow comment typed into a comment without running the checks', async () => {
    const s = await session('python', PY);
    assert.equal(await s.type('# the caller', 1, ' sentinel: allow JIT-EVAL-COMPILE -- reviewed in SEC-12;'), 'reused');
    const { findings } = await s.live.analyze('live.py', s.doc, catalog, all);
    assert.ok(findings.some((f) => f.decision === 'suppressed'), 'the eval on the next line is suppressed');
    s.doc.dispose();
  });

  it('reuses after comment edits in JavaScript and CUDA too, and runs the checks when the rule selection changes', async () => {
    const js = await session('javascript', ['// formula endpoint', 'app.post("/f", (req, res) => {', '  /* the body is trusted */', '  res.json(eval(req.body.f));', '});', ''].join('\n'));
    assert.equal(await js.type('/* the body', 8, ' NOT'), 'reused');
    assert.equal(await js.type('// formula', 10, ' v2'), 'reused');
    const some = enabledRules(catalog, ['JIT-DYNAMIC-KERNEL']);
    js.doc.applyChange(5, 5, 'x');
    await js.live.analyze('live.js', js.doc, catalog, some);
    assert.equal(js.live.mode, 'checked');
    js.doc.dispose();
    const cu = await session('cuda', ['// kernels', '#include <nvrtc.h>', 'void build(const char *src) {', '  nvrtcProgram p;', '  nvrtcCreateProgram(&p, src, "k.cu", 0, NULL, NULL);', '}', ''].join('\n'));
    assert.equal(await cu.type('// kernels', 10, ' built at run time'), 'reused');
    cu.doc.dispose();
  });
});
