// Open documents as the editor sees them: text kept in sync from incremental changes (ranges converted
// from the negotiated position encoding), a syntax tree that follows the edits, and the engine language.
import * as path from 'node:path';
import { URI } from 'vscode-uri';
import type { TextDocumentContentChangeEvent } from 'vscode-languageserver/node';
import type { LanguageId } from '../engine/finding';
import { SyntaxDocument } from '../engine/incremental';
import { LiveAnalysis } from '../engine/liveAnalysis';
import { callsNvrtc, detectLanguage } from '../engine/languages';

/** Plain C and C++ are only analysed while they call NVRTC, as in the CLI (checked on every change). */
export function outOfScope(languageId: string, text: string): boolean {
  return (languageId === 'c' || languageId === 'cpp') && !callsNvrtc(text);
}
import { PositionConverter, type PositionEncoding } from './positions';

/** LSP language identifiers → engine languages, for documents whose file name does not tell (untitled…). */
const BY_LANGUAGE_ID: Record<string, LanguageId> = {
  python: 'python',
  javascript: 'javascript',
  javascriptreact: 'javascript',
  typescript: 'typescript',
  typescriptreact: 'tsx',
  'cuda-cpp': 'cuda',
  cuda: 'cuda',
  cpp: 'cuda',
  c: 'cuda',
  shellscript: 'shell',
  sh: 'shell',
  bash: 'shell',
  dockerfile: 'dockerfile',
  yaml: 'yaml',
  dotenv: 'dotenv',
};

export function languageOf(uri: string, languageId: string, text: string): LanguageId | undefined {
  const fsPath = uriToPath(uri);
  const byName = fsPath ? detectLanguage(fsPath, text.slice(0, 64 * 1024)) : undefined;
  if (byName && byName !== 'notebook') return byName;
  return BY_LANGUAGE_ID[languageId];
}

export function uriToPath(uri: string): string | undefined {
  try {
    const parsed = URI.parse(uri);
    return parsed.scheme === 'file' ? parsed.fsPath : undefined;
  } catch {
    return undefined;
  }
}

export function pathToUri(fsPath: string): string {
  return URI.file(path.resolve(fsPath)).toString();
}

export class OpenDocument {
  readonly syntax: SyntaxDocument;
  /** The document's analyses, which reuse the last one's raw findings after an edit inside a comment. */
  readonly live = new LiveAnalysis();

  constructor(
    readonly uri: string,
    readonly languageId: string,
    public version: number,
    readonly lang: LanguageId,
    text: string,
  ) {
    this.syntax = new SyntaxDocument(lang, text);
  }

  get text(): string {
    return this.syntax.content;
  }

  /** Positions in the current text; the line index follows the edits, so this does not scan the text. */
  converter(encoding: PositionEncoding): PositionConverter {
    return new PositionConverter(this.text, encoding, this.syntax.lineIndex());
  }

  applyChanges(changes: TextDocumentContentChangeEvent[], version: number, encoding: PositionEncoding): void {
    for (const change of changes) {
      if ('range' in change && change.range) {
        const conv = this.converter(encoding);
        const start = conv.offsetAt(change.range.start);
        const end = Math.max(start, conv.offsetAt(change.range.end));
        this.syntax.applyChange(start, end, change.text);
      } else {
        this.syntax.replaceAll(change.text);
      }
    }
    this.version = version;
  }

  dispose(): void {
    this.syntax.dispose();
  }
}
