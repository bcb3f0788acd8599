/**
 * @file The worker side of `fewstep trajectories --workers N` (see `worker-pool.ts`): a child
 * process started as `fewstep trajectories ... --worker-ipc` with an IPC channel. It has loaded the
 * teacher once; it then reports `ready`, writes each chunk it is sent (the same
 * `writeTrajectoryChunk` as the in-process path, so the bytes are the same) and reports `done`,
 * until `stop`. Any error is reported as `{ type: 'error', message }` before it is rethrown (the
 * process then exits non-zero). If the parent disappears (the channel closes without `stop`), the
 * worker exits at once with code 1: no orphans.
 *
 * Test hook (for tests only; used by `worker-pool.test.ts`): with
 * `FEWSTEP_TRAJECTORIES_TEST_FAULT=fail@<j>` in its environment a worker throws instead of
 * writing the chunk that holds sample `j`; with `hang@<j>` it waits forever there (so a test can
 * kill the parent while a chunk is certainly missing). The in-process path (`--workers 1`) and
 * every other chunk ignore it.
 */
import { ConfigError, FewstepError } from '@fewstep/core';
import type { ParentMessage, WorkerMessage } from './worker-pool.js';
import type { ChunkPlan } from './write-trajectories.js';

/** The environment variable of the test-only fault hook: `fail@<j>` or `hang@<j>`. */
export const TEST_FAULT_ENV = 'FEWSTEP_TRAJECTORIES_TEST_FAULT';

/** Parses the test hook's value; anything else is a ConfigError (a typo must not pass silently). */
export function parseTestFault(value: string | undefined): { kind: 'fail' | 'hang'; sample: number } | undefined {
  if (value === undefined || value === '') return undefined;
  const m = /^(fail|hang)@(\d+)$/.exec(value);
  if (!m) throw new ConfigError(TEST_FAULT_ENV, value, "'fail@<sample>' or 'hang@<sample>' (tests only)", 'unset it');
  return { kind: m[1] as 'fail' | 'hang', sample: Number(m[2]) };
}

function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(m, undefined, {}, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/** True in a process started by the pool (an IPC channel is open). */
export function hasParentChannel(): boolean {
  return typeof process.send === 'function' && process.connected;
}

/** Reports `err` to the parent (best effort) and closes the channel. */
export async function reportWorkerError(err: unknown): Promise<void> {
  const message = err instanceof Error ? err.message : String(err);
  await send({ type: 'error', message }).catch(() => undefined);
  if (process.connected) process.disconnect();
}

/** Serves chunks until the parent says `stop`; `write` makes one chunk file. */
export function serveChunks(write: (chunk: ChunkPlan) => Promise<void>, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const fault = parseTestFault(env[TEST_FAULT_ENV]);
  return new Promise<void>((resolve, reject) => {
    let stopping = false;
    let work = Promise.resolve();
    const onDisconnect = (): void => {
      if (!stopping) process.exit(1);
    };
    const finish = (err?: unknown): void => {
      process.removeListener('message', onMessage);
      process.removeListener('disconnect', onDisconnect);
      if (err !== undefined) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve();
    };
    const onMessage = (raw: unknown): void => {
      const m = raw as ParentMessage;
      if (m.type === 'stop') {
        stopping = true;
        work = work.then(() => {
          if (process.connected) process.disconnect();
          finish();
        });
        return;
      }
      const chunk = m.chunk;
      work = work
        .then(async () => {
          if (fault && fault.sample >= chunk.start && fault.sample < chunk.end) {
            if (fault.kind === 'hang') await new Promise<never>(() => undefined);
            throw new FewstepError('E_TEST_FAULT', `injected test failure (${TEST_FAULT_ENV}=${env[TEST_FAULT_ENV]}) instead of writing ${chunk.file}`);
          }
          await write(chunk);
          await send({ type: 'done', chunk });
        })
        .catch((err: unknown) => {
          stopping = true;
          finish(err);
        });
    };
    process.on('message', onMessage);
    process.on('disconnect', onDisconnect);
    send({ type: 'ready' }).catch((err: unknown) => finish(err));
  });
}
