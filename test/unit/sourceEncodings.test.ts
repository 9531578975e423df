// How scanned files' bytes become text: UTF-16 with a BOM is decoded like UTF-8, NUL bytes without one stay
// binary, and LF, CRLF and CR-only line breaks give the same lines to findings and to every warning.
import * as assert from 'node:assert/strict';
import type { Finding, ScanReport, ScanWarning } from '../../server/src/engine/finding';
import { LineIndex, withLoneCrAsLf } from '../../server/src/engine/lines';
import { scanPaths } from '../../server/src/engine/scanner';
import { makeWorkspace, removeWorkspace } from '../helpers/workspace';

/** An emoji (a surrogate pair) and CJK text before the sink on its line, so a column in bytes would be off. */
const WIDE_SOURCE = '# launcher: 🚀 启动\ndef calculator(expression):\n    label = "😀中文"; return eval(expression)\n';

function utf16(text: string, order: 'le' | 'be'): Buffer {
  const le = Buffer.from(text, 'utf16le');
  return order === 'le' ? Buffer.concat([Buffer.from([0xff, 0xfe]), le]) : Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(le).swap16()]);
}

/** 1-based line and column (UTF-16 code units) of the first `needle` in `text`, lines ending at LF. */
function positionOf(text: string, needle: string): { line: number; column: number } {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `${needle} not in the text`);
  const before = text.slice(0, at);
  return { line: before.split('\n').length, column: at - (before.lastIndexOf('\n') + 1) + 1 };
}

function where(f: Finding): string {
  const e = f.evidence;
  return `${e.path}:${e.startLine}:${e.startColumn}-${e.endLine}:${e.endColumn} ${f.ruleId} ${f.decision}`;
}

function warningsOf(report: ScanReport): string[] {
  return report.warnings.map((w: ScanWarning) => `${w.code} ${w.path}${w.line !== undefined ? `:${w.line}` : ''}`).sort();
}

async function scan(files: Record<string, string | Buffer>): Promise<ScanReport> {
  const ws = makeWorkspace(files);
  try {
    return await scanPaths([ws], { jobs: 1, baseDir: ws, prefilter: false });
  } finally {
    removeWorkspace(ws);
  }
}

