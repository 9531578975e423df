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

/** The most a deflate stream can expand: 258 bytes from 2 bits, about 1032 to 1 (RFC 1951). */
const MAX_DEFLATE_RATIO = 1032;
const MIN_FEED = 1024;
const MAX_FEED = 64 * 1024;

/** One member's first bytes; `truncated` when the member is longer, `error` when its data broke off. */
export interface ZipEntryRead {
  data: Buffer;
  truncated: boolean;
  dataOffset: number;
  /** A deflated member whose stream is damaged: what was inflated before the damage is in `data`. */
  error?: string;
}

/**
 * The first `maxBytes` bytes of one member, inflated if needed. `truncated` is true when the member is
 * longer (by its declared size or by what inflating it produced). A deflated member is inflated as a stream
 * and inflating stops once `maxBytes` are out, so a member of any size (or a zip bomb) costs at most
 * `maxBytes` plus about a megabyte of memory, whatever sizes the directory declares.
 */
export async function readZipEntry(src: ByteSource, entry: ZipEntry, maxBytes: number): Promise<ZipEntryRead> {
  const header = src.read(entry.localHeaderOffset, 30);
  if (header.length !== 30 || header.readUInt32LE(0) !== LOCAL) throw new ZipError(`member ${entry.name} has no local header`, entry.localHeaderOffset);
  const dataOffset = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  if (dataOffset + entry.compressedSize > src.size) throw new ZipError(`member ${entry.name} runs past the end of the archive`, dataOffset);
  if (entry.method === 0) {
    const n = Math.min(entry.compressedSize, maxBytes);
    return { data: src.read(dataOffset, n), truncated: entry.compressedSize > maxBytes, dataOffset };
  }
  if (entry.method === 8) {
    const out = await inflateHead(src, dataOffset, entry.compressedSize, maxBytes);
    return {
      data: out.data,
      truncated: out.truncated || entry.uncompressedSize > maxBytes,
      dataOffset,
      ...(out.error ? { error: `member ${entry.name} cannot be inflated past byte ${out.data.length}: ${out.error}` } : {}),
    };
  }
  throw new ZipError(`member ${entry.name} uses compression method ${entry.method}, which Sentinel does not read`, entry.directoryOffset);
}

/**
 * Inflates the raw deflate stream at `start` until `maxBytes` are out. The compressed bytes are fed in
 * pieces small enough that one piece cannot expand past the remaining room by more than about a megabyte;
 * output past `maxBytes` is dropped as it arrives.
 */
async function inflateHead(src: ByteSource, start: number, compressedSize: number, maxBytes: number): Promise<{ data: Buffer; truncated: boolean; error?: string }> {
  const inflater = zlib.createInflateRaw();
  const chunks: Buffer[] = [];
  let kept = 0;
  let produced = 0;
  let failure: Error | undefined;
  inflater.on('data', (chunk: Buffer) => {
    produced += chunk.length;
    if (kept < maxBytes) {
      const take = chunk.subarray(0, maxBytes - kept);
      chunks.push(take);
      kept += take.length;
    }
  });
  const finished = new Promise<void>((resolve) => {
    inflater.once('end', resolve);
    inflater.once('close', resolve);
    inflater.once('error', (err: Error) => {
      failure = err;
      resolve();
    });
  });
  let fed = 0;
  while (fed < compressedSize && produced <= maxBytes && !failure) {
    const room = Math.ceil((maxBytes - produced) / MAX_DEFLATE_RATIO);
    const piece = src.read(start + fed, Math.min(compressedSize - fed, Math.max(MIN_FEED, Math.min(MAX_FEED, room))));
    if (piece.length === 0) break;
    fed += piece.length;
    // A write that hits damaged data may never call back: the error (or close) ends the wait instead.
    await Promise.race([new Promise<void>((resolve) => inflater.write(piece, () => resolve())), finished]);
  }
  const stoppedEarly = fed < compressedSize || produced > maxBytes;
  if (!stoppedEarly && !failure) {
    inflater.end();
    await finished;
  } else {
    inflater.destroy();
    await finished;
  }
  let data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (failure) {
    // zlib drops the output of the write that hit the damage; the longest prefix that inflates gives it back.
    const recovered = inflateLongestPrefix(src, start, fed, maxBytes);
    if (recovered.length > data.length) data = recovered;
  }
  return { data, truncated: produced > maxBytes || (stoppedEarly && !failure), ...(failure ? { error: failure.message } : {}) };
}

/**
 * The output of the longest prefix of the first `fed` compressed bytes that inflates without an error and
 * within `maxBytes` (a binary search; a cut-off prefix is no error with a sync flush). Only damaged members
 * come here.
 */
function inflateLongestPrefix(src: ByteSource, start: number, fed: number, maxBytes: number): Buffer {
  const input = src.read(start, fed);
  let best: Buffer = Buffer.alloc(0);
  let lo = 0;
  let hi = input.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    let out: Buffer | undefined;
    try {
      out = zlib.inflateRawSync(input.subarray(0, mid), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, maxBytes) });
    } catch {
      out = undefined;
    }
    if (out) {
      best = out;
      lo = mid;
    } else hi = mid - 1;
  }
  return best;
}
