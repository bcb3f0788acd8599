import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ShapeError, readSafetensors } from '@fewstep/core';
import { decodePng, encodePng } from '@fewstep/data';
import { fewstep, tempDirs } from '../testing/cli.test-util.js';
import { conditionFrameFromPng, sampleCommand } from './sample.js';

const tmp = tempDirs('fewstep-sample-');
const I2V = 'analytic:gmm-i2v:modes=3,frames=3,size=4,channels=3,std=0.1,seed=2';

/** A 4x4 RGB PNG with a distinct byte per pixel and channel. */
function rgbPng(): { bytes: Buffer; data: Uint8Array } {
  const data = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 37) % 256);
  return { bytes: encodePng({ width: 4, height: 4, channels: 3, data }), data };
}

describe('fewstep sample --image (image-to-video)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('reads the conditioning frame: bytes mapped to --range, gray replicated, alpha dropped, same-aspect sizes resized; typed errors otherwise', async () => {
    const { data } = rgbPng();
    const rgb = await conditionFrameFromPng({ width: 4, height: 4, channels: 3, data }, [4, 4, 3], [-1, 1]);
    expect(rgb.shape).toEqual([1, 4, 4, 3]);
    const want = Array.from(data, (b) => (b / 255) * 2 - 1);
    Array.from(rgb.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    const rgba = Uint8Array.from({ length: 16 * 4 }, (_, i) => (i % 4 === 3 ? 7 : data[Math.floor(i / 4) * 3 + (i % 4)]!));
    expect(Array.from((await conditionFrameFromPng({ width: 4, height: 4, channels: 4, data: rgba }, [4, 4, 3], [-1, 1])).dataSync())).toEqual(Array.from(rgb.dataSync()));
    const gray = await conditionFrameFromPng({ width: 2, height: 2, channels: 1, data: Uint8Array.from([0, 255, 255, 0]) }, [2, 2, 3], [0, 1]);
    expect(Array.from(gray.dataSync())).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    // 8x8 with the model's 1:1 aspect: resized (bilinear) to 4x4; a constant image stays constant.
    const big = await conditionFrameFromPng({ width: 8, height: 8, channels: 3, data: new Uint8Array(8 * 8 * 3).fill(51) }, [4, 4, 3], [0, 1]);
    expect(big.shape).toEqual([1, 4, 4, 3]);
    for (const v of big.dataSync()) expect(v).toBeCloseTo(0.2, 6);
    await expect(conditionFrameFromPng({ width: 8, height: 4, channels: 3, data: new Uint8Array(96) }, [4, 4, 3], [-1, 1])).rejects.toThrow(ShapeError);
    await expect(conditionFrameFromPng({ width: 8, height: 4, channels: 3, data: new Uint8Array(96) }, [4, 4, 3], [-1, 1])).rejects.toThrow(/\[4, 8, 3\].*\[4, 4, 3\].*aspect ratio 4:4/s);
    await expect(conditionFrameFromPng({ width: 4, height: 4, channels: 3, data }, [4, 4, 1], [-1, 1])).rejects.toThrow(ConfigError);
    await expect(conditionFrameFromPng({ width: 4, height: 4, channels: 3, data }, [4, 4, 4], [-1, 1])).rejects.toThrow(/4-channel/);
    tf.dispose([rgb, gray, big]);
  });

  it('analytic:gmm-i2v --image PNG: every sample starts on the condition, which the strip and the GIF grid draw first', async () => {
    const dir = tmp();
    const png = join(dir, 'c.png');
    const { bytes, data } = rgbPng();
    writeFileSync(png, bytes);
    const out = join(dir, 's');
    const r = fewstep(['sample', '--model', I2V, '--schedule', 'flow', '--steps', '20', '--n', '3', '--image', png, '--format', 'png,gif', '--out', out, '--json']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ task: 'i2v', image: png, imageNoiseSigma: 0, shape: [3, 3, 4, 4, 3] });
    const { tensors } = await readSafetensors(join(out, 'samples.safetensors'));
    const samples = tensors.get('samples')!.data as Float32Array;
    const condition = tensors.get('condition')!;
    expect(condition.shape).toEqual([1, 4, 4, 3]);
    Array.from(condition.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo((data[i]! / 255) * 2 - 1, 6));
    // Frame 0 of each sample is the condition (the exact conditional teacher, no augmentation).
    for (let k = 0; k < 3; k++) for (let i = 0; i < 48; i++) expect(Math.abs(samples[k * 144 + i]! - (condition.data as Float32Array)[i]!)).toBeLessThan(1e-3);
    // The strip's first row is the conditioning frame held still: every frame shows the PNG's bytes.
    const strip = decodePng(readFileSync(join(out, 'samples.png')));
    expect(strip.height).toBe(4 * (4 * 8) + 3 * 2); // 1 + 3 videos
    for (const frame of [0, 2]) {
      const x0 = frame * (4 * 8 + 2);
      for (const [y, x] of [[0, 0], [3, 2]] as const) {
        const p = ((y * 8 + 4) * strip.width + x0 + x * 8 + 4) * 3;
        expect(Array.from(strip.data.subarray(p, p + 3))).toEqual(Array.from(data.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3)));
      }
    }
    expect(readFileSync(join(out, 'samples.gif')).subarray(0, 6).toString('latin1')).toBe('GIF89a');

  }, 120_000);

  it('without --image an i2v model is a typed error naming --unconditional; --unconditional samples; t2v models refuse --image; a wrong-size PNG names both shapes', async () => {
    const dir = tmp();
    const png = join(dir, 'c.png');
    writeFileSync(png, rgbPng().bytes);
    // In process (the bin turns these errors into exit code 2, see commands/distill.test.ts).
    const run = (args: string[]) => sampleCommand().exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined }).parseAsync(args, { from: 'user' });
    await expect(run(['--model', I2V, '--n', '2', '--out', join(dir, 'm')])).rejects.toThrow(ConfigError);
    await expect(run(['--model', I2V, '--n', '2', '--out', join(dir, 'm')])).rejects.toThrow(/--image.*image-to-video.*--unconditional/s);
    await run(['--model', I2V, '--schedule', 'flow', '--steps', '4', '--n', '2', '--unconditional', '--out', join(dir, 'u'), '--json']);
    expect(JSON.parse(readFileSync(join(dir, 'u', 'sample-info.json'), 'utf8'))).toMatchObject({ task: 'i2v', n: 2 });
    await expect(run(['--model', I2V, '--n', '2', '--image', png, '--unconditional', '--out', join(dir, 'x')])).rejects.toThrow(/--unconditional.*not with --image/s);
    await expect(run(['--model', I2V.replace('gmm-i2v', 'gmm-video'), '--n', '2', '--image', png, '--out', join(dir, 't')])).rejects.toThrow(/--image.*only for image-to-video models/s);
    const wide = join(dir, 'wide.png');
    writeFileSync(wide, encodePng({ width: 8, height: 4, channels: 3, data: new Uint8Array(96) }));
    await expect(run(['--model', I2V, '--n', '2', '--image', wide, '--out', join(dir, 'b')])).rejects.toThrow(/--image.*\[4, 8, 3\]/s);
    await expect(run(['--model', I2V, '--n', '2', '--image', join(dir, 'none.png'), '--out', join(dir, 'b')])).rejects.toThrow(/--image.*readable PNG/s);
  });
});
