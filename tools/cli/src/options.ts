import { InvalidArgumentError } from 'commander';

/** A commander parser for integers >= min that names the flag and the bad value. */
export function intOption(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'.`);
    return n;
  };
}
