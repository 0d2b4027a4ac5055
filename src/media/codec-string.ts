/**
 * RFC 6381 codec strings (what HLS CODECS and DASH @codecs carry), read from the decoder
 * configuration an encoder wrote into a rendition's init segment: exact, and with no ffprobe run.
 */

interface Box {
  type: string;
  /** Offset of the box's payload (after its header). */
  start: number;
  end: number;
}

/** The boxes laid one after another in buf[start, end). */
function* boxes(buf: Buffer, start: number, end: number): Generator<Box> {
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    let header = 8;
    if (size === 1) {
      if (at + 16 > end) return;
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) return;
    yield { type: buf.toString('latin1', at + 4, at + 8), start: at + header, end: at + size };
    at += size;
  }
}

const child = (buf: Buffer, parent: Box, type: string) => {
  for (const b of boxes(buf, parent.start, parent.end)) if (b.type === type) return b;
  return null;
};

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** H.264: avc1.PPCCLL, profile, constraint flags and level from the avcC record. */
function avcString(entry: string, c: Buffer): string | null {
  if (c.length < 4) return null;
  return `${entry}.${hex2(c[1]!)}${hex2(c[2]!)}${hex2(c[3]!)}`;
}

/** HEVC (ISO/IEC 14496-15 annex E): hvc1.[space]profile.compat.TierLevel.constraints. */
function hevcString(entry: string, c: Buffer): string | null {
  if (c.length < 13) return null;
  const space = ['', 'A', 'B', 'C'][c[1]! >> 6]!;
  const tier = (c[1]! >> 5) & 1 ? 'H' : 'L';
  const profile = c[1]! & 0x1f;
  // The 32 compatibility flags in reverse bit order, in hex without leading zeros.
  let compat = c.readUInt32BE(2);
  let reversed = 0;
  for (let i = 0; i < 32; i++) {
    reversed = (reversed << 1) | (compat & 1);
    compat >>>= 1;
  }
  const constraints = [...c.subarray(6, 12)].map((b) => b.toString(16).toUpperCase().padStart(2, '0'));
  while (constraints.length > 1 && constraints[constraints.length - 1] === '00') constraints.pop();
  return `${entry}.${space}${profile}.${(reversed >>> 0).toString(16).toUpperCase()}.${tier}${c[12]!}.${constraints.join('.')}`;
}

/** AV1 (AV1 ISOBMFF binding): av01.profile.LevelTier.bitDepth. */
function av1String(entry: string, c: Buffer): string | null {
  if (c.length < 3) return null;
  const profile = c[1]! >> 5;
  const level = c[1]! & 0x1f;
  const tier = c[2]! & 0x80 ? 'H' : 'M';
  const depth = c[2]! & 0x20 ? 12 : c[2]! & 0x40 ? 10 : 8;
  return `${entry}.${profile}.${String(level).padStart(2, '0')}${tier}.${String(depth).padStart(2, '0')}`;
}

const configs: Record<string, { box: string; read: (entry: string, c: Buffer) => string | null }> = {
  avc1: { box: 'avcC', read: avcString },
  avc3: { box: 'avcC', read: avcString },
  hvc1: { box: 'hvcC', read: hevcString },
  hev1: { box: 'hvcC', read: hevcString },
  av01: { box: 'av1C', read: av1String },
};

/** Bytes of a VisualSampleEntry before its child boxes (ISO/IEC 14496-12 §12.1.3). */
const visualSampleEntryFields = 78;

/** The codec string of the first video track of an MP4 init segment, or null when it has none we know. */
export function videoCodecFromInit(buf: Buffer): string | null {
  const moov = [...boxes(buf, 0, buf.length)].find((b) => b.type === 'moov');
  if (!moov) return null;
  for (const trak of boxes(buf, moov.start, moov.end)) {
    if (trak.type !== 'trak') continue;
    let box: Box | null = trak;
    for (const type of ['mdia', 'minf', 'stbl', 'stsd']) box = box && child(buf, box, type);
    if (!box) continue;
    // stsd: version and flags, entry count, then the sample entries.
    for (const entry of boxes(buf, box.start + 8, box.end)) {
      const known = configs[entry.type];
      if (!known) continue;
      const config = [...boxes(buf, entry.start + visualSampleEntryFields, entry.end)].find(
        (b) => b.type === known.box,
      );
      if (config) return known.read(entry.type, buf.subarray(config.start, config.end));
    }
  }
  return null;
}
