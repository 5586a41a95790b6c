// Compiles bench/cpp/unet_ref.cc (with the addon's oneDNN convolutions) unless up to date.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const refBinary = join(root, 'bench/build/unet_ref');
const sources = ['bench/cpp/unet_ref.cc', 'native/src/conv_onednn.cc', 'native/src/conv_onednn.h'].map((s) => join(root, s));

export function buildReference() {
  if (existsSync(refBinary) && sources.every((s) => statSync(s).mtimeMs <= statSync(refBinary).mtimeMs)) return refBinary;
  mkdirSync(dirname(refBinary), { recursive: true });
  console.log('[bench] compiling the C++ reference (about a minute)');
  execFileSync('g++', [
    '-O2', '-std=c++17', '-D_GLIBCXX_USE_CXX11_ABI=1', '-Wno-deprecated-declarations',
    '-I/usr/include/torch/csrc/api/include', ...sources.filter((s) => s.endsWith('.cc')),
    '-o', refBinary, '-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu', '-lc10',
  ], { stdio: 'inherit' });
  return refBinary;
}
