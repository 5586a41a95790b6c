import { Command } from 'commander';
import { engineInfo } from '../engine/runtime.js';

/** `comboseg engine [--json]`: libtorch version, threads, oneDNN, tcmalloc. */
export function engineCommand(): Command {
  return new Command('engine')
    .description('show the compute engine: libtorch version, threads, oneDNN, allocator')
    .option('--json', 'print one JSON object')
    .action((opts: { json?: boolean }) => {
      const info = engineInfo();
      if (opts.json) {
        console.log(JSON.stringify(info));
        return;
      }
      console.log(
        `libtorch ${info.torchVersion}, ${info.threads} thread(s), oneDNN ${info.mkldnn ? 'yes' : 'no'}, ` +
          `tcmalloc ${info.tcmalloc ? 'preloaded' : 'not preloaded'}`,
      );
      console.log(info.parallel.trim());
    });
}
