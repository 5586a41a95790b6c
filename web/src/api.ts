// The server's JSON API as the page sees it. Errors arrive as {"error": message}.

export interface OrganMetrics {
  dice: number | null;
  jaccard: number | null;
  fpr: number | null;
  fnr: number | null;
  hd95: number | null;
}
export interface CaseMetrics {
  id: string;
  /** By organ name; a case lacks the organs its label and prediction both leave out. */
  organs: Partial<Record<string, OrganMetrics>>;
}
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  meanDice: number | null;
  seconds: number;
}
export interface RunSummary {
  path: string;
  network: string;
  loss: string;
  epochs: number;
  epochsPlanned: number;
  bestDice: number | null;
  hasModel: boolean;
  updated: string;
}
export interface RunDetail extends RunSummary {
  records: EpochRecord[];
  split: { train: string[]; validation: string[]; test: string[] };
  labels: Record<string, string>;
  hasReport: boolean;
}
export interface ExperimentSummary {
  path: string;
  cells: number;
  finished: number;
  hasReport: boolean;
}
export interface Stat {
  mean: number | null;
  std: number | null;
}
export interface ExperimentDetail {
  path: string;
  total: number;
  hasReport: boolean;
  cells: {
    id: string;
    network: { label: string };
    loss: { label: string };
    seed: number;
    /** By metric name; a metric the cell did not record is absent. */
    summary: { overall: Partial<Record<string, Stat>> };
    cases: (CaseMetrics & { run: string })[];
  }[];
}
export interface Job {
  id: string;
  state: 'queued' | 'running' | 'done' | 'error';
  title: string;
  model: string;
  stage: string;
  done: number;
  total: number;
  error: string | null;
  files: string[];
  metrics: CaseMetrics | null;
  organs: { value: number; name: string }[];
}
export interface Index {
  root: string;
  runs: RunSummary[];
  experiments: ExperimentSummary[];
  jobs: Job[];
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const body: unknown = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error((body as { error?: string }).error ?? `${res.status} ${res.statusText}`);
  return body as T;
}

const q = (path: string) => encodeURIComponent(path);
export const api = {
  index: () => call<Index>('/api/index'),
  run: (path: string) => call<RunDetail>(`/api/run?path=${q(path)}`),
  experiment: (path: string) => call<ExperimentDetail>(`/api/experiment?path=${q(path)}`),
  job: (id: string) => call<Job>(`/api/jobs/${id}`),
  segmentCase: (run: string, caseId: string) =>
    call<Job>('/api/jobs/case', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-comboseg': '1' },
      body: JSON.stringify({ run, case: caseId }),
    }),
  upload: (file: File, model: string) =>
    call<Job>(`/api/jobs/upload?model=${q(model)}&filename=${q(file.name)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'x-comboseg': '1' },
      body: file,
    }),
  curvesUrl: (path: string) => `/api/run/curves.svg?path=${q(path)}&t=${Date.now()}`,
  events: (path: string) => new EventSource(`/api/run/events?path=${q(path)}`),
  fileUrl: (job: string, file: string) => `/api/jobs/${job}/${file}`,
  /** A file under the served folder, each path segment encoded. */
  served: (path: string) => `/files/${path.split('/').map(encodeURIComponent).join('/')}`,
};

/** Polls a job until it ends, reporting each state. */
export async function follow(job: Job, onUpdate: (j: Job) => void): Promise<Job> {
  let j = job;
  onUpdate(j);
  while (j.state === 'queued' || j.state === 'running') {
    await new Promise((r) => setTimeout(r, 400));
    j = await api.job(j.id);
    onUpdate(j);
  }
  return j;
}
