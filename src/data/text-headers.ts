// The text headers of NRRD (teem's format: "field: value" lines, a blank line, then the data)
// and MetaImage (MetaIO: "Key = Value" lines ending with ElementDataFile), read only as far as
// where the voxels are, how many and how they are encoded (./integrity.ts checks that against
// the file). Strict where a lax reading could differ from ITK's: a required field missing,
// malformed or given twice refuses the file. Reading itself is ITK's.
import { dirname, resolve } from 'node:path';
import type { Encoding, Refusal, StoredData } from './integrity.js';

const bad = (why: string): Refusal => ({ why, code: 'bad-file' });

/** NRRD type names (teem's list) by element size. */
const NRRD_TYPES: [number, string[]][] = [
  [1, ['signed char', 'int8', 'int8_t', 'uchar', 'unsigned char', 'uint8', 'uint8_t']],
  [
    2,
    [
      ...['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t'],
      ...['ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t'],
    ],
  ],
  [4, ['int', 'signed int', 'int32', 'int32_t', 'uint', 'unsigned int', 'uint32', 'uint32_t', 'float']],
  [
    8,
    [
      ...['longlong', 'long long', 'long long int', 'signed long long', 'signed long long int', 'int64', 'int64_t'],
      ...['ulonglong', 'unsigned long long', 'unsigned long long int', 'uint64', 'uint64_t', 'double'],
    ],
  ],
];

const NRRD_ENCODINGS: Record<string, Encoding | 'bzip2'> = {
  raw: 'raw',
  gzip: 'gzip',
  gz: 'gzip',
  bzip2: 'bzip2',
  bz2: 'bzip2',
  ascii: 'ascii',
  text: 'ascii',
  txt: 'ascii',
  hex: 'hex',
};

/** Whole numbers separated by spaces, exactly `n` of them; null otherwise. */
function wholeNumbers(text: string | undefined, n: number): number[] | null {
  const parts = (text ?? '').trim().split(/\s+/);
  if (parts.length < n || !parts.slice(0, n).every((p) => /^[+-]?\d+$/.test(p))) return null;
  return parts.slice(0, n).map(Number);
}

/** The header's fields, keys lower-case without spaces ("data file" → "datafile"); a string if one repeats. */
function nrrdFields(lines: string[]): Map<string, string> | string {
  const fields = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line.startsWith('#') || line.includes(':=')) continue; // comments, key/value pairs
    const at = line.indexOf(': ');
    if (at < 0) continue;
    const key = line.slice(0, at).toLowerCase().replace(/\s+/g, '');
    if (fields.has(key)) return `NRRD field "${line.slice(0, at)}" is given twice`;
    fields.set(key, line.slice(at + 2).trim());
  }
  return fields;
}

/** Spacing along each axis: the length of its space direction, else its "spacings" entry (axes of space only). */
function nrrdSpacing(f: Map<string, string>, n: number): StoredData['spacing'] {
  const kinds = (f.get('kinds') ?? '').split(/\s+/);
  const spatial = (i: number) => !f.has('kinds') || ['domain', 'space'].includes(kinds[i]?.toLowerCase() ?? '');
  const dirs = f.get('spacedirections');
  if (dirs !== undefined) {
    const vectors = dirs.match(/\([^)]*\)|none/gi) ?? [];
    const values = vectors.slice(0, n).map((v) => {
      if (v.toLowerCase() === 'none') return null;
      const xs = v.slice(1, -1).split(',').map(Number);
      return Math.sqrt(xs.reduce((a, x) => a + x * x, 0));
    });
    return { field: 'space directions', values };
  }
  const spacings = f.get('spacings');
  if (spacings === undefined) return { field: 'spacings', values: [] };
  const values = spacings
    .split(/\s+/)
    .slice(0, n)
    .map((t, i) => (spatial(i) ? Number(t) : null));
  return { field: 'spacings', values };
}

/** Element size of a NRRD type name (0: unknown). */
function nrrdTypeBytes(type: string): number {
  const t = type.toLowerCase().replace(/\s+/g, ' ');
  return NRRD_TYPES.find(([, names]) => names.includes(t))?.[0] ?? 0;
}

/**
 * Where a NRRD's voxels are, from its first bytes (`head`, at least the whole header) and its
 * path (a detached "data file" is relative to it); a Refusal instead.
 */
export function nrrdStoredData(head: Buffer, path: string): StoredData | Refusal {
  const text = head.toString('latin1');
  const blank = /\r?\n\r?\n/.exec(text);
  const lines = (blank ? text.slice(0, blank.index) : text).split(/\r?\n/);
  if (!lines[0]?.startsWith('NRRD000')) return bad('no NRRD magic ("NRRD000x") at the start');
  const f = nrrdFields(lines);
  if (typeof f === 'string') return bad(f);
  const n = Number(f.get('dimension'));
  if (!Number.isInteger(n) || n < 1 || n > 16) return bad(`bad NRRD dimension "${f.get('dimension') ?? '(none)'}"`);
  const dims = wholeNumbers(f.get('sizes'), n);
  if (!dims) return bad(`bad NRRD sizes "${f.get('sizes') ?? '(none)'}" for dimension ${n}`);
  const type = f.get('type') ?? '(none)';
  const elementBytes = nrrdTypeBytes(type);
  if (!elementBytes) return bad(`unknown NRRD type "${type}"`);
  const encoding = NRRD_ENCODINGS[(f.get('encoding') ?? '').toLowerCase()] as Encoding | 'bzip2' | undefined;
  if (!encoding) return bad(`unknown NRRD encoding "${f.get('encoding') ?? '(none)'}"`);
  if (encoding === 'bzip2')
    return { why: "bzip2-encoded NRRD: ITK's NRRD reader cannot decode it", code: 'unsupported' };
  const detached = f.get('datafile');
  if (detached === undefined && !blank) return bad('truncated: no blank line ends the NRRD header');
  const skip = Number(f.get('byteskip') ?? 0);
  const lineSkip = Number(f.get('lineskip') ?? 0);
  if (!Number.isInteger(skip) || skip < -1 || !Number.isInteger(lineSkip) || lineSkip < 0)
    return bad('bad NRRD "byte skip" or "line skip"');
  // Several data files ("LIST", or a name pattern with a range) are left to ITK.
  const many = detached !== undefined && (/^LIST/.test(detached) || /\s/.test(detached));
  return {
    dims,
    type,
    elementBytes,
    dataFile: detached === undefined || many ? path : resolve(dirname(path), detached),
    start: detached === undefined && blank ? blank.index + blank[0].length : 0,
    encoding: many ? 'unchecked' : encoding,
    skip: Math.max(0, skip),
    exact: skip >= 0 && lineSkip === 0,
    spacing: nrrdSpacing(f, n),
  };
}

