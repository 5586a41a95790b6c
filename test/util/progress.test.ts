// The progress rate is measured from the bar's first update: a bar created after work already
// done (an epoch's first step, a resumed epoch) never shows an absurd rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Progress } from '../../src/util/progress.js';

function capture(): { stream: NodeJS.WriteStream; lines: string[] } {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

test('no rate before time has passed (the "107290 patch/s" of an epoch\'s first step)', async () => {
  const { stream, lines } = capture();
  const bar = new Progress({ label: 'epoch 1', total: 10, unit: 'patch', stream });
  bar.set(5); // resumed at patch 5: the bar did not time those
  bar.set(6);
  assert.equal(bar.rate(), null);
  assert.match(lines[0], /^epoch 1: 5\/10 -- patch\/s ETA --:--/);
  await sleep(120);
  bar.set(8);
  const rate = bar.rate();
  assert.ok(rate !== null && rate > 5 && rate < 40, `3 patches in ~0.12 s, got ${String(rate)} patch/s`);
});
