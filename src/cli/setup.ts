// `comboseg setup`: what an installed package needs once on a machine — the Debian packages (named,
// with the command that installs them) and the native addon, built against the installed libtorch
// (or COMBOSEG_LIBTORCH's) into a cache folder keyed by libtorch version and Node ABI.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ComboSegError } from '../engine/errors.js';
import { addonCacheDir, installedLibtorch } from '../engine/native.js';
import { Progress } from '../util/progress.js';

/** Debian packages: to build the addon against Debian's libtorch, and what the engine loads at run time. */
const DEBIAN_BUILD = ['libtorch-dev', 'libdnnl-dev', 'libgloo-dev', 'g++', 'make', 'python3'];
const DEBIAN_RUN = ['libopenblas0-pthread', 'libtcmalloc-minimal4'];
/** Against another libtorch (COMBOSEG_LIBTORCH): only the compiler and node-gyp's Python. */
const TOOLCHAIN = ['g++', 'make', 'python3'];

/** The package's root (scripts/ and native/ sit there): from src/cli (tsx) or dist/src/cli (built). */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = [join(here, '../..'), join(here, '../../..')].find((d) => existsSync(join(d, 'native/binding.gyp')));
  if (!root) throw new ComboSegError(`comboseg's native sources are missing beside ${here}: reinstall the package`);
  return root;
}

/** Which of `packages` dpkg does not report installed (none where there is no dpkg: not Debian). */
function missingPackages(packages: string[]): string[] {
  if (spawnSync('dpkg-query', ['--version']).status !== 0) return [];
  return packages.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return !/install ok installed/.test(r.stdout);
  });
}

/** Runs the build script into `out`, its output in out/build.log, a bar over the files it compiles. */
async function build(root: string, out: string, force: boolean): Promise<void> {
  mkdirSync(out, { recursive: true });
  const log = join(out, 'build.log');
  const sources = 12; // native/binding.gyp's sources
  const bar = new Progress({ label: 'building the engine', total: sources + 1, unit: 'file' });
  const child = spawn(
    process.execPath,
    [join(root, 'scripts/build-native.mjs'), '--out', out, ...(force ? ['--force'] : [])],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const file = createWriteStream(log);
  let compiled = 0;
  const onData = (chunk: Buffer) => {
    file.write(chunk);
    compiled += (chunk.toString().match(/\bCXX\(target\)|\bSOLINK_MODULE\(target\)/g) ?? []).length;
    bar.set(Math.min(compiled, sources + 1));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  file.end();
  if (status !== 0) {
    throw new ComboSegError(`building the engine failed (exit ${status}); the compiler's output is in ${log}`, {
      path: log,
    });
  }
  bar.set(sources + 1);
}

export function setupCommand(): Command {
  return new Command('setup')
    .description("build comboseg's native engine on this machine (once per libtorch and Node version)")
    .option('--force', 'rebuild from clean')
    .action(async (o: { force?: boolean }) => {
      const other = process.env.COMBOSEG_LIBTORCH;
      const missing = missingPackages(other ? TOOLCHAIN : [...DEBIAN_BUILD, ...DEBIAN_RUN]);
      if (missing.length) {
        const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
        throw new ComboSegError(
          `missing Debian packages: ${missing.join(' ')}. Run: ${sudo}apt-get update && ${sudo}apt-get install -y ` +
            missing.join(' ') +
            (other ? '' : ' (or point COMBOSEG_LIBTORCH at a PyTorch build: a wheel’s torch/ folder)'),
        );
      }
      const torch = installedLibtorch();
      if (!torch) {
        throw new ComboSegError(
          other
            ? `COMBOSEG_LIBTORCH=${other}: no libtorch there (expected include/torch/csrc/api/include/torch/version.h)`
            : 'no libtorch found: install Debian’s libtorch-dev, or set COMBOSEG_LIBTORCH to a PyTorch build',
        );
      }
      const out = addonCacheDir(torch);
      const addon = join(out, 'build/Release/comboseg.node');
      // The build script itself checks its stamp and the sources' dates: an up-to-date build returns at once.
      console.log(
        `comboseg setup: building the engine against libtorch ${torch.version} (${torch.cuda ? 'CUDA' : 'CPU'}, ` +
          `${torch.dir}) for Node ${process.version} into ${out} — a few minutes the first time`,
      );
      await build(packageRoot(), out, o.force ?? false);
      // Loaded in a fresh process: the engine as every later command will see it.
      const check = spawnSync(
        process.execPath,
        ['-e', `console.log(require(${JSON.stringify(addon)}).buildInfo().torchVersion)`],
        {
          encoding: 'utf8',
        },
      );
      if (check.status !== 0) throw new ComboSegError(`the built engine does not load: ${check.stderr.trim()}`);
      console.log(`comboseg setup: engine ready (libtorch ${check.stdout.trim()}): ${addon}`);
    });
}
