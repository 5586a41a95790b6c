// What an upload may be: one single-file scan format ITK reads (NIfTI, NRRD
// with attached data, MetaImage .mha), recognised by its name and its first bytes, whose
// header promises a volume within the reader's limits and no more data than the upload
// can hold (src/data/integrity.ts: refused here, before a job is queued). Whether the data
// are whole (checksums, lengths) the job's reader checks; its message fails the job.
import { gunzipSync } from 'node:zlib';
import { allocationProblem, isRefusal, type StoredData, type Refusal } from '../data/integrity.js';
import { niftiStoredData, parseHeader } from '../data/nifti-header.js';
import { metaStoredData, nrrdStoredData } from '../data/text-headers.js';
import { HttpError } from './http.js';

// .zip: a DICOM series, its slices zipped (src/server/dicom-upload.ts).
export const UPLOAD_EXTENSIONS = ['.nii.gz', '.nii', '.nrrd', '.mha', '.zip'] as const;

/** The extension of a supported upload name; else a 415 error (checked before the body is read). */
export function checkUploadName(name: string): (typeof UPLOAD_EXTENSIONS)[number] {
  const lower = name.toLowerCase();
  const ext = UPLOAD_EXTENSIONS.find((e) => lower.endsWith(e));
  if (!ext) throw new HttpError(415, `'${name}': unsupported file type; upload one of ${UPLOAD_EXTENSIONS.join(', ')}`);
  return ext;
}

/**
 * The upload's extension when its name and first bytes (`body`, at most the first 64 KiB of `size`) agree on
 * a supported format; else a 415 error saying why. Then its header's promise (`checkPromise`: 400, 413).
 */
export function checkUpload(name: string, body: Buffer, size = body.length): (typeof UPLOAD_EXTENSIONS)[number] {
  const ext = checkUploadName(name);
  if (!size) throw new HttpError(400, `'${name}': the upload is empty`);
  const bad = (what: string) => new HttpError(415, `'${name}' is not a ${what} file (its first bytes do not match)`);
  if (ext === '.zip') {
    if (body.subarray(0, 4).toString('latin1') !== 'PK\x03\x04') {
      throw bad('zip (a DICOM series, its slices zipped)');
    }
    return ext;
  }
  let header = body; // the header's first bytes: decompressed, for a .nii.gz
  if (ext === '.nii.gz' || ext === '.nii') {
    if (ext === '.nii.gz') {
      if (body[0] !== 0x1f || body[1] !== 0x8b) throw bad('gzip-compressed NIfTI');
      try {
        header = gunzipSync(body.subarray(0, Math.min(body.length, 1 << 16)), {
          finishFlush: 2 /* Z_SYNC_FLUSH: a prefix is enough */,
        });
      } catch {
        throw bad('gzip-compressed NIfTI');
      }
    }
    const head = header.subarray(0, 352);
    const le = head.length >= 4 && head.readInt32LE(0) === 348,
      be = head.length >= 4 && head.readInt32BE(0) === 348;
    const magic = head.subarray(344, 348).toString('latin1');
    if (!(le || be) || !['n+1\0', 'ni1\0'].includes(magic)) throw bad('NIfTI-1');
    if (magic === 'ni1\0')
      throw new HttpError(
        415,
        `'${name}' is a NIfTI header without its data (.hdr/.img pair); upload a single .nii or .nii.gz`,
      );
  } else if (ext === '.nrrd') {
    if (!body.subarray(0, 8).toString('latin1').startsWith('NRRD000')) throw bad('NRRD');
    const text = body.toString('latin1');
    const end = text.search(/\r?\n\r?\n/);
    if (end < 0) throw new HttpError(415, `'${name}': no end of the NRRD header in its first ${body.length} bytes`);
    const header = text.slice(0, end);
    if (/^data ?file:/im.test(header))
      throw new HttpError(415, `'${name}' keeps its data in another file; upload a NRRD with attached data`);
  } else {
    const header = body.toString('latin1');
    if (!/^(ObjectType|NDims|Comment)\s*=/.test(header)) throw bad('MetaImage');
    // ElementDataFile is the header's last line: it must be there, and say LOCAL.
    const data = /^ElementDataFile\s*=\s*(.*?)\r?$/m.exec(header);
    if (!data)
      throw new HttpError(
        415,
        `'${name}': no ElementDataFile line in the MetaImage header's first ${body.length} bytes`,
      );
    if (data[1].trim() !== 'LOCAL')
      throw new HttpError(415, `'${name}' keeps its data in another file; upload a .mha with ElementDataFile = LOCAL`);
  }
  checkPromise(name, ext, header, size);
  return ext;
}

/**
 * Refuses an upload whose header promises a volume above the reader's limits (413) or more data
 * than its `size` bytes can hold (400): nothing is queued, nothing allocated. A header that does
 * not parse is left to the job's reader, which says what is wrong with it.
 */
function checkPromise(name: string, ext: string, head: Buffer, size: number): void {
  let d: StoredData | Refusal | string;
  if (ext === '.nii.gz' || ext === '.nii') {
    const h = parseHeader(head);
    d = typeof h === 'string' ? h : niftiStoredData(h, name);
  } else d = ext === '.nrrd' ? nrrdStoredData(head, name) : metaStoredData(head, name);
  if (typeof d === 'string' || isRefusal(d)) return;
  const problem = allocationProblem(d, size);
  if (problem) throw new HttpError(problem.code === 'unsupported' ? 413 : 400, `'${name}': ${problem.why}`);
}
