// One stall-probe thread: says it is ready, busy-loops on 'go' for workerData.durationMs, replies its summary.
import { parentPort, workerData } from 'node:worker_threads';
import { measureGaps, summarizeGaps } from './stalls.ts';

const port = parentPort!;
const { durationMs } = workerData as { durationMs: number };

port.once('message', () => {
  const { gapsMs, wallMs } = measureGaps(durationMs);
  port.postMessage(summarizeGaps(gapsMs, wallMs));
});
port.postMessage('ready');
