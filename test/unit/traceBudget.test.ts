// Taint search on files where many helpers call one another with their parameters (the shape of
// dataclasses.py or a large service module): the callers-of-callers search once grew exponentially and took
// close to a minute per file. The answer must stay the same as on a small file: the source is found, with
// its trace, and a sink no source reaches stays `medium`.
import * as assert from 'node:assert/strict';
import { analyzeDocument } from '../../server/src/engine/scanner';

/** `count` helpers; each passes its parameters on to the next `fanOut` helpers, and helper 0 runs `exec`. */
function meshOfHelpers(count: number, fanOut: number, source: string): string {
  const lines = ['import sys', ''];
  lines.push('def helper_0(code, label):', '    exec(code)', '');
  for (let i = 1; i < count; i++) {
    lines.push(`def helper_${i}(code, label):`);
    for (let k = 1; k <= fanOut; k++) lines.push(`    helper_${(i + k) % count}(code, label)`);
    lines.push(`    return helper_${i - 1}(code, label)`, '');
  }
  lines.push(`helper_${count - 1}(${source}, "x")`, '');
  return lines.join('\n');
}

describe('taint search on meshes of helpers', () => {
  it('finds the source through 40 mutually calling helpers, with the trace from the call site to exec', async () => {
    const text = meshOfHelpers(40, 4, 'sys.argv[1]');
    const { findings } = await analyzeDocument('mesh.py', text, 'python');
    const execs = findings.filter((f) => f.evidence.snippet.startsWith('exec('));
    assert.equal(execs.length, 1);
    assert.equal(execs[0].confidence, 'high');
    const notes = execs[0].trace.map((s) => s.note);
    assert.match(notes[0], /command-line argument/);
    assert.match(notes.at(-1) ?? '', /exec/);
    assert.equal(execs[0].trace[0].startLine, text.split('\n').length - 1);
  });

  it('keeps the same sink `medium` when only constants are passed around the mesh', async () => {
    const text = meshOfHelpers(40, 4, 'label_of()').replace('import sys', 'import sys\n\ndef label_of():\n    return undefined_name');
    const { findings } = await analyzeDocument('mesh.py', text, 'python');
    const execs = findings.filter((f) => f.evidence.snippet.startsWith('exec('));
    assert.equal(execs.length, 1);
    assert.equal(execs[0].confidence, 'medium');
    assert.deepEqual(execs[0].trace, []);
  });
});
