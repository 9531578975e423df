// File names as bytes: how a name that is not valid UTF-8 is shown (the walk, the cache search, git's lists).
import { isUtf8 } from 'node:buffer';

/** A file name's bytes as text: valid UTF-8 sequences as they are, every other byte as `\xNN`. */
export function escapeName(raw: Buffer): string {
  let out = '';
  for (let i = 0; i < raw.length; ) {
    const b = raw[i]!;
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n > 0 && i + n <= raw.length && isUtf8(raw.subarray(i, i + n))) {
      out += raw.toString('utf8', i, i + n);
      i += n;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}
