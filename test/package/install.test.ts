// What a user does: pack the repository, install the tarball into a fresh project with default npm
// settings, run the documented set-up (`npx comboseg setup`), compile README's API example with
// `tsc --strict` against the package's declarations and run it (a network trains a few steps), then
// `comboseg synth`, `train`, `predict` and `evaluate` on a tiny phantom through npx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};
const skip = process.env.COMBOSEG_SKIP_PACKAGE_TEST ? 'COMBOSEG_SKIP_PACKAGE_TEST is set' : false;

function run(cmd: string, args: string[], o: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, ...o });
  const out = `${String(r.stdout)}${String(r.stderr)}`;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status}):\n${out.slice(-4000)}`);
  return out;
}

/** README's ten-line example: the ```ts block after the api-example marker. */
function readmeExample(): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const m = readme.match(/<!-- api-example -->\s*```ts\n([\s\S]*?)```/);
  assert.ok(m, 'README has the API example');
  return m[1];
}

test(
  'npm pack → npm install → comboseg setup → typed API and CLI in a fresh project',
  { skip, timeout: 30 * 60_000 },
  (t) => {
    const work = mkdtempSync(join(tmpdir(), 'comboseg-package-'));
    run('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: repo });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    assert.ok(tgz, 'npm pack made a tarball');
    const size = statSync(join(work, tgz)).size;
    t.diagnostic(`packed: ${tgz}, ${(size / 2 ** 20).toFixed(2)} MiB`);
    const listing = run('tar', ['tzf', join(work, tgz)]);
    for (const want of [
      'package/dist/src/index.js',
      'package/dist/src/index.d.ts',
      'package/native/binding.gyp',
      'package/web/dist/index.html',
      'package/LICENSE',
    ])
      assert.ok(listing.includes(want), `the package holds ${want}`);
    for (const unwanted of ['package/test/', 'package/bench/', 'package/src/', 'package/runs/'])
      assert.ok(!listing.includes(unwanted), `the package leaves out ${unwanted}`);

    const project = join(work, 'project');
    run('mkdir', ['-p', project]);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', private: true, type: 'module' }),
    );
    const env: NodeJS.ProcessEnv = { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' };
    delete env.COMBOSEG_ADDON; // the user's machine: only what setup builds
    const types = [`typescript@${pkg.devDependencies.typescript}`, `@types/node@${pkg.devDependencies['@types/node']}`];
    run('npm', ['install', join(work, tgz), ...types], { cwd: project, env });

    // Before set-up (an empty cache): one clear error saying what to run, from the CLI and from the API.
    const empty = { ...env, COMBOSEG_CACHE: join(work, 'empty-cache') };
    const before = spawnSync('npx', ['comboseg', 'engine'], { cwd: project, env: empty, encoding: 'utf8' });
    assert.equal(before.status, 2, before.stderr);
    assert.match(before.stderr, /^comboseg: comboseg's native addon is not built for this comboseg, libtorch /);
    assert.match(before.stderr, /run `npx comboseg setup`/);
    const api = spawnSync('node', ['--input-type=module', '-e', "import('comboseg').then((c) => c.rand([2]))"], {
      cwd: project,
      env: empty,
      encoding: 'utf8',
    });
    assert.match(api.stderr, /run `npx comboseg setup`/, 'importing works; the first engine call says what to run');
    run('npx', ['comboseg', 'setup'], { cwd: project, env }); // the default cache: built once per machine
    t.diagnostic(run('npx', ['comboseg', 'engine'], { cwd: project, env }).split('\n').slice(0, 2).join(' | '));

    writeFileSync(join(project, 'example.ts'), readmeExample());
    run(
      'npx',
      [
        'tsc',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--outDir',
        'out',
        'example.ts',
      ],
      { cwd: project, env },
    );
    const trained = run('node', ['out/example.js'], { cwd: project, env });
    assert.match(trained, /step 5: Combo loss -?\d\.\d{4}/);

    const cli = (args: string[]) => run('npx', ['comboseg', ...args], { cwd: project, env });
    cli(['synth', 'echo-lv', '--out', 'data', '--cases', '4', '--size', '16x16x16', '--seed', '1']);
    cli([
      'train',
      '--msd',
      'data',
      '--network',
      'proposed',
      '--network-options',
      '{"channels":[4,8]}',
      '--loss',
      'combo',
      '--patch-size',
      '16',
      '--epochs',
      '1',
      '--out',
      'runs/t',
    ]);
    const scan = join('data/imagesTr', readdirSync(join(project, 'data/imagesTr')).sort()[0]);
    const truth = join('data/labelsTr', readdirSync(join(project, 'data/labelsTr')).sort()[0]);
    cli(['predict', '--model', 'runs/t/best', '-i', scan, '-o', 'pred.nii.gz']);
    assert.ok(existsSync(join(project, 'pred.nii.gz')));
    assert.match(cli(['evaluate', '--pred', 'pred.nii.gz', '--truth', truth, '--labels', '1:lv']), /Dice/i);
  },
);
