/**
 * fewstep's error hierarchy (STYLE.md G18). Every message states what went wrong, the offending
 * value, the allowed values and the fix. Wrapped errors keep their `cause`.
 */
export class FewstepError extends Error {
  /** Stable machine-readable code, e.g. `E_UNKNOWN_PLUGIN`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

function list(values: readonly string[]): string {
  return values.length === 0 ? '(none registered)' : values.map((v) => `'${v}'`).join(', ');
}

function plural(noun: string): string {
  return /(s|x|ch|sh)$/.test(noun) ? `${noun}es` : `${noun}s`;
}

/** A registry lookup for a name nobody registered. */
export class UnknownPluginError extends FewstepError {
  constructor(
    readonly kind: string,
    readonly requested: string,
    readonly known: readonly string[],
  ) {
    super(
      'E_UNKNOWN_PLUGIN',
      `Unknown ${kind} '${requested}'. Known ${plural(kind)}: ${list(known)}. ` +
        `Fix: check the spelling, or register it first (install the plugin package and add its module).`,
    );
  }
}

/** A configuration value that does not validate. */
export class ConfigError extends FewstepError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
    fix?: string,
  ) {
    super(
      'E_CONFIG',
      `Invalid value for '${field}': ${JSON.stringify(value)}. Allowed: ${allowed}.` + (fix ? ` Fix: ${fix}` : ''),
    );
  }
}

/** A tensor whose shape (or rank) is not what an operation requires. */
export class ShapeError extends FewstepError {
  constructor(
    readonly what: string,
    readonly found: readonly number[],
    readonly expected: string,
    fix?: string,
  ) {
    super(
      'E_SHAPE',
      `${what} has shape [${found.join(', ')}], expected ${expected}.` + (fix ? ` Fix: ${fix}` : ''),
    );
  }
}

/** The requested compute backend cannot be used on this machine. */
export class BackendUnavailableError extends FewstepError {
  constructor(
    readonly backend: string,
    readonly reason: string,
    readonly allowed: readonly string[],
    fix: string,
  ) {
    super(
      'E_BACKEND_UNAVAILABLE',
      `Backend '${backend}' is not available: ${reason}. Allowed values of FEWSTEP_BACKEND: ${list(allowed)}. Fix: ${fix}`,
    );
  }
}

/** A module's lifecycle hook failed; names the module and the hook, keeps the cause. */
export class ModuleLifecycleError extends FewstepError {
  constructor(
    readonly moduleName: string,
    readonly hook: 'register' | 'initialize' | 'shutdown',
    cause: unknown,
  ) {
    const inner = cause instanceof Error ? cause.message : String(cause);
    super('E_MODULE_LIFECYCLE', `Error during call to '${hook}' in module '${moduleName}':\n  ${inner.replace(/\n/g, '\n  ')}`, {
      cause,
    });
  }
}

/** One named tensor whose shape differs from the variable it should bind to. */
export interface ShapeMismatch {
  readonly name: string;
  readonly found: readonly number[];
  readonly expected: readonly number[];
}

/**
 * Named tensors that do not match the variables they should bind to: strict weight loading,
 * `Network.assign`, optimizer or EMA state restore. Lists every missing, unexpected and
 * mis-shaped name at once (the first 20 of each); nothing was assigned.
 */
export class StateMismatchError extends FewstepError {
  constructor(
    readonly what: string,
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
    readonly shapeMismatches: readonly ShapeMismatch[],
    fix: string,
  ) {
    const cap = <T>(xs: readonly T[], f: (x: T) => string): string =>
      xs.slice(0, 20).map(f).join(', ') + (xs.length > 20 ? `, ... (${xs.length - 20} more)` : '');
    const lines = [
      `${what}: ${missing.length} missing, ${unexpected.length} unexpected, ${shapeMismatches.length} shape mismatch(es); nothing was assigned.`,
    ];
    if (missing.length > 0) lines.push(`  missing (expected but not found): ${cap(missing, (n) => `'${n}'`)}`);
    if (unexpected.length > 0) lines.push(`  unexpected (found but not expected): ${cap(unexpected, (n) => `'${n}'`)}`);
    if (shapeMismatches.length > 0) {
      lines.push(
        `  shape: ${cap(shapeMismatches, (m) => `'${m.name}' found [${m.found.join(', ')}], expected [${m.expected.join(', ')}]`)}`,
      );
    }
    lines.push(`Fix: ${fix}`);
    super('E_STATE_MISMATCH', lines.join('\n'));
  }
}
