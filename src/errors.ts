/**
 * Typed errors: each carries the exit code the CLI returns for it, a short machine-readable kind
 * and an optional hint line. The library throws these; only the CLI turns them into output.
 */

export interface ErrorDetails {
  hint?: string;
  kind?: string;
  cause?: unknown;
}

export abstract class TdeployError extends Error {
  abstract readonly exitCode: 1 | 2 | 3;
  /** not readonly: a front end may respell the option names in it, as in the message */
  hint?: string;
  readonly kind: string;

  constructor(message: string, details: ErrorDetails = {}, defaultKind: string) {
    super(message, { cause: details.cause });
    this.hint = details.hint;
    this.kind = details.kind ?? defaultKind;
  }
}

/** Usage or input error: bad flag, missing/invalid file, names or shapes that do not fit the model. */
export class InputError extends TdeployError {
  readonly exitCode = 2;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'input');
  }
}

/** An external tool failed: Python/PyTorch, trtexec (missing, failed, timed out). */
export class ToolError extends TdeployError {
  readonly exitCode = 3;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'tool');
  }
}

/** A gate failed: accuracy drift, benchmark regression, repository validation problems. */
export class GateError extends TdeployError {
  readonly exitCode = 1;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'gate');
  }
}

/** Turns a Node.js file-system error into an InputError that names the file. */
export function fileError(file: string, error: unknown, what = 'file'): TdeployError {
  if (error instanceof TdeployError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reasons: Record<string, string> = {
    ENOENT: `${what} not found: ${file}`,
    EISDIR: `${what} is a directory, not a file: ${file}`,
    EACCES: `${what} is not readable (permission denied): ${file}`,
    ENOTDIR: `${what} path goes through something that is not a directory: ${file}`,
  };
  const message = (code && reasons[code]) ?? `cannot read ${what} ${file}: ${(error as Error)?.message ?? String(error)}`;
  return new InputError(message, { cause: error, kind: 'file' });
}
