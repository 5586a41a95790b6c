// The page: runs and experiments from the server, live training curves, cases
// opened in the viewer, and scans uploaded for segmentation.
import { api, follow, type ExperimentDetail, type Job, type RunDetail, type CaseMetrics } from './api.js';
import { CaseViewer, type Layout, type OverlayMode } from './viewer.js';
import { zipSync } from 'fflate';

declare global {
  interface Window {
    /** For tests and people at the console. */
    comboseg?: { viewer: CaseViewer };
  }
}

/** The page's element `id` (index.html has every id named here), checked to be a `type`. */
function $(id: string): HTMLElement;
function $<T extends HTMLElement>(id: string, type: new () => T): T;
function $(id: string, type: new () => HTMLElement = HTMLElement): HTMLElement {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`the page has no ${type.name} with id '${id}'`);
  return el;
}
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// Numbers come from files in the served folder: anything that is not a number is shown as n/a, never as markup.
const num = (x: unknown, d = 3) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const int = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? String(Math.round(x)) : '?');
const detail = $('detail');
const viewer = new CaseViewer($('viewer', HTMLCanvasElement));
let liveEvents: EventSource | null = null;

/** Marks for tests and people: what the viewer is doing. */
const setViewerState = (s: 'empty' | 'loading' | 'ready' | 'error') => {
  document.body.dataset.viewer = s;
  $('viewer-empty').hidden = s === 'ready';
};

function showError(where: HTMLElement, e: unknown): void {
  where.innerHTML = `<p class="error">${esc(e instanceof Error ? e.message : String(e))}</p>`;
}

function legend(): void {
  $('legend').innerHTML = viewer
    .legend()
    .map((l) => `<span style="--c: rgb(${l.rgb.join(',')})">${esc(l.name)}</span>`)
    .join('');
}

function metricsTable(rows: CaseMetrics[], clickable: boolean): string {
  const organs = [...new Set(rows.flatMap((r) => Object.keys(r.organs)))];
  const organHead = (o: string) => `<th>${esc(o)} Dice</th><th>FPR</th><th>FNR</th><th>HD95 mm</th>`;
  const head = `<tr><th>case</th>${organs.map(organHead).join('')}</tr>`;
  const body = rows
    .map(
      (r, i) =>
        `<tr class="${clickable ? 'case' : ''}" data-index="${i}"><td>${esc(r.id)}</td>${organs
          .map((o) => {
            const m = r.organs[o];
            return m
              ? `<td>${num(m.dice)}</td><td>${num(m.fpr, 4)}</td><td>${num(m.fnr)}</td><td>${num(m.hd95, 1)}</td>`
              : '<td colspan="4">–</td>';
          })
          .join('')}</tr>`,
    )
    .join('');
  return `<table>${head}${body}</table>`;
}

/** Job progress in the side panel; resolves with the finished job. */
async function runJob(start: Promise<Job>): Promise<Job | null> {
  const box = $('job');
  box.hidden = false;
  $('job-download').hidden = true;
  try {
    const done = await follow(await start, (j) => {
      $('job-title').textContent = `${j.title} — ${j.model}`;
      const p = $('job-progress', HTMLProgressElement);
      p.max = Math.max(1, j.total);
      p.value = j.done;
      $('job-stage').textContent =
        j.state === 'error'
          ? `failed: ${j.error}`
          : `${j.stage}${j.state === 'running' && j.total > 1 ? ` ${j.done}/${j.total}` : ''}`;
      $('job-stage').className = j.state === 'error' ? 'error' : 'muted';
    });
    if (done.state !== 'done') return null;
    const a = $('job-download', HTMLAnchorElement);
    a.href = `${api.fileUrl(done.id, 'prediction.nii.gz')}?download`;
    a.hidden = false;
    return done;
  } catch (e) {
    $('job-stage').textContent = `failed: ${e instanceof Error ? e.message : String(e)}`;
    $('job-stage').className = 'error';
    return null;
  }
}

