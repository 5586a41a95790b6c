// The README's code example runs as written (imports 'comboseg' through the package's own exports).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('README example prints the loss and the gradient shape it claims', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const code = /## The engine[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(code, 'README has a ts example');
  const file = `${root}.readme-example.mts`;
  writeFileSync(file, code);
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' });
    assert.match(out, /^0\.876\d* \[ 1, 1, 3, 3, 3 \]/);
  } finally {
    rmSync(file, { force: true });
  }
});

test('README option tables are the ones the schemas generate (scripts/options-doc.ts --write)', async () => {
  const { withCurrentOptions } = await import('../scripts/options-doc.js');
  const readme = readFileSync(`${root}README.md`, 'utf8');
  assert.equal(
    readme,
    withCurrentOptions(readme),
    'README options block is stale: run node --import tsx scripts/options-doc.ts --write',
  );
  assert.match(readme, /\| `combo` \| `beta` \| a number in \[0, 1\] \| `0.5` \|/);
});
