// The trainer's setup pieces on their own: option errors keep their cause and carry a code and a config path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { training, ComboSegError } from '../../src/index.js';
import { buildLoss, buildNetwork, makeSampler } from '../../src/training/trainer.js';

const cfg = training.parseConfig({
  data: { msd: 'd' },
  network: { name: 'proposed' },
  loss: { name: 'combo' },
  out: 'o',
});

const optionError = (path: string, message: RegExp) => (e: unknown) =>
  e instanceof ComboSegError &&
  e.code === 'invalid-option' &&
  e.path === path &&
  message.test(e.message) &&
  e.cause instanceof ComboSegError;

test('a loss or network option refused at construction names config.*.options and keeps the cause', () => {
  assert.throws(
    () => buildLoss({ ...cfg, loss: { name: 'combo', options: { beta: 2 } } }),
    optionError('config.loss.options.beta', /^config\.loss\.options: loss 'combo': option 'beta'/),
  );
  assert.throws(
    () => buildNetwork({ ...cfg, network: { name: 'proposed', options: { channels: 'x' } } }, [1, 2]),
    optionError('config.network.options.channels', /^config\.network\.options: network 'proposed': option 'channels'/),
  );
});

test('a patch size the network cannot take is an invalid option of config.sampler.patchSize', () => {
  const bad = { ...cfg, sampler: { ...cfg.sampler, patchSize: [15, 16, 16] as [number, number, number] } };
  assert.throws(
    () => makeSampler(bad, [], [1], 2),
    (e: unknown) =>
      e instanceof ComboSegError &&
      e.code === 'invalid-option' &&
      e.path === 'config.sampler.patchSize' &&
      /\[15,16,16\] must be a multiple of 2/.test(e.message),
  );
});
