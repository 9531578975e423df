// Loads web-tree-sitter and the grammars' own .wasm files once per process and parses documents. The
// language server keeps trees and re-parses incrementally through the same module.
import { Language, Parser, type Tree } from 'web-tree-sitter';
import { grammarPath } from './assets';
import { GRAMMAR_FILES } from './languages';
import type { LanguageId } from './finding';

let initialised: Promise<void> | undefined;
const languages = new Map<string, Promise<Language>>();
const parsers = new Map<string, Parser>();

function init(): Promise<void> {
  initialised ??= Parser.init({ locateFile: () => grammarPath('web-tree-sitter.wasm') });
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

/** Parses `text`; pass `oldTree` (already edited with `tree.edit`) to re-parse incrementally. */
export async function parseText(lang: LanguageId, text: string, oldTree?: Tree): Promise<Tree> {
  const parser = await parserFor(lang);
  const tree = parser.parse(text, oldTree ?? null);
  if (!tree) throw new Error(`tree-sitter returned no tree for a ${lang} document`);
  return tree;
}

export type { Tree, Node } from 'web-tree-sitter';
