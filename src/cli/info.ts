import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readVolume } from '../data/io.js';
import { volumeInfo } from '../data/info.js';
import { isFolder, readDicomFolder, type DicomSeries } from '../data/dicom.js';

const SUV_NOTE: Record<DicomSeries['values'], (units: string) => string> = {
  'suv-as-stored': (u) => `SUV (body weight) as stored (Units ${u})`,
  'suv-computed': (u) => `SUV (body weight), computed from ${u} with the dose, decay and weight in the tags`,
  'as-stored': (u) => `as stored (Units ${u}; not converted to SUV)`,
};

const fmt = (xs: number[], digits = 4) => xs.map((x) => +x.toFixed(digits)).join(' × ');

/** `comboseg info <file> [--json]`: geometry, pixel type, value range and label counts. */
export function infoCommand(): Command {
  return new Command('info')
    .description('show a medical image: size, spacing, origin, direction (LPS), pixel type, value range, labels')
    .argument('<file>', 'NIfTI (.nii, .nii.gz, .hdr/.img), NRRD or MetaImage file, or a folder of DICOM slices')
    .option('--series <uid>', 'a DICOM folder holding several series: the SeriesInstanceUID to show')
    .option(
      '--json',
      'print one JSON object (size, spacing, origin, direction, pixelType, [channels,] min, max, mean, labels)',
    )
    .action(async (file: string, opts: { json?: boolean; series?: string }) => {
      const series = existsSync(file) && isFolder(file) ? (await readDicomFolder(file, opts.series)).series : null;
      const info = volumeInfo(await readVolume(file, { series: opts.series }));
      if (opts.json) {
        console.log(JSON.stringify(series ? { ...info, dicom: { ...series, files: series.files.length } } : info));
        return;
      }
      const d = info.direction.map((x) => +x.toFixed(4));
      console.log(file);
      console.log(`  size       ${info.size.join(' × ')} voxels`);
      if (info.channels) console.log(`  channels   ${info.channels} (the 4th axis)`);
      console.log(`  spacing    ${fmt(info.spacing)} mm`);
      console.log(`  origin     (${info.origin.map((x) => +x.toFixed(3)).join(', ')}) mm, LPS`);
      console.log(`  direction  [${d.slice(0, 3).join(' ')}; ${d.slice(3, 6).join(' ')}; ${d.slice(6).join(' ')}]`);
      console.log(`  pixel type ${info.pixelType}`);
      if (series) {
        const what = series.description ? ` '${series.description}'` : '';
        console.log(`  DICOM      ${series.modality}${what}, ${series.files.length} slices, series ${series.uid}`);
        if (series.modality === 'PT') console.log(`  PET units  ${SUV_NOTE[series.values](series.units ?? '?')}`);
      }
      console.log(
        `  values     min ${+info.min.toPrecision(6)}, max ${+info.max.toPrecision(6)}, ` +
          `mean ${+info.mean.toPrecision(6)}`,
      );
      if (info.labels) {
        const total = info.size.reduce((a, b) => a * b, info.channels ?? 1);
        const entries = Object.entries(info.labels);
        console.log(`  labels     ${entries.length} value(s)`);
        for (const [k, c] of entries.slice(0, 50))
          console.log(`    ${k.padStart(6)}: ${String(c).padStart(10)} voxels (${((100 * c) / total).toFixed(3)} %)`);
        if (entries.length > 50) console.log(`    ... ${entries.length - 50} more`);
      }
    });
}
