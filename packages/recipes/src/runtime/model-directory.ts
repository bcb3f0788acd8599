/**
 * @file Model directories: what `fewstep train-teacher` and `fewstep distill` write and
 * `fewstep sample --model DIR` reads. `model.safetensors` (fewstep variable names, F32) is written
 * first, `model.json` (backbone kind + config, schedule, prediction type, student spec) last and
 * atomically, so a directory with a `model.json` is complete.
 */
import { mkdir, readFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  FewstepError,
  noiseScheduleFromConfig,
  readSafetensors,
  resolvePredictionType,
  writeFileAtomic,
  writeSafetensors,
  type Network,
  type NoiseScheduleConfig,
  type PredictionType,
  type TensorToWrite,
} from '@fewstep/core';
import { ImageUNet, VideoDiT, VideoUNet } from '@fewstep/backbones';
import type { BackboneLike, DiffusionModel } from './diffusion-model.js';
import { validateStudentSpec, type StudentSpec } from './student.js';

export const MODEL_JSON = 'model.json';
export const MODEL_WEIGHTS = 'model.safetensors';

/**
 * What a model generates: `t2v` videos from noise (unconditional, or text-conditioned through its
 * batch keys), `i2v` videos from noise given a conditioning first frame (`image`; the backbone's
 * config has an `imageCondition`). `fewstep sample` asks for `--image` on `i2v` models.
 */
export type ModelTask = 't2v' | 'i2v';
export const MODEL_TASKS: readonly ModelTask[] = ['t2v', 'i2v'];

/** The task a backbone config implies: `i2v` when it has a (non-null) `imageCondition`. */
export function taskOfBackboneConfig(config: unknown): ModelTask {
  const c = config as { imageCondition?: unknown } | null | undefined;
  return c !== null && typeof c === 'object' && c.imageCondition !== undefined && c.imageCondition !== null ? 'i2v' : 't2v';
}

/** `model.json`. */
export interface ModelManifest {
  readonly format: 'fewstep-model';
  readonly version: 1;
  readonly role: 'teacher' | 'student';
  /** What the model generates. Absent in older directories: inferred from the backbone config. */
  readonly task?: ModelTask;
  readonly backbone: { readonly kind: string; readonly config: unknown };
  readonly schedule: NoiseScheduleConfig;
  readonly predictionType: PredictionType;
  /** One sample `[F, H, W, C]`. */
  readonly sampleShape: readonly number[];
  /** Present for students: how to sample them. */
  readonly student?: StudentSpec;
  /** Where it came from: recipe and options, teacher directory, data spec, steps. */
  readonly provenance?: Readonly<Record<string, unknown>>;
}

/** Rebuilds an untrained backbone of a kind from its config. */
export type BackboneFactory = (config: unknown) => BackboneLike;

/** fewstep's backbones by kind; pass more to {@link loadModelDirectory} for your own. */
export const BUILTIN_BACKBONE_FACTORIES: Readonly<Record<string, BackboneFactory>> = Object.freeze({
  [VideoUNet.kind]: (c) => VideoUNet.fromConfig(c as never) as unknown as BackboneLike,
  [VideoDiT.kind]: (c) => VideoDiT.fromConfig(c as never) as unknown as BackboneLike,
  [ImageUNet.kind]: (c) => ImageUNet.fromConfig(c as never) as unknown as BackboneLike,
});

