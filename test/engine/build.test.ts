// What the addon reports about the libtorch it was built against (Debian's 1.13 by default, a
// PyTorch 2.x build through COMBOSEG_ADDON), and devices as the op dispatcher takes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, engineInfo, tensor, tidy, to, ComboSegError } from '../../src/index.js';
import { callT } from '../../src/engine/ops/dispatch.js';
import { native } from '../../src/engine/native.js';
import { SCALAR_TYPE } from '../../src/engine/dtype.js';

const info = engineInfo();

function hasOp(name: string): boolean {
  try {
    native.lookupOp(name, '');
    return true;
  } catch {
    return false;
  }
}
const [major, minor] = info.torchVersion.split('.').map(Number);

test('engineInfo names libtorch, where it came from, oneDNN, the convolution path and the devices', () => {
  assert.match(info.torchVersion, /^\d+\.\d+\.\d+$/);
  assert.ok(info.libtorch.startsWith('/'), `libtorch folder: ${info.libtorch}`);
  assert.match(info.addon, /comboseg\.node$/);
  if (process.env.COMBOSEG_ADDON === undefined) assert.equal(info.libtorch, '/usr');
  assert.equal(info.convPath, major === 1 && minor === 13 ? 'onednn' : 'aten');
  if (info.mkldnn) {
    assert.match(info.onednn.version, /^\d+\.\d+/);
    assert.match(info.onednn.isa, /^(sse41|avx|avx2|avx2_vnni|avx2_vnni_2|avx512_|avx10_)/);
    assert.ok(['onednn', 'cpu-flags'].includes(info.onednn.isaFrom));
  }
  assert.equal(info.devices[0], 'cpu');
  const cuda = native.buildInfo().cuda;
  assert.equal(info.devices.length, 1 + (cuda.available ? cuda.deviceCount : 0));
  if (!cuda.built) assert.equal(cuda.deviceCount, 0);
});

test('a Device argument takes a JS string (factory ops with device=, aten::to.device) and a result gives one', () =>
  tidy(() => {
    const e = callT('aten::empty.memory_format', [2, 3], SCALAR_TYPE.float32, null, 'cpu');
    assert.equal(e.device, 'cpu');
    assert.deepEqual(e.shape, [2, 3]);
    const x = tensor([1, 2, 3]);
    const y = callT('aten::to.device', x, 'cpu', SCALAR_TYPE.float64, false, true, null);
    assert.equal(y.dtype, 'float64');
    assert.deepEqual(y.toArray(), [1, 2, 3]);
    // A Device result comes back as its string (prim::device is registered with the dispatcher from 2.x).
    if (hasOp('prim::device')) assert.equal(call('prim::device', x), 'cpu');
  }));

test('a malformed device string is a TypeError that lists the spellings', () =>
  tidy(() => {
    assert.throws(() => callT('aten::to.device', tensor([1]), 'gpu', SCALAR_TYPE.float32), {
      message: /device 'gpu': expected 'cpu', 'cuda' or 'cuda:N'/,
    });
    assert.throws(() => callT('aten::to.device', tensor([1]), 3, SCALAR_TYPE.float32), {
      message: /argument 'device' expects a device string/,
    });
  }));

test('a CUDA tensor on a libtorch without CUDA is one clear error naming what to build', () =>
  tidy(() => {
    if (info.cudaBuilt) return;
    const remedy =
      /this libtorch has no CUDA: build the addon against a CUDA build of PyTorch 2\.x \(COMBOSEG_LIBTORCH=/;
    assert.throws(() => callT('aten::empty.memory_format', [1], null, null, 'cuda:0'), {
      name: 'TorchError',
      message: remedy,
    });
    assert.throws(
      () => to(tensor([1, 2]), 'cuda'),
      (e: unknown) => e instanceof ComboSegError && e.code === 'unsupported' && remedy.test(e.message),
    );
  }));

test('a CUDA device round trip keeps the values (CUDA builds with a GPU only)', (t) =>
  tidy(() => {
    if (!info.devices.includes('cuda:0')) {
      t.skip('no CUDA device');
      return;
    }
    const x = tensor([1, 2, 3]);
    const g = to(x, 'cuda:0');
    assert.equal(g.device, 'cuda:0');
    assert.deepEqual(to(g, 'cpu').toArray(), [1, 2, 3]);
    const past = `cuda:${native.buildInfo().cuda.deviceCount}`;
    assert.throws(() => to(x, past), /CUDA device\(s\)/);
  }));
