// A minimal zip reader for torch.save archives (.pt/.pth): the central directory (zip64 included) and single
// stored or deflated members, through positioned reads, so a multi-gigabyte checkpoint is never read whole.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

/** Random access to the archive's bytes: a file descriptor or, for archives nested in a pickle, a buffer. */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes from `position`; shorter only at the end of the data. */
  read(position: number, length: number): Buffer;
}

export function bufferSource(buf: Buffer): ByteSource {
  return {
    size: buf.length,
    read: (position, length) => buf.subarray(Math.max(0, position), Math.min(buf.length, position + length)),
  };
}

export function fileSource(fd: number, size: number): ByteSource {
  return {
    size,
    read(position, length) {
      const want = Math.max(0, Math.min(length, size - position));
      const buf = Buffer.alloc(want);
      let done = 0;
      while (done < want) {
        const n = fs.readSync(fd, buf, done, want - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done === want ? buf : buf.subarray(0, done);
    },
  };
}

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated; anything else is not read. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Offset of the central-directory record, for messages. */
  directoryOffset: number;
}

/** An archive that cannot be read; `offset` is where the reader gave up. */
export class ZipError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ZipError';
  }
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;
/** A central directory bigger than this is not a model checkpoint's: refuse rather than allocate. */
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

export function looksLikeZip(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === LOCAL;
}

function findEndRecord(src: ByteSource): { at: number; record: Buffer } {
  const tailLength = Math.min(src.size, 22 + MAX_COMMENT);
  const tailStart = src.size - tailLength;
  const tail = src.read(tailStart, tailLength);
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) return { at: tailStart + i, record: tail.subarray(i) };
  }
  throw new ZipError('has no end-of-central-directory record (not a zip archive, or cut off)', src.size);
}

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError('declares a size beyond 2^53 bytes', at);
  return Number(v);
}

/** Lists the archive's members from its central directory. Throws ZipError when the directory is unreadable. */
export function readZipDirectory(src: ByteSource, maxEntries = 1_000_000): ZipEntry[] {
  const end = findEndRecord(src);
  let count = end.record.readUInt16LE(10);
  let dirSize = end.record.readUInt32LE(12);
  let dirOffset = end.record.readUInt32LE(16);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    const locator = src.read(end.at - 20, 20);
    if (locator.length !== 20 || locator.readUInt32LE(0) !== ZIP64_LOCATOR) throw new ZipError('needs a zip64 end record but has no locator', end.at);
    const at = u64(locator, 8);
    const rec = src.read(at, 56);
    if (rec.length !== 56 || rec.readUInt32LE(0) !== ZIP64_EOCD) throw new ZipError('has a zip64 locator that points at no zip64 end record', at);
    count = u64(rec, 32);
    dirSize = u64(rec, 40);
    dirOffset = u64(rec, 48);
  }
  if (count > maxEntries) throw new ZipError(`lists ${count} members, over the limit of ${maxEntries}`, end.at);
  if (dirSize > MAX_DIRECTORY_BYTES) throw new ZipError(`has a ${dirSize}-byte central directory, over the ${MAX_DIRECTORY_BYTES}-byte limit`, end.at);
  if (dirOffset + dirSize > src.size) throw new ZipError('has a central directory that runs past the end of the file', dirOffset);
  const dir = src.read(dirOffset, dirSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL) throw new ZipError(`central directory record ${i} is damaged`, dirOffset + p);
    const flags = dir.readUInt16LE(p + 8);
    const method = dir.readUInt16LE(p + 10);
    let compressedSize = dir.readUInt32LE(p + 20);
    let uncompressedSize = dir.readUInt32LE(p + 24);
    const nameLength = dir.readUInt16LE(p + 28);
    const extraLength = dir.readUInt16LE(p + 30);
    const commentLength = dir.readUInt16LE(p + 32);
    let localHeaderOffset = dir.readUInt32LE(p + 42);
    const nameStart = p + 46;
    if (nameStart + nameLength + extraLength + commentLength > dir.length) throw new ZipError(`central directory record ${i} runs past the directory`, dirOffset + p);
    // Bit 11: the name is UTF-8; otherwise CP437, which agrees with latin1 for the ASCII names archives use.
    const name = dir.toString(flags & 0x800 ? 'utf8' : 'latin1', nameStart, nameStart + nameLength);
    // Zip64 extra field: the 64-bit values of whichever 32-bit fields are saturated, in this order.
    let e = nameStart + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = dir.readUInt16LE(e);
      const size = dir.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (): number => {
          if (q + 8 > e + 4 + size) throw new ZipError(`central directory record ${i} has a short zip64 field`, dirOffset + q);
          const v = u64(dir, q);
          q += 8;
          return v;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      e += 4 + size;
    }
    entries.push({ name, method, compressedSize, uncompressedSize, localHeaderOffset, directoryOffset: dirOffset + p });
    p = extraEnd + commentLength;
  }
  return entries;
}

/**
 * The first `maxBytes` bytes of one member, inflated if needed. `truncated` is true when the member is
 * longer; a deflated member over the limit is not inflated at all (`data` empty, `truncated` true).
 */
export function readZipEntry(src: ByteSource, entry: ZipEntry, maxBytes: number): { data: Buffer; truncated: boolean; dataOffset: number } {
  const header = src.read(entry.localHeaderOffset, 30);
  if (header.length !== 30 || header.readUInt32LE(0) !== LOCAL) throw new ZipError(`member ${entry.name} has no local header`, entry.localHeaderOffset);
  const dataOffset = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  if (dataOffset + entry.compressedSize > src.size) throw new ZipError(`member ${entry.name} runs past the end of the archive`, dataOffset);
  if (entry.method === 0) {
    const n = Math.min(entry.compressedSize, maxBytes);
    return { data: src.read(dataOffset, n), truncated: entry.compressedSize > maxBytes, dataOffset };
  }
  if (entry.method === 8) {
    if (entry.uncompressedSize > maxBytes || entry.compressedSize > maxBytes) return { data: Buffer.alloc(0), truncated: true, dataOffset };
    try {
      const data = zlib.inflateRawSync(src.read(dataOffset, entry.compressedSize), { maxOutputLength: maxBytes });
      return { data, truncated: false, dataOffset };
    } catch (err) {
      throw new ZipError(`member ${entry.name} cannot be inflated: ${(err as Error).message}`, dataOffset);
    }
  }
  throw new ZipError(`member ${entry.name} uses compression method ${entry.method}, which Sentinel does not read`, entry.directoryOffset);
}
