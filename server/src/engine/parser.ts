// Loads web-tree-sitter and the grammars' own .wasm files once per process and parses documents. The
// language server keeps trees and re-parses incrementally through the same module.
import { Language, Parser, type Tree } from 'web-tree-sitter';
import { grammarPath } from './assets';
import { GRAMMAR_FILES } from './languages';
import type { LanguageId } from './finding';

let initialised: Promise<void> | undefined;
const languages = new Map<string, Promise<Language>>();
const parsers = new Map<string, Parser>();

/** Set once the parser's WebAssembly instance has aborted: it cannot parse again in this thread. */
let crashed: string | undefined;

/** Why the parser can no longer be used in this thread (it crashed on an earlier file), if it cannot. */
export function parserCrash(): string | undefined {
  return crashed;
}

function init(): Promise<void> {
  // Emscripten prints `Aborted()` to stderr itself; the scan reports the crash as a warning on the file.
  initialised ??= Parser.init({ locateFile: () => grammarPath('web-tree-sitter.wasm'), printErr: () => undefined });
  return initialised;
}

async function languageFor(file: string): Promise<Language> {
  await init();
  let lang = languages.get(file);
  if (!lang) {
    lang = Language.load(grammarPath(file));
    languages.set(file, lang);
  }
  return lang;
}

/** Whether `lang` is parsed with tree-sitter (dotenv and Dockerfiles are read line by line). */
export function hasGrammar(lang: LanguageId): boolean {
  return GRAMMAR_FILES[lang] !== undefined;
}

/** A parser bound to the grammar of `lang`; one per grammar, reused (parsing is synchronous). */
export async function parserFor(lang: LanguageId): Promise<Parser> {
  const file = GRAMMAR_FILES[lang];
  if (!file) throw new Error(`no tree-sitter grammar for ${lang}`);
  let parser = parsers.get(file);
  if (!parser) {
    const language = await languageFor(file);
    parser = new Parser();
    parser.setLanguage(language);
    parsers.set(file, parser);
  }
  return parser;
}

/**
 * When `err` is the WebAssembly instance aborting (out of memory on a huge or extremely nested file, while
 * parsing or while reading the tree), marks the instance as unusable and returns the error to report on the
 * file; undefined for any other error. Aborts surface as `RuntimeError`s or as Emscripten's `Aborted()`.
 */
export function crashFrom(err: unknown): ParserCrashError | undefined {
  if (err instanceof ParserCrashError) return err;
  if ((err as Error)?.name !== 'RuntimeError' && !/\bAborted\(/.test(String((err as Error)?.message))) return undefined;
  crashed ??= 'it ran out of memory or aborted';
  return new ParserCrashError(`tree-sitter's parser crashed on it (${crashed}: too large or too deeply nested to parse)`);
}

/** Parses `text`; pass `oldTree` (already edited with `tree.edit`) to re-parse incrementally. */
export async function parseText(lang: LanguageId, text: string, oldTree?: Tree): Promise<Tree> {
  if (crashed) throw new ParserCrashError(`tree-sitter's parser crashed on an earlier file in this thread (${crashed}) and cannot parse again`);
  const parser = await parserFor(lang);
  let tree: Tree | null;
  try {
    tree = parser.parse(text, oldTree ?? null);
  } catch (err) {
    throw crashFrom(err) ?? err;
  }
  if (!tree) throw new Error(`tree-sitter returned no tree for a ${lang} document`);
  return tree;
}

export type { Tree, Node } from 'web-tree-sitter';

/** The parser crashed (on this text or an earlier one): the thread needs a fresh WebAssembly instance. */
export class ParserCrashError extends Error {
  override name = 'ParserCrashError';
}
