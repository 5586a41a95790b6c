import { Command } from 'commander';
import { resolve } from 'node:path';
import { readJsonFile } from './read-json.js';
import { ComboSegError } from '../engine/errors.js';
import { parseConfig, TrainConfigSchema, worldSizeOf } from '../training/config.js';
import { launchTraining } from '../training/launch.js';
import { problemsOf } from '../util/options.js';
import { readRunConfig, type EpochRecord, type TrainEvents } from '../training/trainer.js';
import type { TrainMessage } from '../training/train-worker.js';
import { fromWorkerError, startWorker } from '../util/worker.js';
import { Progress } from '../util/progress.js';
import { onStopRequest, type StopSignalName } from './signals.js';
import { constants as osConstants } from 'node:os';

type TrainRunOutcome = { records: EpochRecord[]; stopped: boolean; signal?: StopSignalName };

/** What training shows: a bar per epoch, a line per epoch with validation Dice, the log. */
function display(quiet: boolean): TrainEvents {
  let bar: Progress | null = null,
    barEpoch = -1;
  return {
    onStep: (m) => {
      if (m.epoch !== barEpoch) {
        bar = quiet ? null : new Progress({ label: `epoch ${m.epoch + 1}`, total: m.total, unit: 'patch' });
        barEpoch = m.epoch;
      }
      bar?.set(m.index, `loss ${m.loss.toFixed(4)}`);
    },
    onEpoch: (r) => {
      if (quiet) return;
      const dice = r.validation
        ? Object.entries(r.validation)
            .map(([k, v]) => `${k} ${(v.dice ?? 0).toFixed(3)}`)
            .join(', ')
        : 'no validation cases';
      console.log(
        `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}, ${r.seconds.toFixed(0)} s; ` +
          `validation Dice ${r.meanDice?.toFixed(3) ?? 'n/a'} (${dice})${r.best ? '  ← best' : ''}`,
      );
    },
    log: (message) => {
      if (!quiet) console.log(message);
    },
  };
}

/**
 * Ctrl-C, SIGTERM, SIGHUP or the launcher's death: the first asks training to stop after this step
 * (saving the exact position), the second aborts. Returns the handler's remover and the signal seen.
 */
function stopOnSignals(
  stop: () => void,
  abort: () => void,
): { remove: () => void; signal: () => StopSignalName | undefined } {
  let seen: StopSignalName | undefined;
  const remove = onStopRequest((count, signal) => {
    seen ??= signal;
    if (count === 1) {
      const again = 'Ctrl-C again to abort without saving';
      process.stderr.write(`\n${signal}: stopping after this step (the run is saved; ${again})\n`);
      stop();
    } else {
      process.stderr.write(`${signal}: aborting without saving this epoch's progress\n`);
      abort();
    }
  });
  return { remove, signal: () => seen };
}