describe('source encodings and line breaks', function () {
  this.timeout(60_000);

  describe('UTF-16 with a byte order mark', () => {
    it('scans UTF-16LE and UTF-16BE files like the UTF-8 file, at the same lines and UTF-16 columns', async () => {
      const report = await scan({ 'utf8.py': WIDE_SOURCE, 'le.py': utf16(WIDE_SOURCE, 'le'), 'be.py': utf16(WIDE_SOURCE, 'be') });
      assert.deepEqual(report.warnings, []);
      assert.equal(report.filesScanned, 3);
      const byFile = new Map(report.findings.map((f) => [f.evidence.path, f]));
      const want = positionOf(WIDE_SOURCE, 'eval(');
      for (const file of ['utf8.py', 'le.py', 'be.py']) {
        const f = byFile.get(file);
        assert.ok(f, `no finding in ${file}: ${JSON.stringify(report.findings.map(where))}`);
        assert.equal(f.ruleId, 'JIT-EVAL-COMPILE');
        assert.deepEqual({ line: f.evidence.startLine, column: f.evidence.startColumn }, want, file);
        assert.equal(f.evidence.snippet, 'eval(expression)', file);
        // The decoded text, not the bytes: offsets count UTF-16 code units after the BOM.
        assert.equal(f.evidence.startOffset, WIDE_SOURCE.indexOf('eval('), file);
        assert.equal(f.fingerprint, byFile.get('utf8.py')!.fingerprint, `${file} fingerprints as the UTF-8 file does`);
      }
    });

    it('tells the language of a UTF-16 script without an extension from its shebang', async () => {
      const script = '#!/usr/bin/env python3\nimport sys\neval(sys.argv[1])\n';
      const report = await scan({ 'bin/run-tool': utf16(script, 'le') });
      assert.deepEqual(warningsOf(report), []);
      assert.deepEqual(report.findings.map(where), ['bin/run-tool:3:1-3:18 JIT-EVAL-COMPILE block']);
    });

    it('keeps NUL bytes without a UTF-16 BOM binary, and a BOM followed by NUL characters too', async () => {
      const bomless = Buffer.from('def calculator(expression):\n    return eval(expression)\n', 'utf16le');
      // FF FE 00 00 is UTF-32LE's BOM: read as UTF-16 its every other character is U+0000.
      const utf32 = Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), ...[...'eval(x)\n'].map((c) => Buffer.from([c.charCodeAt(0), 0, 0, 0]))]);
      const report = await scan({ 'bomless.py': bomless, 'utf32.py': utf32 });
      assert.deepEqual(warningsOf(report), ['binary bomless.py', 'binary utf32.py']);
      assert.deepEqual(report.findings, []);
    });

    it('warns about malformed UTF-16 (a lone surrogate, an odd byte) and still scans it', async () => {
      const body = Buffer.from('x = "?"\ndef calculator(expression):\n    return eval(expression)\n', 'utf16le');
      body.writeUInt16LE(0xd800, 10); // the `?` becomes a high surrogate with no low one after it
      const lone = Buffer.concat([Buffer.from([0xff, 0xfe]), body]);
      const odd = Buffer.concat([utf16('def calculator(expression):\n    return eval(expression)\n', 'be'), Buffer.from([0x0a])]);
      const report = await scan({ 'lone.py': lone, 'odd.py': odd });
      // The odd byte decodes to U+FFFD on a line of its own, which Python does not accept.
      assert.deepEqual(warningsOf(report), ['not-utf8 lone.py', 'not-utf8 odd.py', 'parse-error odd.py:3']);
      assert.match(report.warnings.find((w) => w.path === 'lone.py')!.message, /^is not valid UTF-16LE; scanned with invalid/);
      assert.match(report.warnings.find((w) => w.path === 'odd.py')!.message, /^is not valid UTF-16BE; scanned with invalid/);
      assert.deepEqual(report.findings.map(where).sort(), ['lone.py:3:12-3:28 JIT-EVAL-COMPILE block', 'odd.py:2:12-2:28 JIT-EVAL-COMPILE block']);
    });
  });

  describe('LF, CRLF and CR-only line breaks', () => {
    // A sink, an allowed sink, an allow comment without a reason, and a syntax error, each on a known line.
    const LINES = [
      'import os', // 1
      '', // 2
      'def calculator(expression):', // 3
      '    return eval(expression)', // 4
      '', // 5
      'def trusted(expression):', // 6
      '    # sentinel: allow JIT-EVAL-COMPILE -- reviewed: only internal callers', // 7
      '    return eval(expression)', // 8
      '', // 9
      '# sentinel: allow JIT-EVAL-COMPILE', // 10
      'x = = 1', // 11
      'y = 2', // 12
    ];
    const BREAKS = { lf: '\n', crlf: '\r\n', cr: '\r' } as const;

    for (const lang of ['python', 'javascript'] as const) {
      const lines =
        lang === 'python'
          ? LINES
          : LINES.map((l) =>
              l
                .replace('import os', "const os = require('os');")
                .replace(/^def (\w+)\((\w+)\):$/, 'function $1($2) {')
                .replace(/^ {4}return eval\((\w+)\)$/, '  return eval($1); }')
                .replace(/^(\s*)#/, '$1//')
                .replace(/^([xy]) =( =)? (\d)$/, 'let $1 =$2 $3;'),
            );
      it(`puts ${lang} findings and warnings on the same lines whatever the line breaks`, async () => {
        const ext = lang === 'python' ? 'py' : 'js';
        const files = Object.fromEntries(Object.entries(BREAKS).map(([name, br]) => [`${name}.${ext}`, lines.join(br) + br]));
        const report = await scan(files);
        const per = (name: string): string[] => [
          ...report.findings.filter((f) => f.evidence.path === `${name}.${ext}`).map((f) => `${f.evidence.startLine}:${f.evidence.startColumn}-${f.evidence.endLine}:${f.evidence.endColumn} ${f.decision}`),
          ...report.warnings.filter((w) => w.path === `${name}.${ext}`).map((w) => `${w.code}:${w.line} ${w.message}`).sort(),
        ];
        const col = lang === 'python' ? '12-4:28' : '10-4:26';
        const col8 = lang === 'python' ? '12-8:28' : '10-8:26';
        const expected = [
          `4:${col} block`,
          `8:${col8} suppressed`,
          'incomplete-allow-comment:10 allow comment on line 10 suppresses nothing: gives no reason, so it suppresses nothing; write `sentinel: allow JIT-EVAL-COMPILE -- <why this is safe>`',
          'parse-error:11 has syntax errors (first at line 11); the rest of the file was still checked',
        ];
        for (const name of Object.keys(BREAKS)) assert.deepEqual(per(name), expected, `${name}.${ext}`);
      });
    }

    it('withLoneCrAsLf turns lone CRs into LFs, keeps CRLF and the length, so every position stays put', () => {
      const text = 'a\rb\r\nc\n\rd\r\r\ne\r';
      const fed = withLoneCrAsLf(text);
      assert.equal(fed, 'a\nb\r\nc\n\nd\n\r\ne\n');
      assert.equal(withLoneCrAsLf('x\r\ny\n'), 'x\r\ny\n');
      const before = new LineIndex(text);
      const after = new LineIndex(fed);
      assert.equal(after.lineCount, before.lineCount);
      for (let o = 0; o <= text.length; o++) assert.deepEqual(after.position(o), before.position(o), `offset ${o}`);
    });

    it('reads a CR-only file without a syntax error when it has none', async () => {
      const report = await scan({ 'mac.py': 'import os\r\rdef calculator(expression):\r    x = 1; y = 2\r    z = 3\r    return eval(expression)\r' });
      assert.deepEqual(warningsOf(report), []);
      assert.deepEqual(report.findings.map(where), ['mac.py:6:12-6:28 JIT-EVAL-COMPILE block']);
    });
  });
});
