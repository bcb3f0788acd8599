/**
 * @file The worker pool of `fewstep trajectories --workers N` (parent side). The pending chunks of
 * one shard are handed out one at a time to N child processes of the `fewstep` bin (each runs
 * `fewstep trajectories ... --worker-ipc`, loads the teacher once and serves chunks, see
 * `chunk-worker.ts`). A chunk file is a pure function of its sample range (`write-trajectories.ts`),
 * so the output is byte-identical whatever N is and whichever worker writes which chunk; nothing
 * is merged here: the shard JSON and `index.json` are built from the plan once every chunk file
 * exists, as in the in-process path.
 *
 * Child processes rather than `worker_threads`: each has its own tfjs engine and wasm module, and
 * a crash (or an out-of-memory kill) of one cannot take the others or the parent down.
 *
 * Failure and shutdown:
 * - a worker that reports an error, exits non-zero or dies by a signal fails the run: the others
 *   are stopped (SIGTERM, SIGKILL after {@link KILL_GRACE_MS}) and the promise rejects with an
 *   `E_TRAJECTORY_WORKER` error carrying the worker's own message (its IPC error report, else the
 *   last lines it printed);
 * - SIGINT / SIGTERM to the parent stop every worker the same way, then reject with an
 *   `E_INTERRUPTED` error that names the signal (the command exits 128 + signal number);
 * - a parent that is killed outright (SIGKILL) closes the IPC channel; workers exit on
 *   `disconnect`, after the chunk in flight at most (no orphans).
 * Finished chunks stay in every case; a re-run makes only the missing ones.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FewstepError } from '@fewstep/core';
import type { ChunkPlan } from './write-trajectories.js';

/** Parent -> worker. */
export type ParentMessage = { type: 'chunk'; chunk: ChunkPlan } | { type: 'stop' };
/** Worker -> parent. */
export type WorkerMessage = { type: 'ready' } | { type: 'done'; chunk: ChunkPlan } | { type: 'error'; message: string };

/** How long a stopped worker gets between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 5000;

/** The `fewstep` bin the workers run (tools/cli/bin/fewstep.js). */
export const FEWSTEP_BIN = fileURLToPath(new URL('../../bin/fewstep.js', import.meta.url));

export interface ChunkPoolOptions {
  /** Worker processes to start (>= 1, at most one per chunk is useful). */
  workers: number;
  /** The chunks to write, handed out in order. */
  chunks: readonly ChunkPlan[];
  /** Arguments after the bin: `trajectories ... --worker-ipc`. */
  args: readonly string[];
  /** The workers' environment (backend, one thread). */
  env: NodeJS.ProcessEnv;
  /** Once per chunk a worker finished (its file is in place). */
  onChunk?: (chunk: ChunkPlan) => void;
  /** Once all workers are started. */
  onStart?: (pids: number[]) => void;
  /** Each line a worker prints (stdout or stderr), prefixed with `worker <i>: `. */
  onOutput?: (line: string) => void;
  /** Aborting stops every worker (as on a failure); the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** @default {@link FEWSTEP_BIN} */
  bin?: string;
}

interface Slot {
  id: number;
  child: ChildProcess;
  current?: ChunkPlan;
  stopped: boolean;
  closed: boolean;
  error?: string;
  lines: string[];
  partial: string;
}

const describe = (c: ChunkPlan): string => `${c.file} (samples ${c.start}..${c.end - 1})`;