/** MetaIO element types by size (the _ARRAY forms take the same). */
const META_TYPES: Record<string, number> = {
  MET_CHAR: 1,
  MET_UCHAR: 1,
  MET_ASCII_CHAR: 1,
  MET_SHORT: 2,
  MET_USHORT: 2,
  MET_INT: 4,
  MET_UINT: 4,
  MET_LONG: 4,
  MET_ULONG: 4,
  MET_LONG_LONG: 8,
  MET_ULONG_LONG: 8,
  MET_FLOAT: 4,
  MET_DOUBLE: 8,
};

/** The header's "Key = Value" lines up to ElementDataFile, keys lower-case; where the data start. */
function metaFields(text: string): { fields: Map<string, string>; end: number } | string {
  const fields = new Map<string, string>();
  const re = /^[ \t]*([A-Za-z_][\w]*)[ \t]*=[ \t]*(.*?)\r?$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const key = m[1].toLowerCase();
    if (fields.has(key)) return `MetaImage field ${m[1]} is given twice`;
    fields.set(key, m[2].trim());
    if (key === 'elementdatafile') {
      const nl = text.indexOf('\n', m.index);
      if (nl < 0) return 'truncated: the header ends inside its ElementDataFile line';
      return { fields, end: nl + 1 };
    }
  }
  return 'truncated: no ElementDataFile line ends the MetaImage header';
}

/**
 * Where a MetaImage's voxels are, from its first bytes (`head`, at least the whole header) and
 * its path (a detached data file is relative to it); a Refusal instead.
 */
export function metaStoredData(head: Buffer, path: string): StoredData | Refusal {
  const parsed = metaFields(head.toString('latin1'));
  if (typeof parsed === 'string') return bad(parsed);
  const { fields: f, end } = parsed;
  const n = Number(f.get('ndims'));
  if (!Number.isInteger(n) || n < 1 || n > 16) return bad(`bad MetaImage NDims "${f.get('ndims') ?? '(none)'}"`);
  const sizes = wholeNumbers(f.get('dimsize'), n);
  if (!sizes) return bad(`bad MetaImage DimSize "${f.get('dimsize') ?? '(none)'}" for NDims ${n}`);
  const channels = f.has('elementnumberofchannels') ? wholeNumbers(f.get('elementnumberofchannels'), 1) : [1];
  if (!channels) return bad(`bad MetaImage ElementNumberOfChannels "${f.get('elementnumberofchannels') ?? ''}"`);
  const type = f.get('elementtype') ?? '(none)';
  const elementBytes = META_TYPES[type.replace(/_ARRAY$/, '')] ?? 0;
  if (!elementBytes) return bad(`unsupported MetaImage ElementType "${type}"`);
  const compressed = /^true$/i.test(f.get('compresseddata') ?? '');
  const binary = !/^false$/i.test(f.get('binarydata') ?? 'true');
  const length = f.has('compresseddatasize') ? wholeNumbers(f.get('compresseddatasize'), 1)?.[0] : undefined;
  if (compressed && f.has('compresseddatasize') && (length === undefined || length < 0))
    return bad(`bad MetaImage CompressedDataSize "${f.get('compresseddatasize') ?? ''}"`);
  const headerSize = Number(f.get('headersize') ?? 0);
  if (!Number.isInteger(headerSize) || headerSize < -1) return bad('bad MetaImage HeaderSize');
  const file = f.get('elementdatafile') ?? '';
  const local = file.toUpperCase() === 'LOCAL';
  // Several data files (LIST, or a name pattern with a range) are left to ITK.
  const many = !local && (/^LIST/i.test(file) || /\s/.test(file) || file.includes('%'));
  const spacing = (f.get('elementspacing') ?? '').split(/\s+/).filter(Boolean).slice(0, n).map(Number);
  return {
    dims: channels[0] === 1 ? sizes : [...sizes, channels[0]],
    type,
    elementBytes,
    dataFile: local || many ? path : resolve(dirname(path), file),
    start: local ? end : Math.max(0, headerSize),
    ...(compressed && length !== undefined ? { length } : {}),
    encoding: many ? 'unchecked' : !binary ? 'ascii' : compressed ? 'zlib' : 'raw',
    skip: 0,
    exact: headerSize !== -1,
    spacing: { field: 'ElementSpacing', values: spacing },
  };
}
