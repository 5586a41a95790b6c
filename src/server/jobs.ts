// Segmentation jobs: queued, run one (or `concurrency`) at a time, each in its
// own worker thread so the server keeps answering while libtorch works.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import type { Precision, PrecisionSetting } from '../engine/precision.js';
import { startWorker } from '../util/worker.js';
import type { CaseMetrics } from '../metrics/evaluate.js';
import type { SegmentJobInput, SegmentMessage } from './segment-worker.js';
import { HttpError } from './http.js';

export type JobState = 'queued' | 'running' | 'done' | 'error';

export interface Job {
  id: string;
  state: JobState;
  /** What the job segments, for people: a case id or an upload's file name. */
  title: string;
  /** The model, relative to the served folder. */
  model: string;
  stage: string;
  done: number;
  total: number;
  created: string;
  started: string | null;
  finished: string | null;
  error: string | null;
  files: string[];
  metrics: CaseMetrics | null;
  organs: { value: number; name: string }[];
  /** The precision the network computed in; null until the job is done. */
  precision: Precision | null;
}

export interface JobRequest {
  title: string;
  model: string;
  modelPath: string;
  /** The scan: one file, or one file per channel (in the model's channel order). */
  image: string | string[];
  label: string | null;
  caseId: string;
  /** Files the job owns (an upload) and deletes when it ends. */
  cleanup?: string[];
}

export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly pending: { job: Job; req: JobRequest }[] = [];
  private running = 0;
  private closed = false;
  /** What 'auto' came to in the first job that finished (its worker measured the CPU): later jobs take it as is. */
  private autoPrecision: Precision | null = null;

  constructor(
    readonly dir: string,
    readonly o: {
      concurrency: number;
      maxQueued: number;
      keepFinished: number;
      device?: string;
      /** What each job's network computes in (default 'auto'). */
      precision?: PrecisionSetting;
    },
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** Throws 503/429 when a job submitted now would be refused. */
  checkCapacity(): void {
    if (this.closed) throw new HttpError(503, 'the server is shutting down');
    if (this.pending.length >= this.o.maxQueued)
      throw new HttpError(429, `${this.pending.length} jobs are already waiting; try again when one has finished`);
  }

  submit(req: JobRequest): Job {
    this.checkCapacity();
    this.evict();
    const job: Job = {
      id: randomUUID(),
      state: 'queued',
      title: req.title,
      model: req.model,
      stage: 'queued',
      done: 0,
      total: 1,
      created: new Date().toISOString(),
      started: null,
      finished: null,
      error: null,
      files: [],
      metrics: null,
      organs: [],
      precision: null,
    };
    this.jobs.set(job.id, job);
    this.pending.push({ job, req });
    this.pump();
    return job;
  }

  get(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new HttpError(404, `no job '${id}'`);
    return job;
  }

  list(): Job[] {
    return [...this.jobs.values()];
  }

  /** The folder holding a finished job's files. */
  folder(id: string): string {
    return join(this.dir, this.get(id).id);
  }

  /** Stops running jobs and drops queued ones; removes every job's files. */
  async close(): Promise<void> {
    this.closed = true;
    for (const { job } of this.pending.splice(0)) Object.assign(job, { state: 'error', error: 'server stopped' });
    await Promise.all([...this.workers].map((w) => w.terminate()));
    while (this.running) await new Promise((r) => setTimeout(r, 20));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Keeps at most `keepFinished` ended jobs (and their files): the oldest go first. */
  private evict(): void {
    const ended = [...this.jobs.values()].filter((j) => j.state === 'done' || j.state === 'error');
    for (const j of ended.slice(0, Math.max(0, ended.length - this.o.keepFinished))) {
      this.jobs.delete(j.id);
      rmSync(join(this.dir, j.id), { recursive: true, force: true });
    }
  }

  private pump(): void {
    while (this.running < this.o.concurrency && this.pending.length) {
      const next = this.pending.shift();
      if (!next) break;
      const { job, req } = next;
      this.running++;
      this.run(job, req)
        .catch((e: unknown) => {
          Object.assign(job, {
            state: 'error',
            stage: 'failed',
            error: `could not start the job: ${e instanceof Error ? e.message : String(e)}`,
            finished: new Date().toISOString(),
          });
        })
        .finally(() => {
          this.running--;
          for (const f of req.cleanup ?? []) rmSync(f, { recursive: true, force: true });
          // nothing half-written is served
          if (job.state === 'error') rmSync(join(this.dir, job.id), { recursive: true, force: true });
          this.pump();
        });
    }
  }

  private readonly workers = new Set<Worker>();

  /** The precision a job is given: the setting, with 'auto' replaced by what an earlier job found it to be. */
  private precisionSetting(): PrecisionSetting {
    const setting = this.o.precision ?? 'auto';
    return setting === 'auto' ? (this.autoPrecision ?? 'auto') : setting;
  }

  /** Remembers what 'auto' resolved to in a job's worker (once), so that the CPU is measured once per server. */
  private noteAutoPrecision(used: Precision): Precision {
    if ((this.o.precision ?? 'auto') === 'auto') this.autoPrecision ??= used;
    return used;
  }

  private async run(job: Job, req: JobRequest): Promise<void> {
    const outDir = join(this.dir, job.id);
    mkdirSync(outDir, { recursive: true });
    Object.assign(job, { state: 'running', stage: 'starting', started: new Date().toISOString() });
    const input: SegmentJobInput = {
      model: req.modelPath,
      image: req.image,
      title: req.title,
      label: req.label,
      outDir,
      caseId: req.caseId,
      device: this.o.device ?? 'cpu',
      precision: this.precisionSetting(),
    };
    const worker = startWorker(
      new URL(`./segment-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
      { ...input },
    );
    this.workers.add(worker);
    return new Promise((resolve) => {
      let ended = false;
      const end = (patch: Partial<Job>) => {
        if (ended) return;
        ended = true;
        this.workers.delete(worker);
        Object.assign(job, patch, { finished: new Date().toISOString() });
        resolve();
      };
      worker.on('message', (m: SegmentMessage) => {
        if (m.type === 'progress') Object.assign(job, { stage: m.stage, done: m.done, total: m.total });
        else if (m.type === 'done')
          end({
            state: 'done',
            stage: `done (${m.mode})`,
            done: job.total,
            files: m.files,
            metrics: m.metrics,
            organs: m.organs,
            precision: this.noteAutoPrecision(m.precision),
          });
        else {
          // The worker names the scan by its title (an upload by its own name, not where the server parked it).
          const { message, user } = m.error;
          end({ state: 'error', stage: 'failed', error: user ? message : `internal error: ${message}` });
        }
      });
      worker.on('error', (e) => end({ state: 'error', stage: 'failed', error: `internal error: ${e.message}` }));
      worker.on('exit', (code) =>
        end({ state: 'error', stage: 'failed', error: `the segmentation worker stopped (exit code ${code})` }),
      );
    });
  }
}