/** Runs the pool to completion; resolves once every chunk is written and every worker has exited. */
export function runChunkPool(o: ChunkPoolOptions): Promise<void> {
  const queue = [...o.chunks];
  const slots: Slot[] = [];
  let failure: Error | undefined;
  let signal: NodeJS.Signals | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  return new Promise<void>((resolve, reject) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      // A second signal while stopping escalates to SIGKILL.
      if (signal !== undefined) for (const s of slots) if (!s.closed) s.child.kill('SIGKILL');
      signal ??= sig;
      stopAll();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const onAbort = (): void => stopAll();
    o.signal?.addEventListener('abort', onAbort);

    const settleIfDone = (): void => {
      if (slots.length < o.workers || slots.some((s) => !s.closed)) return;
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      o.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (o.signal?.aborted) reject(o.signal.reason instanceof Error ? o.signal.reason : new Error(String(o.signal.reason)));
      else if (signal !== undefined) {
        reject(new FewstepError('E_INTERRUPTED', `interrupted by ${signal}: stopped ${slots.length} trajectory workers; the finished chunks are kept, re-run the same command to make the rest.`));
      } else if (failure) reject(failure);
      else if (queue.length > 0) reject(new FewstepError('E_TRAJECTORY_WORKER', `the trajectory workers exited with ${queue.length} chunk(s) not handed out (${describe(queue[0]!)}, ...).`));
      else resolve();
    };

    function stopAll(): void {
      for (const s of slots) if (!s.closed) s.child.kill('SIGTERM');
      killTimer ??= setTimeout(() => {
        for (const s of slots) if (!s.closed) s.child.kill('SIGKILL');
      }, KILL_GRACE_MS);
      settleIfDone();
    }

    const fail = (s: Slot, why: string): void => {
      if (failure || signal !== undefined || o.signal?.aborted) return;
      const where = s.current ? `failed on ${describe(s.current)}` : 'failed before taking a chunk';
      failure = new FewstepError('E_TRAJECTORY_WORKER', `trajectory worker ${s.id} (pid ${s.child.pid ?? '?'}) ${where}: ${why}`);
      stopAll();
    };

    const next = (s: Slot): void => {
      if (failure || signal !== undefined || o.signal?.aborted || s.stopped) return;
      const chunk = queue.shift();
      s.current = chunk;
      if (chunk === undefined) s.stopped = true;
      s.child.send((chunk ? { type: 'chunk', chunk } : { type: 'stop' }) satisfies ParentMessage, (err) => {
        if (err) fail(s, `could not send it work (${err.message})`);
      });
    };

    const collect = (s: Slot, data: Buffer): void => {
      const text = s.partial + data.toString('utf8');
      const lines = text.split('\n');
      s.partial = lines.pop()!;
      for (const line of lines) {
        if (line.trim() === '') continue;
        s.lines.push(line);
        if (s.lines.length > 20) s.lines.shift();
        o.onOutput?.(`worker ${s.id}: ${line}`);
      }
    };

    for (let id = 0; id < o.workers; id++) {
      const child = fork(o.bin ?? FEWSTEP_BIN, [...o.args], { env: o.env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
      const s: Slot = { id, child, stopped: false, closed: false, lines: [], partial: '' };
      slots.push(s);
      child.stdout!.on('data', (d: Buffer) => collect(s, d));
      child.stderr!.on('data', (d: Buffer) => collect(s, d));
      child.on('message', (raw: unknown) => {
        const m = raw as WorkerMessage;
        if (m.type === 'error') {
          s.error = m.message;
          fail(s, m.message);
        } else if (m.type === 'done') {
          s.current = undefined;
          o.onChunk?.(m.chunk);
          next(s);
        } else if (m.type === 'ready') next(s);
      });
      child.on('error', (err) => fail(s, `could not be started or signalled (${err.message})`));
      child.on('close', (code, sig) => {
        s.closed = true;
        if (s.partial.trim() !== '') collect(s, Buffer.from('\n'));
        if (!(s.stopped && code === 0 && s.current === undefined)) {
          const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
          fail(s, s.error ?? (s.lines.length > 0 ? `${how}; its last output:\n  ${s.lines.slice(-5).join('\n  ')}` : `${how} without a message`));
        }
        settleIfDone();
      });
    }
    o.onStart?.(slots.map((s) => s.child.pid ?? -1));
    if (o.signal?.aborted) stopAll();
  });
}
