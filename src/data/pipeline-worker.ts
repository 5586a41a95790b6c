// One worker thread of the patch pipeline (pipeline.ts): it rebuilds the run's sampler over the
// training cases (shared memory, not copies) and answers (epoch, index) requests with prepared patches,
// their arrays transferred back. Pure TypeScript: no engine is loaded here.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { toWorkerError } from '../util/worker.js';
import { PatchMaker, type PipelineSpec, type PipelineReply, type PipelineRequest } from './patch-maker.js';

function requirePort(): MessagePort {
  if (!parentPort) throw new Error('pipeline-worker runs in a worker thread started by PatchPipeline');
  return parentPort;
}

const port = requirePort();
const maker = new PatchMaker(workerData as PipelineSpec);
port.on('message', (r: PipelineRequest | { type: 'close' }) => {
  if (r.type === 'close') {
    port.close();
    return;
  }
  let reply: PipelineReply;
  try {
    const patch = maker.make(r.epoch, r.index);
    reply = { type: 'patch', epoch: r.epoch, index: r.index, patch };
  } catch (e) {
    reply = { type: 'error', epoch: r.epoch, index: r.index, error: toWorkerError(e) };
  }
  // PatchMaker returns arrays that own their memory (never shared): they move without a copy.
  const transfer =
    reply.type === 'patch' && reply.patch
      ? ([reply.patch.image.buffer, reply.patch.target.buffer] as ArrayBuffer[])
      : [];
  port.postMessage(reply, transfer);
});
