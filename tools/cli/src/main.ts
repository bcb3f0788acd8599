import { Command, CommanderError } from 'commander';
import { benchCommand } from './commands/bench.js';
import { demoCommand } from './commands/demo.js';
import { inspectCommand } from './commands/inspect.js';
import { sampleCommand } from './commands/sample.js';
import { evalCommand } from './commands/eval.js';
import { distillCommand } from './commands/distill.js';
import { trainTeacherCommand } from './commands/train-teacher.js';
import { trainFeaturesCommand } from './commands/train-features.js';
import { trajectoriesCommand } from './commands/trajectories.js';
import { withConfigFile } from './config-option.js';

/** Builds the `fewstep` program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('fewstep')
    .description('Distill diffusion models (video first, images too) into few-step generators.')
    .version('0.1.0')
    .option('--backend <name>', 'compute backend: tensorflow | webgpu | wasm | cpu (default: FEWSTEP_BACKEND, else the fastest available)')
    .hook('preAction', (cmd) => {
      const backend = cmd.opts<{ backend?: string }>().backend;
      if (backend) process.env['FEWSTEP_BACKEND'] = backend;
    })
    .showHelpAfterError();
  program.addCommand(demoCommand());
  program.addCommand(trainTeacherCommand());
  program.addCommand(distillCommand());
  program.addCommand(sampleCommand());
  program.addCommand(trajectoriesCommand());
  program.addCommand(evalCommand());
  program.addCommand(trainFeaturesCommand());
  program.addCommand(benchCommand());
  program.addCommand(inspectCommand());
  for (const cmd of program.commands) withConfigFile(cmd);
  return program;
}

/** fewstep's typed errors (FewstepError and its kind) carry an `E_*` code; their message is the whole story. */
function isTypedError(err: unknown): err is Error & { code: string } {
  const code: unknown = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('E_');
}

/** Runs the CLI; returns the process exit code. Typed fewstep errors print their message only. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (isTypedError(err)) {
      process.stderr.write(`fewstep: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