/** Runs training in a worker thread (one process) or in data-parallel processes; progress here. */
export async function runTraining(
  config: unknown,
  resume: boolean,
  quiet = false,
  force = false,
): Promise<TrainRunOutcome> {
  const cfg = parseConfig(config);
  if (worldSizeOf(cfg.distributed) > 1) return runRanks(config, resume, quiet, force);
  const entry = new URL(`../training/train-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
  const worker = startWorker(entry, { config, resume, force });
  const show = display(quiet);
  const records: EpochRecord[] = [];
  let aborted = false;
  const signals = stopOnSignals(
    () => worker.postMessage({ type: 'stop' }),
    () => {
      aborted = true;
      void worker.terminate();
    },
  );
  try {
    return await new Promise((resolveRun, reject) => {
      let done = false;
      worker.on('message', (m: TrainMessage) => {
        if (m.type === 'step') show.onStep?.(m);
        else if (m.type === 'epoch') {
          records.push(m.record as EpochRecord);
          show.onEpoch?.(m.record as EpochRecord);
        } else if (m.type === 'log') show.log?.(m.message);
        else if (m.type === 'done') {
          done = true;
          resolveRun({ records, stopped: (m.result as { stopped: boolean }).stopped, signal: signals.signal() });
        } else if (m.type === 'error') {
          done = true;
          reject(fromWorkerError(m.error)); // a ComboSegError keeps its code and path
        }
      });
      worker.on('error', (e) => {
        done = true;
        reject(e);
      });
      worker.on('exit', (code) => {
        if (done) return;
        // Aborted on request (a second Ctrl-C): a stop, reported as the signal's status, not an error.
        if (aborted) resolveRun({ records, stopped: true, signal: signals.signal() });
        else reject(new ComboSegError(`training stopped without saving (worker exit ${code})`));
      });
    });
  } finally {
    signals.remove();
  }
}

/** This host's ranks of a data-parallel run (src/training/launch.ts), rank 0's progress shown. */
async function runRanks(config: unknown, resume: boolean, quiet: boolean, force: boolean): Promise<TrainRunOutcome> {
  const launched = await launchTraining(config, { resume, force, events: display(quiet) });
  const state = { aborted: false };
  const signals = stopOnSignals(
    () => launched.stop(),
    () => {
      state.aborted = true;
      launched.abort();
    },
  );
  try {
    const r = await launched.result;
    return { records: r.records, stopped: r.stopped, signal: signals.signal() };
  } catch (e) {
    if (state.aborted) return { records: [], stopped: true, signal: signals.signal() };
    throw e;
  } finally {
    signals.remove();
  }
}

function parseJsonFlag(name: string, text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ComboSegError(`${name} must be a JSON object, e.g. '{"beta": 0.4}', got '${text}'`);
}

const num = (name: string) => (s: string) => {
  const v = Number(s);
  if (!Number.isFinite(v)) throw new ComboSegError(`${name} must be a number, got '${s}'`);
  return v;
};

interface TrainFlags {
  config?: string;
  resume?: string;
  out?: string;
  msd?: string;
  images?: string;
  labels?: string;
  labelNames?: string;
  network?: string;
  networkOptions?: string;
  loss?: string;
  lossOptions?: string;
  alpha?: number;
  beta?: number;
  sampler?: string;
  patchSize?: number;
  batchSize?: number;
  epochs?: number;
  maxMinutes?: number;
  optimizer?: string;
  lr?: number;
  seed?: number;
  validation?: number;
  folds?: number;
  fold?: number;
  ignoreUnnamedLabels?: boolean;
  force?: boolean;
  device?: string;
  precision?: string;
  nproc?: number;
  nnodes?: number;
  nodeRank?: number;
  master?: string;
  syncBn?: boolean;
  distTimeout?: number;
}

/** Flags that say where a run's processes are, not what it computes: allowed with --resume. */
const PLACEMENT_FLAGS = ['nproc', 'nnodes', 'nodeRank', 'master', 'distTimeout'] as const;

/** The configuration field each flag sets: the schema's messages about that field name the flag. */
const FLAG_FIELDS: Partial<Record<string, string>> = {
  '--msd': 'data',
  '--images': 'data',
  '--labels': 'data',
  '--label-names': 'data',
  '--network': 'network.name',
  '--network-options': 'network.options',
  '--loss': 'loss.name',
  '--loss-options': 'loss.options',
  '--alpha': 'loss.options.alpha',
  '--beta': 'loss.options.beta',
  '--sampler': 'sampler.kind',
  '--patch-size': 'sampler.patchSize',
  '--batch-size': 'batchSize',
  '--epochs': 'epochs',
  '--max-minutes': 'maxMinutes',
  '--optimizer': 'optimizer.name',
  '--lr': 'optimizer.lr',
  '--seed': 'seed',
  '--validation': 'split.validation',
  '--folds': 'folds.k',
  '--fold': 'folds.fold',
  '--ignore-unnamed-labels': 'ignoreUnnamedLabels',
  '--device': 'device',
  '--precision': 'precision',
  '--out': 'out',
  '--nproc': 'distributed.nproc',
  '--nnodes': 'distributed.nnodes',
  '--node-rank': 'distributed.nodeRank',
  '--master': 'distributed.master',
  '--sync-bn': 'distributed.syncBatchNorm',
  '--dist-timeout': 'distributed.timeoutSeconds',
};

const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Checks a configuration built from flags (over a file or nothing) with the training schema;
 * a problem in a field that a flag set names the flag, the others name the file's field.
 */
export function checkTrainConfig(config: Record<string, unknown>, flags: TrainFlags, source: string): void {
  const given = Object.keys(flags)
    .filter((k) => flags[k as keyof TrainFlags] !== undefined)
    .map(flagName);
  const lines = problemsOf(TrainConfigSchema, config, 'field').map((p) => {
    const matching = given.filter((f) => {
      const field = FLAG_FIELDS[f]; // flags like --config set no field
      return field !== undefined && (p.path === field || p.path.startsWith(`${field}.`));
    });
    const depth = (f: string) => FLAG_FIELDS[f]?.length ?? 0;
    const flag = matching.sort((a, b) => depth(b) - depth(a))[0];
    return flag ? `  ${flag}: ${p.problem}` : `  ${p.path || '(top level)'}: ${p.problem}`;
  });
  if (lines.length) {
    throw new ComboSegError(`${source}: invalid training configuration:\n${lines.join('\n')}`, {
      code: 'invalid-option',
    });
  }
}

/** Flags over a config (or over nothing): each flag given sets the config field it names. */
export function configFromFlags(base: Record<string, unknown>, f: TrainFlags): Record<string, unknown> {
  const c: Record<string, unknown> = structuredClone(base);
  const sub = (k: string) => (c[k] ??= {}) as Record<string, unknown>;
  if (f.msd) c.data = { msd: f.msd };
  if (f.images || f.labels) {
    if (!(f.images && f.labels && f.labelNames)) {
      throw new ComboSegError('--images needs --labels and --label-names (e.g. 1:brain,2:heart)', {
        code: 'invalid-option',
      });
    }
    // 'value:name' pairs; a pair without ':' has no name (the schema reports it).
    const pairs = f.labelNames.split(',').map((p): [string, string | undefined] => {
      const [value, name] = p.split(':').map((x) => x.trim());
      return [value, name];
    });
    c.data = { images: f.images, labels: f.labels, labelNames: Object.fromEntries(pairs) };
  }
  if (f.network) c.network = { name: f.network, options: {} };
  if (f.networkOptions) sub('network').options = parseJsonFlag('--network-options', f.networkOptions);
  if (f.loss) c.loss = { name: f.loss, options: {} };
  if (f.lossOptions) sub('loss').options = parseJsonFlag('--loss-options', f.lossOptions);
  for (const k of ['alpha', 'beta'] as const) {
    if (f[k] !== undefined) ((sub('loss').options ??= {}) as Record<string, unknown>)[k] = f[k];
  }
  if (f.sampler) sub('sampler').kind = f.sampler;
  if (f.patchSize !== undefined) sub('sampler').patchSize = f.patchSize;
  if (f.batchSize !== undefined) c.batchSize = f.batchSize;
  if (f.epochs !== undefined) c.epochs = f.epochs;
  if (f.maxMinutes !== undefined) c.maxMinutes = f.maxMinutes;
  if (f.optimizer) c.optimizer = { name: f.optimizer };
  if (f.lr !== undefined) {
    c.optimizer ??= { name: 'adadelta' }; // the configuration's default optimiser
    sub('optimizer').lr = f.lr;
  }
  if (f.seed !== undefined) c.seed = f.seed;
  if (f.validation !== undefined) sub('split').validation = f.validation;
  if (f.folds !== undefined) c.folds = { k: f.folds, fold: f.fold ?? 0 };
  if (f.out) c.out = f.out;
  if (f.ignoreUnnamedLabels) c.ignoreUnnamedLabels = true;
  if (f.device !== undefined) c.device = f.device;
  if (f.precision !== undefined) c.precision = f.precision;
  if (f.syncBn) sub('distributed').syncBatchNorm = true;
  return placeFromFlags(c, f);
}

/** The placement flags (processes, hosts, rendezvous) over a configuration's `distributed`. */
function placeFromFlags(c: Record<string, unknown>, f: TrainFlags): Record<string, unknown> {
  const d = { ...((c.distributed ?? {}) as Record<string, unknown>) };
  if (f.nproc !== undefined) d.nproc = f.nproc;
  if (f.nnodes !== undefined) d.nnodes = f.nnodes;
  if (f.nodeRank !== undefined) d.nodeRank = f.nodeRank;
  if (f.master !== undefined) d.master = f.master;
  // Back on one host (a resumed run that had several): its rendezvous is this host's again.
  else if (f.nnodes === 1) delete d.master;
  if (f.distTimeout !== undefined) d.timeoutSeconds = f.distTimeout;
  return Object.keys(d).length ? { ...c, distributed: d } : c;
}

/** `comboseg train --config FILE [flags]`, `comboseg train [flags]`, or `comboseg train --resume RUN_DIR`. */
export function trainCommand(): Command {
  return new Command('train')
    .description('train a network from a JSON config and/or flags (flags override the config), or resume a run')
    .option('--config <file>', 'training configuration (JSON; see README)')
    .option('--resume <runDir>', 'continue the run in RUN_DIR from its last checkpoint')
    .option('--out <dir>', 'run directory')
    .option('--msd <dir>', 'Medical Segmentation Decathlon folder')
    .option('--images <dir>', 'folder of images (with --labels and --label-names)')
    .option('--labels <dir>', 'folder of label maps matched to the images by name')
    .option('--label-names <spec>', 'organs as value:name pairs, e.g. 1:brain,2:heart')
    .option('--network <name>', 'proposed | unet3d | vnet | segnet3d')
    .option('--network-options <json>', 'network options as JSON')
    .option('--loss <name>', 'combo | dice | bce | wbce | ce | wce | dce | focal | gdl | jaccard | sensspec | tversky')
    .option('--loss-options <json>', 'loss options as JSON')
    .option('--alpha <a>', 'loss option alpha', num('--alpha'))
    .option('--beta <b>', 'loss option beta', num('--beta'))
    .option('--sampler <kind>', 'paper | ratio | whole')
    .option('--patch-size <n>', 'cubic patch size (the sliding window)', num('--patch-size'))
    .option('--batch-size <n>', 'patches per step', num('--batch-size'))
    .option('--epochs <n>', 'epochs', num('--epochs'))
    .option('--max-minutes <m>', 'stop before an epoch that would end past this time', num('--max-minutes'))
    .option('--optimizer <name>', 'adadelta | adam | sgd')
    .option('--lr <lr>', 'learning rate', num('--lr'))
    .option('--seed <s>', 'random seed', num('--seed'))
    .option('--validation <f>', 'validation fraction', num('--validation'))
    .option('--folds <k>', 'k-fold cross-validation (with --fold)', num('--folds'))
    .option('--fold <i>', 'which fold validates (0-based)', num('--fold'))
    .option('--device <d>', 'where the network trains: cpu (default), cuda or cuda:N')
    .option('--precision <p>', 'auto (default: bf16 where this CPU computes it clearly faster) | fp32 | bf16')
    .option('--force', 'start over in an --out folder that already holds a run (its files are removed)')
    .option('--nproc <n>', 'data-parallel: processes on this host (batch-size stays the global batch)', num('--nproc'))
    .option('--nnodes <m>', 'data-parallel: hosts in the run (each runs this command)', num('--nnodes'))
    .option(
      '--node-rank <r>',
      "data-parallel: this host's place, 0 … nnodes − 1 (0 hosts the rendezvous)",
      num('--node-rank'),
    )
    .option('--master <host:port>', "data-parallel: node 0's address and a free port on it")
    .option('--sync-bn', 'data-parallel: batch-norm statistics over the global batch')
    .option(
      '--dist-timeout <s>',
      'data-parallel: seconds to wait for the other ranks (default 300)',
      num('--dist-timeout'),
    )
    .option('--ignore-unnamed-labels', 'train label values that --label-names does not name as background')
    .action(async (o: TrainFlags) => {
      let config: unknown; // checked again by the trainer
      if (o.resume) {
        const allowed: string[] = ['resume', ...PLACEMENT_FLAGS];
        if (o.config || Object.keys(o).some((k) => !allowed.includes(k)))
          throw new ComboSegError(
            '--resume continues a run with its own configuration; give no other option but where it runs ' +
              '(--nproc, --nnodes, --node-rank, --master, --dist-timeout)',
          );
        // The folder named here, wherever the run was first started from (or moved to since).
        const saved = { ...readRunConfig(o.resume), out: resolve(o.resume) } as Record<string, unknown>;
        config = placeFromFlags(saved, o);
        checkTrainConfig(config as Record<string, unknown>, o, o.resume);
      } else {
        let base: Record<string, unknown> = {};
        if (o.config) base = readJsonFile(o.config) as Record<string, unknown>;
        const fromFlags = configFromFlags(base, o);
        checkTrainConfig(fromFlags, o, o.config ?? 'flags');
        config = fromFlags;
      }
      const r = await runTraining(config, Boolean(o.resume), false, Boolean(o.force));
      // Stopped on request: 128 + the signal's number, as a shell reports it (Ctrl-C 130, SIGTERM 143).
      if (r.stopped) process.exitCode = 128 + osConstants.signals[r.signal ?? 'SIGINT'];
    });
}
