// Text from scanned files (snippets, signals, paths) made safe to show: shared by the reporters whose output a
// terminal or a rendered page shows as it is.

/**
 * Snippets, signals and paths come from scanned files, which an attacker may control: C0/C1 control
 * characters (ANSI escapes) and bidi overrides (Trojan Source) would rewrite what the terminal shows, so
 * they are printed as visible `\u{…}` escapes instead.
 */
export function visible(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    const unsafe =
      (code < 0x20 && code !== 0x09 && code !== 0x0a) ||
      (code >= 0x7f && code <= 0x9f) ||
      code === 0x200e ||
      code === 0x200f ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069);
    out += unsafe ? `\\u{${code.toString(16)}}` : ch;
  }
  return out;
}
