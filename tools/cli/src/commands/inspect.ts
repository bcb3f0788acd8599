import { Command } from 'commander';
import { makeOutput } from '../output.js';

/** `fewstep inspect FILE`: validate a safetensors file (or sharded index) and print its header. */
export function inspectCommand(): Command {
  return new Command('inspect')
    .description('validate a .safetensors file (or a *.safetensors.index.json) reading only headers; print names, dtypes, shapes, bytes')
    .argument('<file>', 'a .safetensors file or a sharded checkpoint index')
    .option('--json', 'print one JSON object')
    .action(async (file: string, opts: { json?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const { summarizeSafetensors, formatSafetensorsSummary } = await import('@fewstep/core');
      const summary = await summarizeSafetensors(file);
      out.text(formatSafetensorsSummary(summary));
      out.result({
        ...summary,
        metadata: summary.metadata === null ? null : Object.fromEntries(summary.metadata),
      });
    });
}
