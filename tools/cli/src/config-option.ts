/**
 * @file `--config FILE` for every command: a JSON or YAML object whose keys are the command's
 * long options (`steps`, `out`, `solver` or `--steps`); flags given on the command line win.
 * Values go through the option's own parser, so a bad value fails as the flag would; an unknown
 * key is a ConfigError naming it and the allowed keys. Commands with a richer config (distill,
 * train-teacher) declare `--config` themselves and are left alone.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';

const camel = (flag: string): string => flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Adds `--config FILE` to every leaf command under `cmd` (unless it has one); the file is applied before the action runs. */
export function withConfigFile(cmd: Command): Command {
  if (cmd.commands.length > 0) {
    for (const sub of cmd.commands) withConfigFile(sub);
    return cmd;
  }
  if (cmd.options.some((o) => o.long === '--config')) return cmd;
  cmd.addOption(new Option('--config <file>', 'JSON or YAML object of this command\'s options (e.g. { "steps": 4 }); flags override it'));
  cmd.hook('preAction', async (thisCommand) => {
    const file = thisCommand.getOptionValue('config') as string | undefined;
    if (file === undefined) return;
    const { ConfigError } = await import('@fewstep/core');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new ConfigError('--config', file, 'a readable JSON or YAML file');
    }
    let raw: unknown;
    try {
      raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
    } catch (e) {
      throw new ConfigError('--config', file, 'valid JSON (.json) or YAML (.yaml / .yml)', (e as Error).message.split('\n')[0]);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config ${file}`, raw, 'an object of option names to values');
    const options = thisCommand.options.filter((o) => o.long && o.long !== '--config' && o.long !== '--help');
    const byName = new Map(options.map((o) => [camel(o.long!), o]));
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      const opt = byName.get(camel(key.startsWith('--') ? key : `--${key}`));
      if (!opt) throw new ConfigError(`config ${file}: ${key}`, value, `options of '${thisCommand.name()}': ${[...byName.keys()].join(', ')}`);
      const attr = opt.attributeName();
      const source = thisCommand.getOptionValueSource(attr);
      if (source === 'cli' || source === 'env') continue;
      let v: unknown = value;
      if (opt.parseArg && (typeof value === 'string' || typeof value === 'number')) {
        try {
          v = opt.parseArg(String(value), undefined as never);
        } catch (e) {
          throw new ConfigError(`config ${file}: ${key}`, value, (e as Error).message);
        }
      }
      thisCommand.setOptionValueWithSource(attr, v, 'config');
    }
  });
  return cmd;
}
