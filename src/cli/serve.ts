import { Command } from 'commander';
import { ComboSegError } from '../engine/errors.js';
import { serve } from '../server/server.js';
import { onStopRequest } from './signals.js';
import { deviceFlag } from './predict.js';

/** `comboseg serve [DIR]`: the viewer and the runs under DIR in a browser. */
export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'serve the viewer, the runs and experiment reports under DIR, and segmentation jobs ' +
        '(localhost only unless --host)',
    )
    .argument('[dir]', 'folder with runs and experiments', 'runs')
    .option('--port <p>', 'port (0: any free one)', '8765')
    .option('--host <h>', 'address to listen on; anything but localhost exposes the server to the network', '127.0.0.1')
    .option('--max-upload-mib <n>', 'largest scan that may be uploaded', '512')
    .option('--jobs <n>', 'segmentation jobs running at once', '1')
    .option('--device <d>', 'where segmentation jobs run: cpu (default), cuda or cuda:N', 'cpu')
    .action(
      async (dir: string, o: { port: string; host: string; maxUploadMib: string; jobs: string; device: string }) => {
        const num = (flag: string, v: string, min: number) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < min) {
            throw new ComboSegError(`${flag} must be an integer ≥ ${min}, got '${v}'`, {
              code: 'invalid-option',
              path: flag,
            });
          }
          return n;
        };
        const s = await serve({
          root: dir,
          host: o.host,
          port: num('--port', o.port, 0),
          maxUploadBytes: num('--max-upload-mib', o.maxUploadMib, 1) * 2 ** 20,
          concurrency: num('--jobs', o.jobs, 1),
          device: deviceFlag(o.device),
        });
        if (!['127.0.0.1', 'localhost', '::1'].includes(o.host))
          console.warn(
            `warning: listening on ${o.host}: anyone who can reach this address can read ${dir} and run jobs`,
          );
        console.log(`comboseg: serving ${dir} at ${s.url}  (Ctrl-C stops)`);
        // Ctrl-C, SIGTERM (systemd, containers), SIGHUP or the launcher's death: close gracefully
        // (jobs' workers terminated, connections ended), then exit 0; a second request exits at once.
        onStopRequest((count) => {
          if (count > 1) process.exit(1);
          void s.close().then(() => process.exit(0));
        });
      },
    );
}
