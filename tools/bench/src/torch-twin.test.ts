import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findTorchPython, runTorchTwin } from './torch-twin.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/torch-tiny-losses.json', import.meta.url), 'utf8')) as {
  shapes: Record<string, object>;
  losses: Record<string, number[]>;
};

describe('findTorchPython', () => {
  it('says why when no candidate can import torch, and how to fix it', () => {
    const r = findTorchPython({ FEWSTEP_PYTHON: '/nonexistent/python3' }, []);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toMatch(/\/nonexistent\/python3: .*ENOENT/);
      expect(r.reason).toMatch(/set FEWSTEP_PYTHON/);
    }
  });
});

// Optional: runs only where a Python with torch exists (the suite never requires Python).
const probe = findTorchPython();
describe.skipIf(!probe.ok)('the PyTorch twin (when torch is installed)', () => {
  it('prints one JSON object whose first losses equal the recorded fixture', async () => {
    if (!probe.ok) return;
    const out = await runTorchTwin({ python: probe.python, workloads: Object.keys(fixture.shapes), steps: 1, warmup: 0, threads: 1, shapes: fixture.shapes });
    expect(out.threads).toBe(1);
    expect(typeof out.referenceBlas).toBe('boolean');
    for (const [name, losses] of Object.entries(fixture.losses)) {
      const w = out.workloads[name];
      expect(w, name).toBeDefined();
      expect(Math.abs((w?.loss0 ?? NaN) - (losses[0] as number))).toBeLessThan(1e-6);
    }
  });
});
