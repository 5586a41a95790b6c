import { data, networks, losses, training, tidy, noGrad, inference, metrics } from './src/index.js';
const ds = data.readMsd('/tmp/demo/data');
const cases = [];
for (const c of ds.training) { const l = await data.loadCase(c); cases.push(l); }
const norm = data.computeNormalisation(cases.map((c) => c.image.data), 'minmax');
const sc = cases.slice(0, 16).map((c) => ({ id: c.id, image: data.normalise(c.image.data, norm), labels: c.labels!.data, size: c.image.size }));
const sampler = new data.PaperSampler(sc, { patchSize: JSON.parse(process.env.PATCH ?? '[48, 48, 48]'), organs: [1, 2, 3, 4, 5], perOrgan: 4, background: 2, seed: 1 });
const net = networks.create('proposed', { inChannels: 1, outChannels: 5, channels: JSON.parse(process.env.CH ?? '[16, 32, 64, 128]'), seed: 1, outputBias: Number(process.env.BIAS ?? 0) });
const loss = losses.create('combo', { beta: 0.4 });
const opt = process.env.OPT === 'adadelta' ? new training.Adadelta(net.parameters(), Number(process.env.LR ?? 1)) : new training.Adam(net.parameters(), Number(process.env.LR ?? 0.002));
const t0 = performance.now();
for (let step = 0; step < Number(process.env.STEPS ?? 150); step++) {
  const ps = (process.env.FIXED ? [sampler.patch(0, 0), sampler.patch(0, 1)] : [sampler.patch(Math.floor(step / 150), (2 * step) % 300), sampler.patch(Math.floor(step / 150), (2 * step + 1) % 300)]).filter((p) => p) as data.Patch[];
  if (!ps.length) continue;
  const v = tidy(() => { const { image, target } = data.toBatch(ps, [1, 2, 3, 4, 5]); const l = tidy(() => loss(net.forward(image), target)); l.backward(); opt.step(); opt.zeroGrad(); return l.item(); });
  if (step % 100 === 0) {
    const d = tidy(() => noGrad(() => { const { image, target } = data.toBatch(ps, [1, 2, 3, 4, 5]); net.eval(); const pr = net.forward(image).sigmoid(); net.train(); const t = target; return [pr.mul(t).sum().item(), pr.sum().item(), t.sum().item(), pr.gt(0.5).cast('float32').mul(t).sum().item()]; }));
    console.log(step, v.toFixed(4), ((performance.now() - t0) / 1000).toFixed(0) + 's', 'Σpt Σp Σt hard-tp (eval mode):', d.map((x) => x.toFixed(0)).join(' '));
  }
}
net.eval();
const meta = { network: net.name, options: net.options as any, labels: ds.labels, normalisation: norm, perPatchMinMax: true, patchSize: JSON.parse(process.env.PATCH ?? '[48, 48, 48]') as [number, number, number], inference: { aggregation: 'max' as const, threshold: 0.5, mode: 'window' as const, memoryBudgetMiB: 4096, swBatch: 1, flipTta: false, stride: [24, 24, 16] as [number, number, number] }, epoch: 1, validationDice: null };
const dices: number[] = [];
for (const c of cases.slice(16, 20)) for (const mode of ['window'] as const) {
  const p = inference.predictVolume(net, meta, c.image, { mode });
  const m = metrics.evaluateCase(c.id, p.labels, c.labels!, ds.labels);
  console.log(c.id, mode, Object.entries(m.organs).map(([k, o]) => `${k} ${o.dice.toFixed(2)}`).join(', '));
  dices.push(...Object.values(m.organs).map((o) => o.dice));
}
console.log('mean Dice', (dices.reduce((a, b) => a + b, 0) / dices.length).toFixed(3), 'time', ((performance.now() - t0) / 1000).toFixed(0));
