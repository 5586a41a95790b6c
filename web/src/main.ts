// The page: runs and experiments from the server, live training curves, cases
// opened in the viewer, and scans uploaded for segmentation.
import { api, follow, type ExperimentDetail, type Job, type RunDetail, type CaseMetrics } from './api.js';
import { CaseViewer, type Layout, type OverlayMode } from './viewer.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// Numbers come from files in the served folder: anything that is not a number is shown as n/a, never as markup.
const num = (x: unknown, d = 3) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const int = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? String(Math.round(x)) : '?');
const detail = $<HTMLElement>('detail');
const viewer = new CaseViewer($<HTMLCanvasElement>('viewer'));
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
  const head = `<tr><th>case</th>${organs.map((o) => `<th>${esc(o)} Dice</th><th>FPR</th><th>FNR</th><th>HD95 mm</th>`).join('')}</tr>`;
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
      const p = $<HTMLProgressElement>('job-progress');
      p.max = Math.max(1, j.total);
      p.value = j.done;
      $('job-stage').textContent =
        j.state === 'error'
          ? `failed: ${j.error}`
          : `${j.stage}${j.state === 'running' && j.total > 1 ? ` ${j.done}/${j.total}` : ''}`;
      $('job-stage').className = j.state === 'error' ? 'error' : 'muted';
    });
    if (done.state !== 'done') return null;
    const a = $<HTMLAnchorElement>('job-download');
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
  `<tr><td>${int(r.epoch)}</td><td>${num(r.trainLoss, 4)}</td><td>${num(r.meanDice)}</td><td>${num(r.seconds, 1)}</td></tr>`;

function renderRun(run: RunDetail): void {
  const cases = [...run.split.test.map((id) => [id, 'test']), ...run.split.validation.map((id) => [id, 'validation'])];
  const last = run.records.slice(-5).reverse();
  detail.innerHTML = `<h3>Run ${esc(run.path)} <span class="muted">${esc(run.network)}, ${esc(run.loss)}</span>${run.hasReport ? `<a class="report" href="${esc(api.served(`${run.path}/report.html`))}" target="_blank">report</a>` : ''}</h3>
    <p class="muted" id="run-progress">${int(run.epochs)}/${int(run.epochsPlanned)} epochs; best validation Dice ${num(run.bestDice)}</p>
    <div class="curves"><img id="curves" alt="training loss and validation Dice per epoch" src="${api.curvesUrl(run.path)}"></div>
    <table id="records"><tr><th>epoch</th><th>train loss</th><th>validation Dice</th><th>s</th></tr>${last.map(recordRow).join('')}</table>
    <h3>Cases ${run.hasModel ? '<span class="muted">(click to segment with this run\'s best model and view)</span>' : '<span class="muted">(no model saved yet)</span>'}</h3>
    <table id="cases"><tr><th>case</th><th>part</th></tr>${cases.map(([id, part]) => `<tr class="case" data-case="${esc(id)}"><td>${esc(id)}</td><td>${esc(part)}</td></tr>`).join('')}</table>`;
  if (run.hasModel)
    for (const tr of detail.querySelectorAll<HTMLTableRowElement>('#cases tr.case'))
      tr.onclick = () => void segmentAndOpen(run.path, tr.dataset.case!);
}

async function openRun(path: string): Promise<void> {
  liveEvents?.close();
  try {
    renderRun(await api.run(path));
  } catch (e) {
    return showError(detail, e);
  }
  // Live: the server pushes the records whenever metrics.jsonl changes.
  liveEvents = api.events(path);
  liveEvents.addEventListener('records', (ev) => {
    const records = JSON.parse((ev as MessageEvent<string>).data) as RunDetail['records'];
    const img = document.getElementById('curves') as HTMLImageElement | null;
    if (img) img.src = api.curvesUrl(path);
    const prog = document.getElementById('run-progress');
    const dice = records.map((r) => r.meanDice).filter((d): d is number => d !== null);
    if (prog)
      prog.textContent = `${records.length} epochs so far; best validation Dice ${num(dice.length ? Math.max(...dice) : null)} (live)`;
    const table = document.getElementById('records');
    if (table)
      table.innerHTML = `<tr><th>epoch</th><th>train loss</th><th>validation Dice</th><th>s</th></tr>${records.slice(-5).reverse().map(recordRow).join('')}`;
  });
}

function renderExperiment(e: ExperimentDetail): void {
  const metrics = ['jaccard', 'dice', 'fpr', 'fnr', 'hd95'];
  detail.innerHTML = `<h3>Experiment ${esc(e.path)} <span class="muted">${e.cells.length}/${int(e.total)} cells finished</span>${e.hasReport ? `<a class="report" href="${esc(api.served(`${e.path}/report.html`))}" target="_blank">report</a>` : ''}</h3>
    <table id="cells"><tr><th>network</th><th>loss</th>${metrics.map((m) => `<th>${m}</th>`).join('')}</tr>${e.cells.map((c, i) => `<tr class="case" data-cell="${i}"><td>${esc(c.network.label)}</td><td>${esc(c.loss.label)}</td>${metrics.map((m) => `<td>${num(c.summary.overall[m]?.mean, m === 'fpr' ? 4 : m === 'hd95' ? 1 : 3)}</td>`).join('')}</tr>`).join('')}</table>
    <div id="cell-cases"></div>`;
  for (const tr of detail.querySelectorAll<HTMLTableRowElement>('#cells tr.case')) {
    tr.onclick = () => {
      const cell = e.cells[Number(tr.dataset.cell)];
      const box = $('cell-cases');
      box.innerHTML = `<h3>${esc(cell.network.label)}, ${esc(cell.loss.label)}: test cases <span class="muted">(click to view; each is segmented by the model that never saw it)</span></h3>${metricsTable(cell.cases, true)}`;
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
          `<li data-i="${i}">${esc(r.path)}<span class="sub">${esc(r.network)} · ${esc(r.loss)} · ${int(r.epochs)}/${int(r.epochsPlanned)} epochs · Dice ${num(r.bestDice)}</span></li>`,
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
      void api
        .experiment(idx.experiments[Number(li.dataset.i)].path)
        .then(renderExperiment, (e) => showError(detail, e));
  }
  const select = $<HTMLSelectElement>('upload-model');
  const chosen = select.value;
  select.innerHTML = idx.runs
    .filter((r) => r.hasModel)
    .map((r) => `<option value="${esc(r.path)}">${esc(r.path)} (${esc(r.network)}, ${esc(r.loss)})</option>`)
    .join('');
  if (chosen) select.value = chosen;
}

function wireControls(): void {
  const on = (id: string, f: (el: HTMLInputElement & HTMLSelectElement) => void) => {
    const el = $<HTMLInputElement & HTMLSelectElement>(id);
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
  $<HTMLSelectElement>('layout').addEventListener('input', (ev) =>
    viewer.setLayout((ev.target as HTMLSelectElement).value as Layout),
  );
  $<HTMLFormElement>('upload').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const file = $<HTMLInputElement>('upload-file').files?.[0];
    const model = $<HTMLSelectElement>('upload-model').value;
    if (!file || !model) return;
    void runJob(api.upload(file, model)).then((job) => job && open(job));
  });
}

setViewerState('empty');
wireControls();
await viewer.attach();
viewer.setLayout('multi');
await refreshIndex().catch((e) => showError(detail, e));
setInterval(() => void refreshIndex().catch(() => undefined), 5000);
(window as unknown as { comboseg: unknown }).comboseg = { viewer };
