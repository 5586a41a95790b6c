// dcmjs (DICOM parsing), typed as far as comboseg uses it (it ships no types), with its console
// logging down to errors, and its header validation ("Invalid vr type xs - using US" for every private
// tag it does not know, which it then reads anyway) silent.
import { createRequire } from 'node:module';

interface Logger {
  setLevel(level: 'silent' | 'error' | 'warn' | 'info' | 'debug'): void;
}

export interface Dcmjs {
  data: {
    DicomMessage: {
      readFile(
        buffer: ArrayBuffer,
        options?: { untilTag?: string; includeUntilTagValue?: boolean; stopOnGreaterTag?: boolean },
      ): { dict: unknown; meta: unknown };
    };
    DicomMetaDictionary: { naturalizeDataset(dict: unknown): Record<string, unknown> };
  };
  log: Logger & { getLogger(name: string): Logger };
}

export const dcmjs = createRequire(import.meta.url)('dcmjs') as Dcmjs;
dcmjs.log.setLevel('error');
// Its header validation reports as errors what it recovers from (a private tag's unknown VR): silent.
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent');

/** Whether bytes begin as a DICOM file does: a 128-byte preamble, then 'DICM'. */
export const hasDicomMarker = (b: Uint8Array): boolean =>
  b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
