// Builds the native addon (native/) with node-gyp against one libtorch, unless it is up to date.
//
//   COMBOSEG_LIBTORCH=DIR   a folder with include/ and lib/: the libtorch archive, or a PyTorch wheel's
//                           torch/ folder (site-packages/torch, or one unpacked from the .whl)
//   (unset)                 Debian's libtorch-dev under /usr (what `npm run setup` installs)
//
// The Debian build is native/build/Release/comboseg.node, which src/engine/native.ts loads by default.
// A COMBOSEG_LIBTORCH build goes to its own folder, native/build-<version>-<cpu|cuda>/build/Release/
// comboseg.node (so the default one keeps working); load it with COMBOSEG_ADDON=<that path>.
//
//   node scripts/build-native.mjs [--force]     build (incrementally; --force: from clean)
//   node scripts/build-native.mjs --out DIR     build into DIR/build/Release/comboseg.node (an installed
//                                               package's cache folder: `comboseg setup` passes it)
//   node scripts/build-native.mjs --print-addon print the addon's path for this libtorch and exit
//   node scripts/build-native.mjs --print-config print what was found (folders, flags) and exit
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');

function fail(message) {
  console.error(`[build-native] ${message}`);
  process.exit(1);
}

function readIfExists(path) {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** Where libtorch is, and what it needs from a build that links it. */
function findLibtorch() {
  const given = process.env.COMBOSEG_LIBTORCH;
  let dir, includeDirs, libDir, cmake, system;
  if (given) {
    dir = resolve(given);
    includeDirs = [join(dir, 'include'), join(dir, 'include/torch/csrc/api/include')];
    libDir = join(dir, 'lib');
    cmake = join(dir, 'share/cmake/Torch/TorchConfig.cmake');
    system = false;
    if (!existsSync(join(includeDirs[1], 'torch/version.h')) || !existsSync(join(libDir, 'libtorch_cpu.so'))) {
      fail(
        `COMBOSEG_LIBTORCH=${given}: expected a libtorch folder with include/torch/csrc/api/include/torch/version.h ` +
          'and lib/libtorch_cpu.so (the unpacked libtorch archive, or a PyTorch wheel\'s torch/ folder)',
      );
    }
  } else {
    dir = '/usr';
    includeDirs = ['/usr/include/torch/csrc/api/include'];
    const multiarch = existsSync('/usr/lib') ? readdirSync('/usr/lib').map((d) => join('/usr/lib', d)) : [];
    libDir = ['/usr/lib', ...multiarch].find((d) => existsSync(join(d, 'libtorch_cpu.so')));
    cmake = libDir ? join(libDir, 'cmake/Torch/TorchConfig.cmake') : '';
    system = true;
    if (!libDir || !existsSync(join(includeDirs[0], 'torch/version.h'))) {
      fail(
        "libtorch not found: install Debian's libtorch-dev (`npm run setup`), or point COMBOSEG_LIBTORCH at a " +
          "libtorch folder (the libtorch archive, or a PyTorch wheel's torch/ folder)",
      );
    }
  }

  // torch/version.h (2.x moved the numbers to torch/headeronly/version.h).
  const apiInclude = includeDirs.at(-1);
  const versionText = [join(apiInclude, 'torch/version.h'), join(apiInclude, '../../../headeronly/version.h')]
    .map(readIfExists)
    .join('\n');
  const part = (name) => versionText.match(new RegExp(`#define TORCH_VERSION_${name} (\\d+)`))?.[1];
  const [major, minor, patch] = ['MAJOR', 'MINOR', 'PATCH'].map(part);
  if (major === undefined || minor === undefined) {
    fail(`cannot read libtorch's version from ${apiInclude}/torch/version.h`);
  }
  const version = `${major}.${minor}.${patch ?? 0}`;

  // The C++ standard and libstdc++ ABI its headers need, as its CMake config tells its users.
  const config = readIfExists(cmake);
  const declaredStd = Number(config.match(/CXX_STANDARD (\d+)/)?.[1] ?? (Number(major) >= 2 ? 20 : 17));
  const cxxStd = `c++${Math.max(17, declaredStd)}`;
  const cxx11Abi = config.match(/-D_GLIBCXX_USE_CXX11_ABI=(\d)/)?.[1] ?? '1';

  const cuda = existsSync(join(libDir, 'libtorch_cuda.so'));
  // Debian's libtorch links the shared libdnnl; with libdnnl-dev's headers the addon calls it
  // directly for bf16 convolutions. (PyTorch 2.x links oneDNN statically, its symbols hidden.)
  const dnnl = system && existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
  if (system && !dnnl) {
    fail("oneDNN's headers are missing: install Debian's libdnnl-dev (`npm run setup` does)");
  }
  // c10d's Gloo process group: Debian's libtorch exports it and links libgloo0; libgloo-dev has the
  // headers of that same commit. PyTorch's wheels ship no Gloo headers (a mismatched set is an ABI risk).
  const gloo = system && existsSync('/usr/include/gloo/config.h');
  if (system && !gloo) fail("Gloo's headers are missing: install Debian's libgloo-dev (`npm run setup` does)");
  const libs = [
    '-ltorch',
    '-ltorch_cpu',
    '-lc10',
    ...(dnnl ? ['-ldnnl'] : []),
    ...(cuda ? ['-ltorch_cuda', '-lc10_cuda'] : []),
  ];
  // A CUDA wheel's libraries (cuBLAS, cuDNN, ...) sit in site-packages/nvidia/*/lib, next to torch/.
  const nvidia = join(dirname(dir), 'nvidia');
  const nvidiaLibs =
    !system && cuda && basename(dir) === 'torch' && existsSync(nvidia)
      ? readdirSync(nvidia)
          .map((d) => join(nvidia, d, 'lib'))
          .filter((d) => existsSync(d))
          .sort()
      : [];
  const rpath = system ? [] : [libDir, ...nvidiaLibs];
  const link = [
    ...(system ? [] : [`-L${libDir}`]),
    ...rpath.map((d) => `-Wl,-rpath,${d}`),
    '-Wl,--no-as-needed',
    ...libs,
    '-Wl,--as-needed',
  ];
  return { dir, version, cuda, dnnl, gloo, cxxStd, cxx11Abi, includeDirs, libDir, link, system };
}

// A gyp list variable is a string split the way sh splits words.
const shellWord = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
const shellWords = (list) => list.map(shellWord).join(' ');

const torch = findLibtorch();
const outArg = process.argv.indexOf('--out');
const outDir = outArg > 0 ? resolve(process.argv[outArg + 1] ?? fail('--out needs a folder')) : null;
const name = outDir || torch.system ? null : `build-${torch.version}-${torch.cuda ? 'cuda' : 'cpu'}`;
const projectDir = outDir ?? (name ? join(nativeDir, name) : nativeDir);
const addon = join(projectDir, 'build/Release/comboseg.node');

const stampFile = join(projectDir, 'build/libtorch.json');
const stamp = JSON.stringify(torch, null, 2);

if (process.argv.includes('--print-addon') || process.argv.includes('--print-config')) {
  console.log(process.argv.includes('--print-addon') ? addon : stamp);
  process.exit(0);
}

const sourceDir = join(nativeDir, 'src');
const sources = [join(nativeDir, 'binding.gyp'), ...readdirSync(sourceDir).map((f) => join(sourceDir, f))];
const force = process.argv.includes('--force');

if (!force && existsSync(addon) && readIfExists(stampFile) === stamp) {
  const built = statSync(addon).mtimeMs;
  if (sources.every((s) => statSync(s).mtimeMs <= built)) process.exit(0);
}

if (name || outDir) {
  // Its own node-gyp project: a binding.gyp that includes native/binding.gyp (paths stay relative to it).
  mkdirSync(projectDir, { recursive: true });
  const gyp =
    '# Generated by scripts/build-native.mjs: the addon against another libtorch, or in a cache folder.\n' +
    `{ "includes": [${JSON.stringify(outDir ? join(nativeDir, 'binding.gyp') : '../binding.gyp')}] }\n`;
  if (readIfExists(join(projectDir, 'binding.gyp')) !== gyp) writeFileSync(join(projectDir, 'binding.gyp'), gyp);
}

// Build against the headers of the node that runs us (Debian's node keeps them in /usr/include/node).
// configure + build is incremental, and a failed compile leaves the previous addon in place.
const nodedir = resolve(dirname(process.execPath), '..');
// node-gyp and node-addon-api as this package resolves them (its own node_modules, or the project's it is installed in).
const require = createRequire(import.meta.url);
const args = [
  require.resolve('node-gyp/bin/node-gyp.js'),
  ...(force ? ['rebuild'] : ['configure', 'build']),
  `--directory=${projectDir}`,
  '-j',
  '2',
  `--torch_root=${torch.dir}`,
  `--torch_include_dirs=${shellWords(torch.includeDirs)}`,
  `--torch_link=${shellWords(torch.link)}`,
  `--torch_cxx_std=${torch.cxxStd}`,
  `--torch_cxx11_abi=${torch.cxx11Abi}`,
  `--torch_dnnl=${torch.dnnl ? 1 : 0}`,
  `--torch_gloo=${torch.gloo ? 1 : 0}`,
  `--napi_include_dir=${dirname(require.resolve('node-addon-api/package.json'))}`,
];
if (existsSync(join(nodedir, 'include/node/node_api.h'))) args.push(`--nodedir=${nodedir}`);
console.log(
  `[setup] building the native addon against libtorch ${torch.version} (${torch.cuda ? 'CUDA' : 'CPU'}, ` +
    `${torch.dir}, ${torch.cxxStd}) into ${outDir ?? projectDir.slice(root.length + 1)}/build (a minute or two)`,
);
execFileSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
writeFileSync(stampFile, stamp);
if (name) console.log(`[setup] built ${addon}: load it with COMBOSEG_ADDON=${addon}`);
if (outDir) console.log(`[setup] built ${addon}`);
