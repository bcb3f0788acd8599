import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A plugin written outside the repo — its own package.json, its own folder under the system temp
 * dir, only the public API of @fewstep/core — registers a backbone, a loss and a recipe through a
 * FewstepModule, and a host program uses them. This is the path a third-party author takes.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
let dir: string;

const pluginSource = `
import * as tf from '@tensorflow/tfjs-core';
import { defineBackbone, defineLoss, defineModule, inject, injectable, Tokens, type Logger } from '@fewstep/core';

/** A real (tiny) trainable backbone: one dense layer x -> xW + b. */
export const acmeDense = defineBackbone({
  name: 'acme:dense',
  presets: { tiny: { dim: 4 } },
  create: (cfg: { dim: number }) => {
    const w = tf.variable(tf.eye(cfg.dim), true, 'acme/w');
    const b = tf.variable(tf.zeros([cfg.dim]), true, 'acme/b');
    return { variables: [w, b], apply: (x: tf.Tensor2D) => tf.add(tf.matMul(x, w), b) };
  },
});

/** Mean squared error to a target (the loss a user would start from). */
export const acmeMse = defineLoss({
  name: 'acme:mse',
  equation: 'L = mean((f(x) - y)^2)',
  defaults: { weight: 1 },
  requires: ['student'],
  trains: 'student',
  compute: ({ pred, target }: { pred: tf.Tensor; target: tf.Tensor }, { weight }: { weight: number }) =>
    tf.tidy(() => ({ loss: tf.mul(weight, tf.mean(tf.squaredDifference(pred, target))) as tf.Scalar })),
});

export const acmeRecipe = {
  name: 'acme:regress',
  roles: { student: 'acme:dense' },
  phases: [{ role: 'student', losses: [[acmeMse, { weight: 1 }]] as const }],
};

export const GreeterToken = Symbol('acme.Greeter');

@injectable()
export class Greeter {
  constructor(@inject(Tokens.Logger) private readonly log: Logger) {}
  hello(): string { this.log.info('hello from acme'); return 'hi'; }
}

export const AcmeModule = defineModule({
  name: 'acme:plugin',
  register(dm) {
    dm.resolve(Tokens.BackboneRegistry).register(acmeDense);
    dm.resolve(Tokens.LossRegistry).register(acmeMse);
    dm.resolve(Tokens.RecipeRegistry).register(acmeRecipe);
    dm.registerSingleton(GreeterToken as never, Greeter);
  },
});
`;

const hostSource = `
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { DependencyManager, MemoryLogger, Tokens } from '@fewstep/core';
import { AcmeModule, GreeterToken } from './plugin.js';

await tf.setBackend('cpu');
const log = new MemoryLogger();
const dm = DependencyManager.createRoot({ logger: log });
dm.registerModules(AcmeModule);
await dm.initializeModules();
const run = dm.createRunScope('acme-run');
const backbone = run.resolve(Tokens.BackboneRegistry).get('acme:dense');
const net = backbone.create(backbone.presets.tiny) as any;
const loss = run.resolve(Tokens.LossRegistry).get('acme:mse');
const recipe = run.resolve(Tokens.RecipeRegistry).get('acme:regress');
const x = tf.tensor2d([[1, 2, 3, 4]]);
const y = tf.tensor2d([[2, 2, 2, 2]]);
const { value, grads } = tf.variableGrads(() => loss.compute({ pred: net.apply(x), target: y }, { weight: 1 } as any).loss, net.variables);
const before = tf.memory().numTensors;
let unknown = '';
try { run.resolve(Tokens.LossRegistry).get('acme:nope'); } catch (e) { unknown = (e as Error).message; }
const greeting = (run.resolve(GreeterToken as any) as any).hello();
const out = {
  backbones: dm.resolve(Tokens.BackboneRegistry).names(),
  losses: dm.resolve(Tokens.LossRegistry).names(),
  recipes: dm.resolve(Tokens.RecipeRegistry).names(),
  phases: recipe.phases.map((p: any) => [p.role, p.losses.map((l: any) => l[0].name)]),
  loss: (await value.data())[0],
  gradW: Array.from(await grads['acme/w']!.data()).slice(0, 4),
  unknown,
  greeting,
  logs: log.messages,
};
value.dispose(); x.dispose(); y.dispose(); Object.values(grads).forEach((g) => g.dispose());
for (const v of net.variables) run.resolve(Tokens.TensorScope).keep(v);
const kept = tf.memory().numTensors;
await run.dispose();
await dm.shutdownModules();
console.log(JSON.stringify({ ...out, freed: kept - tf.memory().numTensors, before }));
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fewstep-third-party-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'acme-fewstep-plugin', version: '0.0.0', type: 'module', peerDependencies: { '@fewstep/core': '*', '@tensorflow/tfjs-core': '4.22.0' } }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { experimentalDecorators: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true } }));
  writeFileSync(join(dir, 'plugin.ts'), pluginSource);
  writeFileSync(join(dir, 'host.ts'), hostSource);
  // What `npm install` of the peers would give the author: the packages, not the repo's workspace.
  mkdirSync(join(dir, 'node_modules/@fewstep'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/@tensorflow'), { recursive: true });
  symlinkSync(join(repoRoot, 'packages/core'), join(dir, 'node_modules/@fewstep/core'));
  for (const p of ['tfjs-core', 'tfjs-backend-cpu']) symlinkSync(join(repoRoot, 'node_modules/@tensorflow', p), join(dir, 'node_modules/@tensorflow', p));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a third-party plugin package', () => {
  it('registers a backbone, a loss and a recipe through the module API and a host uses them', () => {
    const tsx = join(repoRoot, 'node_modules/tsx/dist/cli.mjs');
    const stdout = execFileSync(process.execPath, [tsx, 'host.ts'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out.backbones).toEqual(['acme:dense']);
    expect(out.losses).toEqual(['acme:mse']);
    expect(out.recipes).toEqual(['acme:regress']);
    expect(out.phases).toEqual([['student', ['acme:mse']]]);
    // pred = x (identity W, zero b) = [1,2,3,4]; target 2: mean([1,0,1,4]) = 1.5
    expect(out.loss).toBeCloseTo(1.5, 6);
    // dL/dW[i][j] = x_i * 2 (pred_j - y_j) / 4: row 0 = 0.5*[-1, 0, 1, 2]
    expect(out.gradW).toEqual([-0.5, 0, 0.5, 1]);
    expect(out.unknown).toMatch(/^Unknown loss 'acme:nope'\. Known losses: 'acme:mse'\./);
    expect(out.greeting).toBe('hi');
    expect(out.logs).toEqual([{ level: 'info', message: 'hello from acme' }]);
    expect(out.freed).toBe(2);
  });
});
