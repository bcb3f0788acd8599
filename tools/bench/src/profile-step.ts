import * as tf from '@tensorflow/tfjs-core';

/** One row of a kernel profile: every call of `kernel` during the profiled work, summed. */
export interface KernelTime {
  kernel: string;
  /** Self time, ms: the kernel's own time minus that of the kernels it ran (composite kernels). */
  ms: number;
  /** Time including nested kernels, ms (equals `ms` for leaf kernels). */
  inclusiveMs: number;
  /** ms / (sum of all self times), i.e. the share of the profiled step's kernel time. */
  share: number;
  /** Number of calls. */
  calls: number;
}

/** The engine's (private) profiler, whose `profileKernel` runs each kernel synchronously. */
interface ProfilerLike {
  profileKernel: (name: string, inputs: unknown, f: () => unknown) => unknown;
}

/**
 * Runs `work` under `tf.profile` and aggregates kernel times by name, largest self time first.
 *
 * tf.profile records nested work twice: op scopes (customGrad ops such as fused matMul/conv) and
 * composite kernels (fewstep's wasm conv gradients run Conv2D, BatchMatMul, ... through the
 * engine) are recorded along with the kernels they ran. To attribute time once, this tracks the
 * nesting depth of every record (by wrapping the engine profiler's `profileKernel` for the
 * duration) and subtracts children from parents. If that internal hook is missing, it falls
 * back to counting only registered kernels, inclusively.
 * Disables CHECK_COMPUTATION_FOR_ERRORS meanwhile (it reads every output back).
 *
 * @param top keep this many rows (shares stay relative to the full total)
 */
export async function profileKernels(work: () => Promise<unknown>, top = 10): Promise<KernelTime[]> {
  const env = tf.env();
  const check = env.getBool('CHECK_COMPUTATION_FOR_ERRORS');
  const profiler = (tf.engine() as unknown as { profiler?: ProfilerLike }).profiler;
  const original = profiler?.profileKernel;
  const depths: number[] = [];
  let depth = 0;
  if (profiler && original) {
    profiler.profileKernel = function (this: ProfilerLike, name, inputs, f) {
      const mine = depth++;
      try {
        return original.call(this, name, inputs, f);
      } finally {
        depth = mine;
        depths.push(mine);
      }
    };
  }
  env.set('CHECK_COMPUTATION_FOR_ERRORS', false);
  let info: Awaited<ReturnType<typeof tf.profile>>;
  try {
    info = await tf.profile(async () => {
      await work();
      return [];
    });
  } finally {
    env.set('CHECK_COMPUTATION_FOR_ERRORS', check);
    if (profiler && original) profiler.profileKernel = original;
  }

  const records = info.kernels.map((k) => ({ name: k.name, ms: typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0 }));
  const rows = new Map<string, { ms: number; inclusiveMs: number; calls: number }>();
  const add = (name: string, self: number, inclusive: number): void => {
    const row = rows.get(name) ?? { ms: 0, inclusiveMs: 0, calls: 0 };
    row.ms += self;
    row.inclusiveMs += inclusive;
    row.calls += 1;
    rows.set(name, row);
  };
  if (depths.length === records.length) {
    // Records arrive in completion order: a record's children are the deeper records completed
    // since the previous record at its own depth or shallower.
    const childTime: number[] = [];
    records.forEach((r, i) => {
      const d = depths[i] as number;
      const children = childTime[d + 1] ?? 0;
      childTime[d + 1] = 0;
      childTime[d] = (childTime[d] ?? 0) + r.ms;
      add(r.name, Math.max(0, r.ms - children), r.ms);
    });
  } else {
    const backend = tf.getBackend();
    for (const r of records) if (tf.getKernel(r.name, backend) !== undefined) add(r.name, r.ms, r.ms);
  }
  let total = 0;
  for (const r of rows.values()) total += r.ms;
  return [...rows.entries()]
    .map(([kernel, r]) => ({ kernel, ms: r.ms, inclusiveMs: r.inclusiveMs, share: total > 0 ? r.ms / total : 0, calls: r.calls }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
}
