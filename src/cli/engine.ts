import { Command } from 'commander';
import { engineInfo } from '../engine/runtime.js';
import { cpuPrecision } from '../engine/precision-default.js';

/**
 * `comboseg engine [--json]`: libtorch version and folder, threads, oneDNN and its ISA, the default
 * precision measured on this CPU, devices, tcmalloc.
 */
export function engineCommand(): Command {
  return new Command('engine')
    .description('show the compute engine: libtorch (version, folder), oneDNN, threads, devices, allocator')
    .option('--json', 'print one JSON object')
    .action((opts: { json?: boolean }) => {
      const info = engineInfo();
      const precision = cpuPrecision();
      if (opts.json) {
        console.log(JSON.stringify({ ...info, defaultPrecision: precision }));
        return;
      }
      const onednn = info.mkldnn
        ? `oneDNN ${info.onednn.version}, ISA ${info.onednn.isa}` +
          (info.onednn.isaFrom === 'cpu-flags' ? ' (from the CPU flags)' : '')
        : 'no oneDNN';
      console.log(`libtorch ${info.torchVersion} from ${info.libtorch} (addon ${info.addon})`);
      const conv = info.convPath === 'onednn' ? 'oneDNN (hand-made path)' : "ATen (libtorch's choice)";
      const tcmalloc = info.tcmalloc ? 'preloaded' : 'not preloaded';
      console.log(`${onednn}, conv3d on ${conv}, ${info.threads} thread(s), tcmalloc ${tcmalloc}`);
      const bf16 = info.bf16ConvPath === 'onednn-api' ? "oneDNN's own API" : 'ATen on bf16 casts';
      const where = precision.cachedIn ? `; measured ${precision.measuredAt}, remembered in ${precision.cachedIn}` : '';
      console.log(`default precision on this CPU: ${precision.precision} (${precision.reason}${where})`);
      console.log(`bf16 conv3d on ${bf16}`);
      const cuda = info.cudaBuilt ? '' : ' (this libtorch has no CUDA)';
      console.log(`devices: ${info.devices.join(', ')}${cuda}`);
      const dist = info.distributed === 'none' ? 'not in this build (no Gloo headers)' : `c10d ${info.distributed}`;
      console.log(`data-parallel collectives: ${dist}`);
      console.log(info.parallel.trim());
    });
}
