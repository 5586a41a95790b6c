import { Command } from 'commander';
import { z } from 'zod';
import { DeviceSchema } from '../engine/device.js';
import { PrecisionSchema } from '../engine/precision.js';
import { serve } from '../server/server.js';
import { checkFlags } from '../util/options.js';
import { onStopRequest } from './signals.js';

const count = (min: number, max: number) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), z.number().int().min(min).max(max));

/** `serve`'s flags, declared once: the checks and their messages come from here. */
export const ServeFlagsSchema = z.object({
  port: count(0, 65535).describe('port (0: any free one)'),
  host: z.string().min(1),
  maxUploadMib: count(1, 65536).describe('largest scan that may be uploaded, MiB'),
  jobs: count(1, 64).describe('segmentation jobs running at once'),
  device: DeviceSchema,
  precision: PrecisionSchema,
});
export type ServeFlags = z.output<typeof ServeFlagsSchema>;

const FLAG: Record<string, string> = {
  port: '--port',
  host: '--host',
  maxUploadMib: '--max-upload-mib',
  jobs: '--jobs',
  device: '--device',
  precision: '--precision',
};

/** The flags, checked; a bad one is an error naming the flag, what is allowed and what was given. */
export function serveFlags(o: Record<string, unknown>): ServeFlags {
  return checkFlags(ServeFlagsSchema, o, FLAG);
}

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
    .option(
      '--precision <p>',
      "what jobs' networks compute in: auto (default: bf16 where this CPU computes it clearly faster) | fp32 | bf16",
      'auto',
    )
    .action(async (dir: string, raw: Record<string, unknown>) => {
      const o = serveFlags(raw);
      const s = await serve({
        root: dir,
        host: o.host,
        port: o.port,
        maxUploadBytes: o.maxUploadMib * 2 ** 20,
        concurrency: o.jobs,
        device: o.device,
        precision: o.precision,
      });
      if (!['127.0.0.1', 'localhost', '::1'].includes(o.host))
        console.warn(`warning: listening on ${o.host}: anyone who can reach this address can read ${dir} and run jobs`);
      console.log(`comboseg: serving ${dir} at ${s.url}  (Ctrl-C stops)`);
      // Ctrl-C, SIGTERM (systemd, containers), SIGHUP or the launcher's death: close gracefully
      // (jobs' workers terminated, connections ended), then exit 0; a second request exits at once.
      onStopRequest((n) => {
        if (n > 1) process.exit(1);
        void s.close().then(() => process.exit(0));
      });
    });
}
