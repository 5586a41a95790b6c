// The output layout decides targets, activation and the label rule; values here are by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy } from '../../src/index.js';
import { labelsOf, organProbabilities, outputChannels, targetOf } from '../../src/data/layout.js';
import { activate } from '../../src/inference/predict.js';
import { assertClose } from '../helpers.js';

test('targets: sigmoid has one channel per organ, softmax adds background first', () => {
  const labels = [0, 3, 5, 3];
  assert.equal(outputChannels('sigmoid', 2), 2);
  assert.equal(outputChannels('softmax', 2), 3);
  assert.deepEqual(Array.from(targetOf('sigmoid', labels, [3, 5])), [0, 1, 0, 1, 0, 0, 1, 0]);
  assert.deepEqual(Array.from(targetOf('softmax', labels, [3, 5])), [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0]);
});

test('activation: sigmoid per element, softmax over the channels', () =>
  tidy(() => {
    const logits = tensor([0, Math.log(3), 0, 0], [1, 2, 2]);
    assertClose(activate('sigmoid', logits).toArray(), [0.5, 0.75, 0.5, 0.5]);
    // voxel 0: softmax(0, 0) = (0.5, 0.5); voxel 1: softmax(ln 3, 0) = (0.75, 0.25)
    assertClose(activate('softmax', logits).toArray(), [0.5, 0.75, 0.5, 0.25]);
  }));

test('label rule: sigmoid thresholds (most probable organ wins), softmax takes the argmax with background', () => {
  // Two organs (values 3, 5), three voxels, channel-major.
  const sig = new Float32Array([0.2, 0.7, 0.6, /* organ 5 */ 0.4, 0.9, 0.1]);
  assert.deepEqual(Array.from(labelsOf('sigmoid', sig, [3, 5], 0.5)), [0, 5, 3]);
  // Background, organ 3, organ 5 for three voxels: argmax → 0, 5, 3.
  const soft = new Float32Array([0.5, 0.2, 0.3, /* 3 */ 0.3, 0.3, 0.4, /* 5 */ 0.2, 0.5, 0.3]);
  assert.deepEqual(Array.from(labelsOf('softmax', soft, [3, 5], 0.5)), [0, 5, 3]);
  assert.deepEqual(Array.from(organProbabilities('softmax', soft, 2, 1)), [0.2, 0.5, 0.3].map(Math.fround));
  assert.deepEqual(Array.from(organProbabilities('sigmoid', sig, 2, 0)), [0.2, 0.7, 0.6].map(Math.fround));
});
