// IPython magics in notebooks: blanked for the Python parser, handed to the shell checks at the same
// offsets (`!cmd`, `%%bash` cells, `%env NAME=value`), so a cache folder set or opened up through a magic is
// found, and its finding points at the magic in its cell.
import { strict as assert } from 'node:assert';
import { blankMagics, magicShell, programFromCells } from '../../server/src/engine/notebook';
import { analyzeDocument } from '../../server/src/engine/scanner';

function notebook(...cells: string[]): string {
  return JSON.stringify({ cells: cells.map((source) => ({ cell_type: 'code', metadata: {}, outputs: [], execution_count: null, source })), metadata: {}, nbformat: 4, nbformat_minor: 5 });
}

describe('notebook magics', () => {
  it('turns shell escapes, %env and bash cells into shell text of the same length, everything else blank', () => {
    const cell = 'import os\n!chmod 777 /tmp/c\n%env A=1\n%env B = 2\n%set_env C 3\nx = !ls\nprint("!not a magic")';
    const shell = magicShell(cell);
    assert.equal(shell.length, cell.length);
    assert.deepEqual(shell.split('\n'), ['         ', ' chmod 777 /tmp/c', '     A=1', '       B=2', '         C=3', '       ', '                     ']);
    assert.equal(blankMagics(cell).split('\n')[1].trim(), '', 'the Python side still blanks the magic');
    const bash = '%%bash\nexport X=/tmp/x\nchmod 777 $X';
    assert.deepEqual(magicShell(bash).split('\n'), ['      ', 'export X=/tmp/x', 'chmod 777 $X']);
    assert.equal(magicShell('%%html\n<b>!x</b>').trim(), '', 'other cell magics are not shell');
    assert.equal(magicShell('%%time\n!chmod 777 /tmp/c').split('\n')[1], ' chmod 777 /tmp/c', 'a timed cell is Python with its own escapes');
  });

  it('finds a shared cache folder set with %env and in a bash cell of an .ipynb, with the magic as the snippet', async () => {
    const text = notebook('%env TRITON_CACHE_DIR=/tmp/triton\n', 'print(1)\n', '%%bash\nexport NUMBA_CACHE_DIR=/tmp/numba\n');
    const { findings, warnings } = await analyzeDocument('nb.ipynb', text, 'notebook');
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      findings.map((f) => [f.ruleId, f.evidence.cell?.cell, f.evidence.cell?.line, f.evidence.snippet]),
      [
        ['JIT-CACHE-POISONING', 0, 1, 'TRITON_CACHE_DIR=/tmp/triton'],
        ['JIT-CACHE-POISONING', 2, 2, 'export NUMBA_CACHE_DIR=/tmp/numba'],
      ],
    );
  });

  it('does the same for cells joined by the language server', async () => {
    const cells = ['import os', '%env TRITON_CACHE_DIR=/tmp/triton', 'os.umask(0o077)'];
    const program = programFromCells(cells);
    const { findings } = await analyzeDocument('nb.ipynb', program.text, 'python', { magics: { source: program.source, shell: program.shell } });
    assert.equal(findings.length, 1);
    const start = findings[0].evidence.startOffset;
    assert.equal(program.source.slice(start, findings[0].evidence.endOffset), 'TRITON_CACHE_DIR=/tmp/triton');
    assert.equal(program.cells[1].start <= start && start < program.cells[1].start + program.cells[1].length, true, 'on the second cell');
    // Without the magics the setting is invisible (what the server did before).
    assert.deepEqual((await analyzeDocument('nb.ipynb', program.text, 'python')).findings, []);
  });

  it('reads nbformat 3 notebooks (cells under worksheets, code in `input`)', async () => {
    const v3 = JSON.stringify({ nbformat: 3, worksheets: [{ cells: [{ cell_type: 'markdown', source: ['x'] }, { cell_type: 'code', input: ['import os\n', 'eval(os.environ["F"])\n'] }] }] });
    const { findings, warnings } = await analyzeDocument('old.ipynb', v3, 'notebook');
    assert.deepEqual(warnings, []);
    assert.deepEqual(findings.map((f) => [f.ruleId, f.evidence.cell?.cell, f.evidence.cell?.line, f.confidence]), [['JIT-EVAL-COMPILE', 1, 2, 'high']]);
  });

  it('calls JSON nested 100,000 deep a bad notebook, not an internal error', async () => {
    const deep = `{"cells": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const { findings, warnings } = await analyzeDocument('deep.ipynb', deep, 'notebook');
    assert.deepEqual(findings, []);
    assert.deepEqual(warnings.map((w) => [w.code, w.message]), [['bad-notebook', 'nests its JSON too deeply to read (not a notebook)']]);
  });
});