async function open(job: Job): Promise<void> {
  setViewerState('loading');
  $('toolbar').scrollIntoView({ block: 'start' });
  try {
    await viewer.show(job);
    legend();
    setViewerState('ready');
  } catch (e) {
    setViewerState('error');
    $('job-stage').textContent = `could not display: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** "12/40 windows, 3.1/s, ETA 0:09": a progress line with rate and time left. */
function rateLine(done: number, total: number, since: number, unit: string): string {
  const s = (performance.now() - since) / 1000;
  const rate = done / Math.max(s, 1e-3);
  const left = rate > 0 ? (total - done) / rate : 0;
  const whole = Math.round(left);
  const eta = `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
  return `${unit} ${done}/${total}, ${rate.toFixed(1)}/s, ETA ${eta}`;
}

/** The object URLs of the last in-page result (the viewer and the download link use them until the next). */
let localUrls: string[] = [];

/** Segments a local scan with a local model in the page (web/src/local.ts) and opens the result. */
async function segmentHere(modelFile: File, scanFile: File): Promise<void> {
  const button = $('local', HTMLFormElement).querySelector('button');
  if (button) button.disabled = true; // one run at a time: each holds a scan's worth of memory
  localUrls.forEach((u) => URL.revokeObjectURL(u));
  localUrls = [];
  $('local-job').hidden = false;
  $('local-download').hidden = true;
  const bar = $('local-progress', HTMLProgressElement);
  const stage = $('local-stage');
  stage.className = 'muted';
  document.body.dataset.local = 'running';
  let since = performance.now();
  let last = '';
  try {
    const { segmentLocally } = await import('./local.js');
    const r = await segmentLocally(modelFile, scanFile, (done, total, what) => {
      if (what !== last) [last, since] = [what, performance.now()];
      bar.max = Math.max(1, total);
      bar.value = done;
      stage.textContent = total > 1 ? rateLine(done, total, since, what) : what;
    });
    localUrls = Object.values(r.urls);
    const a = $('local-download', HTMLAnchorElement);
    a.href = r.urls['prediction.nii.gz'];
    a.download = `${scanFile.name.replace(/\.nii(\.gz)?$/i, '')}_prediction.nii.gz`;
    a.hidden = false;
    stage.textContent =
      `done in ${r.seconds.toFixed(1)} s on ${r.backend} (${r.mode === 'whole' ? 'one pass' : 'sliding window'})` +
      (r.backendNote ? `; not WebGPU: ${r.backendNote}` : '');
    document.body.dataset.localBackend = r.backend;
    const job: Job = {
      id: 'local',
      state: 'done',
      title: scanFile.name,
      model: modelFile.name,
      stage: 'done',
      done: 1,
      total: 1,
      error: null,
      files: Object.keys(r.urls),
      metrics: null,
      organs: r.organs,
    };
    viewer.mode = 'prediction';
    $('mode', HTMLSelectElement).value = 'prediction';
    setViewerState('loading');
    await viewer.show(job, (f) => r.urls[f as keyof typeof r.urls]);
    legend();
    setViewerState('ready');
    document.body.dataset.local = 'done';
  } catch (e) {
    stage.textContent = e instanceof Error ? e.message : String(e);
    stage.className = 'error';
    document.body.dataset.local = 'error';
  } finally {
    if (button) button.disabled = false;
  }
}

async function segmentAndOpen(run: string, caseId: string): Promise<void> {
  const job = await runJob(api.segmentCase(run, caseId));
  if (!job) return;
  await open(job);
  if (job.metrics) {
    const box = document.createElement('div');
    box.id = 'case-metrics';
    box.innerHTML = `<h3>${esc(job.title)}: metrics of this segmentation</h3>${metricsTable([job.metrics], false)}`;
    document.getElementById('case-metrics')?.remove();
    detail.prepend(box);
  }
}

const recordRow = (r: RunDetail['records'][number]) =>
  `<tr><td>${int(r.epoch)}</td><td>${num(r.trainLoss, 4)}</td>` +
  `<td>${num(r.meanDice)}</td><td>${num(r.seconds, 1)}</td></tr>`;
const RECORDS_HEAD = '<tr><th>epoch</th><th>train loss</th><th>validation Dice</th><th>s</th></tr>';

/** A link to a run's or an experiment's report.html, or nothing when it has none. */
const reportLink = (hasReport: boolean, path: string) =>
  hasReport ? `<a class="report" href="${esc(api.served(`${path}/report.html`))}" target="_blank">report</a>` : '';

function renderRun(run: RunDetail): void {
  const cases = [...run.split.test.map((id) => [id, 'test']), ...run.split.validation.map((id) => [id, 'validation'])];
  const last = run.records.slice(-5).reverse();
  const caseRow = ([id, part]: string[]) =>
    `<tr class="case" data-case="${esc(id)}"><td>${esc(id)}</td><td>${esc(part)}</td></tr>`;
  const casesNote = run.hasModel
    ? '<span class="muted">(click to segment with this run\'s best model and view)</span>'
    : '<span class="muted">(no model saved yet)</span>';
  detail.innerHTML = [
    `<h3>Run ${esc(run.path)} <span class="muted">${esc(run.network)}, ${esc(run.loss)}</span>` +
      `${reportLink(run.hasReport, run.path)}</h3>`,
    `<p class="muted" id="run-progress">${int(run.epochs)}/${int(run.epochsPlanned)} epochs; ` +
      `best validation Dice ${num(run.bestDice)}</p>`,
    `<div class="curves"><img id="curves" alt="training loss and validation Dice per epoch" ` +
      `src="${api.curvesUrl(run.path)}"></div>`,
    `<table id="records">${RECORDS_HEAD}${last.map(recordRow).join('')}</table>`,
    `<h3>Cases ${casesNote}</h3>`,
    `<table id="cases"><tr><th>case</th><th>part</th></tr>${cases.map(caseRow).join('')}</table>`,
  ].join('\n    ');
  if (run.hasModel)
    for (const tr of detail.querySelectorAll<HTMLTableRowElement>('#cases tr.case')) {
      const caseId = tr.dataset.case;
      if (caseId !== undefined) tr.onclick = () => void segmentAndOpen(run.path, caseId);
    }
}

async function openRun(path: string): Promise<void> {
  liveEvents?.close();
  try {
    renderRun(await api.run(path));
  } catch (e) {
    showError(detail, e);
    return;
  }
  // Live: the server pushes the records whenever metrics.jsonl changes.
  liveEvents = api.events(path);
  liveEvents.addEventListener('records', (ev) => {
    const records = JSON.parse((ev as MessageEvent<string>).data) as RunDetail['records'];
    const img = document.getElementById('curves') as HTMLImageElement | null;
    if (img) img.src = api.curvesUrl(path);
    const prog = document.getElementById('run-progress');
    const dice = records.map((r) => r.meanDice).filter((d): d is number => d !== null);
    const best = num(dice.length ? Math.max(...dice) : null);
    if (prog) prog.textContent = `${records.length} epochs so far; best validation Dice ${best} (live)`;
    const table = document.getElementById('records');
    if (table) table.innerHTML = `${RECORDS_HEAD}${records.slice(-5).reverse().map(recordRow).join('')}`;
  });
}

function renderExperiment(e: ExperimentDetail): void {
  const metrics = ['jaccard', 'dice', 'fpr', 'fnr', 'hd95'];
  const stats = (c: ExperimentDetail['cells'][number]) =>
    metrics.map((m) => `<td>${num(c.summary.overall[m]?.mean, m === 'fpr' ? 4 : m === 'hd95' ? 1 : 3)}</td>`).join('');
  const row = (c: ExperimentDetail['cells'][number], i: number) =>
    `<tr class="case" data-cell="${i}"><td>${esc(c.network.label)}</td><td>${esc(c.loss.label)}</td>${stats(c)}</tr>`;
  detail.innerHTML = [
    `<h3>Experiment ${esc(e.path)} <span class="muted">${e.cells.length}/${int(e.total)} cells finished</span>` +
      `${reportLink(e.hasReport, e.path)}</h3>`,
    `<table id="cells"><tr><th>network</th><th>loss</th>${metrics.map((m) => `<th>${m}</th>`).join('')}</tr>` +
      `${e.cells.map(row).join('')}</table>`,
    `<div id="cell-cases"></div>`,
  ].join('\n    ');
  for (const tr of detail.querySelectorAll<HTMLTableRowElement>('#cells tr.case')) {
    tr.onclick = () => {
      const cell = e.cells[Number(tr.dataset.cell)];
      const box = $('cell-cases');
      box.innerHTML =
        `<h3>${esc(cell.network.label)}, ${esc(cell.loss.label)}: test cases ` +
        `<span class="muted">(click to view; each is segmented by the model that never saw it)</span></h3>` +
        metricsTable(cell.cases, true);
      for (const row of box.querySelectorAll<HTMLTableRowElement>('tr.case')) {
        const c = cell.cases[Number(row.dataset.index)];
        row.onclick = () => void segmentAndOpen(c.run, c.id);
      }
    };
  }
}

async function refreshIndex(): Promise<void> {
  const idx = await api.index();
  $('root').textContent = idx.root;
  const runs = $('runs');
  runs.innerHTML =
    idx.runs
      .map(
        (r, i) =>
          `<li data-i="${i}">${esc(r.path)}<span class="sub">${esc(r.network)} · ${esc(r.loss)} · ` +
          `${int(r.epochs)}/${int(r.epochsPlanned)} epochs · Dice ${num(r.bestDice)}</span></li>`,
      )
      .join('') || '<li class="muted">none</li>';
  for (const li of runs.querySelectorAll<HTMLLIElement>('li[data-i]'))
    li.onclick = () => void openRun(idx.runs[Number(li.dataset.i)].path);
  const exps = $('experiments');
  exps.innerHTML =
    idx.experiments
      .map(
        (x, i) =>
          `<li data-i="${i}">${esc(x.path)}<span class="sub">${int(x.finished)}/${int(x.cells)} cells</span></li>`,
      )
      .join('') || '<li class="muted">none</li>';
  for (const li of exps.querySelectorAll<HTMLLIElement>('li[data-i]')) {
    li.onclick = () =>
      void api.experiment(idx.experiments[Number(li.dataset.i)].path).then(renderExperiment, (e: unknown) => {
        showError(detail, e);
      });
  }
  const select = $('upload-model', HTMLSelectElement);
  const chosen = select.value;
  select.innerHTML = idx.runs
    .filter((r) => r.hasModel)
    .map((r) => `<option value="${esc(r.path)}">${esc(r.path)} (${esc(r.network)}, ${esc(r.loss)})</option>`)
    .join('');
  if (chosen) select.value = chosen;
}

function wireControls(): void {
  const on = (id: string, f: (el: HTMLInputElement | HTMLSelectElement) => void) => {
    const el = document.getElementById(id);
    if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement))
      throw new Error(`the page has no input or select with id '${id}'`);
    el.addEventListener('input', () => {
      f(el);
      viewer.apply();
      legend();
    });
  };
  on('mode', (el) => {
    viewer.mode = el.value as OverlayMode;
  });
  on('opacity', (el) => {
    viewer.opacity = Number(el.value);
  });
  on('threshold', (el) => {
    viewer.threshold = Number(el.value);
    $('threshold-value').textContent = viewer.threshold.toFixed(2);
  });
  on('window-min', (el) => {
    viewer.window = [Number(el.value), viewer.window[1]];
  });
  on('window-max', (el) => {
    viewer.window = [viewer.window[0], Number(el.value)];
  });
  $('layout', HTMLSelectElement).addEventListener('input', (ev) =>
    viewer.setLayout((ev.target as HTMLSelectElement).value as Layout),
  );
  $('local', HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    const model = $('local-model', HTMLInputElement).files?.[0];
    const scan = $('local-scan', HTMLInputElement).files?.[0];
    if (model && scan) void segmentHere(model, scan);
  });
  $('upload', HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    const files = [...($('upload-file', HTMLInputElement).files ?? [])];
    const model = $('upload-model', HTMLSelectElement).value;
    if (!files.length || !model) return;
    // Several files are a DICOM series' slices: zipped here, unpacked and read as one series by the server.
    const upload = files.length === 1 ? Promise.resolve(files[0]) : zipSeries(files);
    void runJob(upload.then((file) => api.upload(file, model))).then((job) => job && open(job));
  });
}

/** DICOM slices as one zip (stored, not compressed: pixel data barely compress and the link is local). */
async function zipSeries(files: File[]): Promise<File> {
  const entries = await Promise.all(files.map(async (f) => [f.name, new Uint8Array(await f.arrayBuffer())] as const));
  const zip = zipSync(Object.fromEntries(entries), { level: 0 });
  return new File([zip], `${files[0].name.replace(/\.[^.]*$/, '')}-series.zip`, { type: 'application/zip' });
}

setViewerState('empty');
wireControls();
await viewer.attach();
viewer.setLayout('multi');
await refreshIndex().catch((e: unknown) => {
  showError(detail, e);
});
setInterval(() => void refreshIndex().catch(() => undefined), 5000);
window.comboseg = { viewer };
