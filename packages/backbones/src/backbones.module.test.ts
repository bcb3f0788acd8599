import '@tensorflow/tfjs-backend-wasm';
import { DependencyManager, initEngine, MemoryLogger, Tokens, UnknownPluginError } from '@fewstep/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BackbonesModule, backboneDefinitions } from './backbones.module.js';
import { VideoDiT } from './dit/video-dit.js';
import { TextEncoder } from './text/text-encoder.js';
import { ImageUNet } from './unet/image-unet.js';
import { VideoUNet } from './unet/video-unet.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
});

describe('BackbonesModule', () => {
  it('registers the four backbones; create() builds a preset; unknown names list the known ones', () => {
    const dm = DependencyManager.createRoot({ logger: new MemoryLogger() });
    dm.registerModules(BackbonesModule);
    const registry = dm.resolve(Tokens.BackboneRegistry);
    expect(registry.names()).toEqual(['backbones:image-unet', 'backbones:text-encoder', 'backbones:video-dit', 'backbones:video-unet']);
    const def = registry.get('backbones:video-unet');
    expect(Object.keys(def.presets)).toEqual(['tiny', 'small', 'base']);
    const unet = def.create(def.presets.tiny) as VideoUNet;
    expect(unet).toBeInstanceOf(VideoUNet);
    unet.dispose();
    expect(() => registry.get('backbones:video-unte')).toThrow(UnknownPluginError);
  });

  it('parameter counts of every preset (listed in README.md); the count without allocation matches the built network', () => {
    const counters: Record<string, (c: never) => number> = {
      'backbones:video-unet': (c) => VideoUNet.numParametersOf(c),
      'backbones:video-dit': (c) => VideoDiT.numParametersOf(c),
      'backbones:image-unet': (c) => ImageUNet.numParametersOf(c),
      'backbones:text-encoder': (c) => TextEncoder.numParametersOf(c),
    };
    const rows = ['| backbone | tiny | small | base |', '|---|---:|---:|---:|'];
    for (const def of backboneDefinitions) {
      const n = Object.fromEntries(Object.entries(def.presets).map(([p, c]) => [p, counters[def.name]!(c as never)]));
      rows.push(`| ${def.name} | ${['tiny', 'small', 'base'].map((p) => n[p]!.toLocaleString('en-US')).join(' | ')} |`);
      const built = def.create(def.presets.tiny as never) as { numParameters(): number; dispose(): void };
      expect(built.numParameters()).toBe(n.tiny);
      built.dispose();
      expect(n.tiny).toBeLessThan(1_000_000);
      if (def.name !== 'backbones:text-encoder') expect(n.base).toBeGreaterThan(10_000_000);
    }
    console.log(rows.join('\n'));
  });
});
