/** Where commands write: `--json` prints exactly one JSON object on stdout, humans get text. */
export interface Output {
  json: boolean;
  /** Human-readable text on stdout (suppressed with --json). */
  text(line: string): void;
  /** The single JSON object for --json. */
  result(value: unknown): void;
  /** Progress and diagnostics: always stderr. */
  progress(line: string): void;
}

export function makeOutput(json: boolean): Output {
  return {
    json,
    text: (line) => {
      if (!json) process.stdout.write(line + '\n');
    },
    result: (value) => {
      if (json) process.stdout.write(JSON.stringify(value) + '\n');
    },
    progress: (line) => process.stderr.write(line + '\n'),
  };
}
