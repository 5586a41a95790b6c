// The engine's import graph: the Tensor core is a leaf below the ops, and nothing in
// src/engine imports itself back (type-only imports included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../src/engine');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative imports and re-exports of each file, as paths relative to src/engine. */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of sources(root)) {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?['"](\.{1,2}\/[^'"]+)['"]/gms)].map((m) => m[1]);
    const deps = specs
      .map((s) => relative(root, join(dirname(file), s.replace(/\.js$/, '.ts'))))
      .filter((p) => !p.startsWith('..'));
    g.set(relative(root, file), deps);
  }
  return g;
}

test('the Tensor core imports nothing from ops', () => {
  const deps = graph().get('tensor-core.ts');
  assert.ok(deps, 'src/engine/tensor-core.ts exists');
  assert.deepEqual(
    deps.filter((d) => d.startsWith('ops/') || d === 'tensor.ts'),
    [],
  );
});

test('the ops import the core, not tensor.ts', () => {
  for (const [file, deps] of graph()) if (file.startsWith('ops/')) assert.ok(!deps.includes('tensor.ts'), file);
});

test('src/engine has no import cycles', () => {
  const g = graph();
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (n: string, path: string[]): void => {
    state.set(n, 'open');
    for (const d of g.get(n) ?? []) {
      if (state.get(d) === 'open') cycles.push([...path.slice(path.indexOf(d)), d].join(' -> '));
      else if (!state.has(d)) visit(d, [...path, d]);
    }
    state.set(n, 'done');
  };
  for (const n of g.keys()) if (!state.has(n)) visit(n, [n]);
  assert.deepEqual(cycles, []);
});
