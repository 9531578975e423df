// Reading a file Sentinel did not write without trusting it: opened without blocking (a FIFO would wait for a
// writer forever; it is opened, seen by fstat and refused), optionally never through a final symlink, and
// read to at most a limit whatever fstat says. Sources, .gitignore files, policies, reports to merge and
// baselines all read this way. Also: what kind of file a path is (`kindOf`, `isDirectory`), for the same callers.
import * as fs from 'node:fs';

/** Read-only, never blocking on a FIFO. */
export const OPEN_NONBLOCK = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
/** Read-only, never blocking on a FIFO, never through a final symlink (a file swapped for one after the walk). */
export const OPEN_NOFOLLOW_NONBLOCK = OPEN_NONBLOCK | (fs.constants.O_NOFOLLOW ?? 0);

/** What a file that is not a regular one is, for messages such as "is a FIFO (named pipe), not a regular file". */
export function kindOf(stat: fs.Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Reads an open file to its end, but never more than `maxBytes` + 1 bytes whatever `sizeHint` (fstat) said:
 * files under /proc say 0 yet yield unbounded data, and a file may grow. Read counts stay multiples of 8
 * (/proc/<pid>/pagemap refuses others). Undefined when the file holds more than `maxBytes`.
 */
export function readAtMost(fd: number, sizeHint: number, maxBytes: number): Buffer | undefined {
  const roundUp = (n: number): number => Math.ceil(n / 8) * 8;
  const ceiling = roundUp(maxBytes + 1);
  let buf = Buffer.alloc(roundUp(Math.min(sizeHint + 1, maxBytes + 1)));
  let length = 0;
  for (;;) {
    if (length === buf.length) {
      const grown = Buffer.alloc(Math.min(ceiling, Math.max(64 * 1024, buf.length * 2)));
      buf.copy(grown, 0, 0, length);
      buf = grown;
    }
    const n = fs.readSync(fd, buf, length, buf.length - length, null);
    if (n === 0) return buf.subarray(0, length);
    length += n;
    if (length > maxBytes) return undefined;
  }
}

/** Whether `p` is a folder (or a link to one); false when it cannot be looked at (callers report that their way). */
export function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