/** Writes a model directory (weights first, then `model.json`). */
export async function saveModelDirectory(
  dir: string,
  model: { backbone: BackboneLike; network?: Network; schedule: DiffusionModel['schedule']; predictionType: PredictionType },
  meta: { role: 'teacher' | 'student'; sampleShape: readonly number[]; task?: ModelTask; student?: StudentSpec; provenance?: Record<string, unknown> },
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const net = model.network ?? model.backbone.net;
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, v] of net.variables()) tensors.set(name, { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array });
  await writeSafetensors(nodePath.join(dir, MODEL_WEIGHTS), tensors, { metadata: { 'fewstep.role': meta.role, 'fewstep.backbone': model.backbone.kind } });
  const config = model.backbone.toConfig();
  const task = meta.task ?? taskOfBackboneConfig(config);
  if (task === 'i2v' && taskOfBackboneConfig(config) !== 'i2v') {
    throw new ConfigError('task', task, "'t2v' for a backbone without imageCondition", 'build the backbone with imageCondition: imageConditioning() for an image-to-video model');
  }
  const manifest: ModelManifest = {
    format: 'fewstep-model',
    version: 1,
    role: meta.role,
    task,
    backbone: { kind: model.backbone.kind, config },
    schedule: model.schedule.toConfig(),
    predictionType: model.predictionType,
    sampleShape: [...meta.sampleShape],
    ...(meta.student ? { student: meta.student } : {}),
    ...(meta.provenance ? { provenance: meta.provenance } : {}),
  };
  const json = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n');
  await writeFileAtomic(nodePath.join(dir, MODEL_JSON), [json]);
  return dir;
}

/** A loaded model directory. `dispose()` frees the backbone. */
export interface LoadedModel {
  readonly manifest: ModelManifest;
  /** `manifest.task`, or the task the backbone config implies (directories written before tasks were recorded). */
  readonly task: ModelTask;
  readonly model: DiffusionModel;
  readonly student?: StudentSpec;
  dispose(): void;
}

/**
 * Reads a model directory written by {@link saveModelDirectory}.
 * @throws ConfigError (not a model directory, unknown backbone kind, bad manifest field)
 */
export async function loadModelDirectory(dir: string, options: { backbones?: Readonly<Record<string, BackboneFactory>> } = {}): Promise<LoadedModel> {
  let text: string;
  try {
    text = await readFile(nodePath.join(dir, MODEL_JSON), 'utf8');
  } catch {
    throw new ConfigError('--model', dir, `a model directory with ${MODEL_JSON} and ${MODEL_WEIGHTS}`, 'pass the directory `fewstep train-teacher` or `fewstep distill` wrote (e.g. <out>/student)');
  }
  let m: ModelManifest;
  try {
    m = JSON.parse(text) as ModelManifest;
  } catch (e) {
    throw new FewstepError('E_MODEL_DIR', `${nodePath.join(dir, MODEL_JSON)} is not valid JSON: ${(e as Error).message}`);
  }
  if (m?.format !== 'fewstep-model' || m.version !== 1) throw new ConfigError(`${MODEL_JSON}.format`, m?.format, "'fewstep-model' version 1");
  const factories = { ...BUILTIN_BACKBONE_FACTORIES, ...(options.backbones ?? {}) };
  const factory = factories[m.backbone?.kind];
  if (!factory) throw new ConfigError(`${MODEL_JSON}.backbone.kind`, m.backbone?.kind, Object.keys(factories).join(', '), 'register your backbone with loadModelDirectory({ backbones })');
  const schedule = noiseScheduleFromConfig(m.schedule);
  const predictionType = resolvePredictionType(m.predictionType, `${MODEL_JSON}.predictionType`);
  const student = m.student === undefined ? undefined : validateStudentSpec(m.student, `${MODEL_JSON}.student`);
  if (m.task !== undefined && !MODEL_TASKS.includes(m.task)) throw new ConfigError(`${MODEL_JSON}.task`, m.task, MODEL_TASKS.join(', '));
  const task = m.task ?? taskOfBackboneConfig(m.backbone.config);
  const backbone = factory(m.backbone.config);
  try {
    const contents = await readSafetensors(nodePath.join(dir, MODEL_WEIGHTS));
    const weights = new Map<string, tf.Tensor>();
    try {
      for (const [name, t] of contents.tensors) weights.set(name, tf.tensor(t.data as Float32Array, [...t.shape], 'float32'));
      backbone.net.setWeights(weights);
    } finally {
      for (const t of weights.values()) t.dispose();
    }
  } catch (e) {
    backbone.net.dispose();
    throw e;
  }
  return {
    manifest: m,
    task,
    model: { backbone, schedule, predictionType },
    ...(student ? { student } : {}),
    dispose: () => backbone.net.dispose(),
  };
}
