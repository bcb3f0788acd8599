import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@fewstep/testing';
import { encodeSafetensors } from './encode.js';
import { bytesSource } from './file-source.js';
import { conformanceCorpus } from './fixtures/conformance-corpus.js';
import { malformedCorpus, multiDtypeSeed } from './fixtures/malformed-corpus.js';
import { decodeSafetensors, readSafetensors, type SafetensorsContents } from './reader.js';
import { SafetensorsError } from './safetensors-error.js';
import { bytesOf } from './tensor-data.js';

function sameContents(a: SafetensorsContents, b: SafetensorsContents): boolean {
  const md = (c: SafetensorsContents) => JSON.stringify(c.metadata && [...c.metadata].sort());
  if (md(a) !== md(b)) return false;
  if (a.tensors.size !== b.tensors.size) return false;
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name);
    if (!u || u.dtype !== t.dtype || u.shape.join() !== t.shape.join()) return false;
    if (Buffer.compare(bytesOf(t.data), bytesOf(u.data)) !== 0) return false;
  }
  return true;
}

/** Extra seeded random cases on top of the committed malformed corpus: pure garbage and splices. */
function randomCases(seed: number, count: number): { cls: string; bytes: Uint8Array }[] {
  const rand = mulberry32(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const seeds = [multiDtypeSeed(), ...conformanceCorpus().map((c) => c.bytes)];
  const out: { cls: string; bytes: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 4 === 0) {
      const b = Uint8Array.from({ length: int(200) }, () => int(256));
      if (b.length >= 8 && rand() < 0.7) new DataView(b.buffer).setBigUint64(0, BigInt(int(b.length)), true);
      out.push({ cls: 'random-bytes', bytes: b });
    } else {
      const s = seeds[int(seeds.length)] as Uint8Array;
      const b = Uint8Array.from(s);
      for (let k = 0, n = 1 + int(4); k < n && b.length > 0; k++) b[int(b.length)] = int(256);
      const cut = rand() < 0.3 ? int(b.length + 1) : b.length;
      out.push({ cls: 'random-multi-flip', bytes: b.slice(0, cut) });
    }
  }
  return out;
}

describe('P13: fuzz smoke test of the parser', () => {
  it('P13: every malformed or mutated file parses (and round-trips) or throws a SafetensorsError; never untyped, never slow, allocations ≤ 2× the file', async () => {
    const cases = [...conformanceCorpus().map((c) => ({ cls: `corpus`, bytes: c.bytes })), ...malformedCorpus(), ...randomCases(0xf022, 5000)];
    const byClass = new Map<string, { tried: number; accepted: number }>();
    const rules = new Map<string, number>();
    const untyped: string[] = [];
    let maxMs = 0;
    let maxAllocRatio = 0;
    let roundTripFailures = 0;
    const ab0 = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    for (const [i, c] of cases.entries()) {
      const stat = byClass.get(c.cls) ?? { tried: 0, accepted: 0 };
      byClass.set(c.cls, stat);
      stat.tried++;
      const start = performance.now();
      try {
        const r = decodeSafetensors(c.bytes);
        stat.accepted++;
        let alloc = 0;
        for (const t of r.tensors.values()) alloc += t.data.byteLength;
        maxAllocRatio = Math.max(maxAllocRatio, alloc / Math.max(1, c.bytes.length));
        const again = encodeSafetensors(r.tensors, { ...(r.metadata ? { metadata: r.metadata } : {}), allowNonFinite: true });
        const back = decodeSafetensors(again);
        const fixed = encodeSafetensors(back.tensors, { ...(back.metadata ? { metadata: back.metadata } : {}), allowNonFinite: true });
        if (!sameContents(r, back) || Buffer.compare(fixed, again) !== 0) {
          roundTripFailures++;
          console.error('round trip failed', c.cls, i, Buffer.from(c.bytes).toString('latin1').slice(0, 300));
        }
      } catch (e) {
        if (e instanceof SafetensorsError) rules.set(e.rule, (rules.get(e.rule) ?? 0) + 1);
        else untyped.push(`${c.cls}#${i}: ${String(e)}`);
      }
      maxMs = Math.max(maxMs, performance.now() - start);
      // The async file path agrees with the in-memory one (sampled).
      if (i % 25 === 0) {
        const sync = (() => {
          try {
            decodeSafetensors(c.bytes);
            return 'OK';
          } catch (e) {
            return (e as SafetensorsError).rule;
          }
        })();
        const async = await readSafetensors(bytesSource(c.bytes)).then(
          () => 'OK',
          (e: unknown) => (e instanceof SafetensorsError ? e.rule : `untyped ${String(e)}`),
        );
        expect([i, async]).toEqual([i, sync]);
      }
    }
    const wall = performance.now() - t0;
    const abGrowth = process.memoryUsage().arrayBuffers - ab0;
    expect(untyped).toEqual([]);
    expect(roundTripFailures).toBe(0);
    expect(maxMs).toBeLessThan(1000);
    expect(maxAllocRatio).toBeLessThanOrEqual(2);
    expect(abGrowth).toBeLessThan(64 * 2 ** 20);
    const accepted = [...byClass.values()].reduce((a, s) => a + s.accepted, 0);
    const table = [...byClass].map(([k, s]) => `${k} ${s.tried}/${s.accepted}`).join(', ');
    console.info(
      `P13 figure: ${cases.length} inputs in ${(wall / 1000).toFixed(1)} s, accepted ${accepted} (valid mutants, all round-trip), ` +
        `untyped errors 0, hangs 0, max ${maxMs.toFixed(1)} ms/input, max tensor bytes / file bytes ${maxAllocRatio.toFixed(2)}, ` +
        `${rules.size} distinct rules: ${[...rules].map(([r, n]) => `${r}=${n}`).join(' ')}\nby class (tried/accepted): ${table}`,
    );
  });
});
