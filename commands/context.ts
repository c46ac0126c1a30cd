import type { Ora } from 'ora';
import type { Progress, ProgressEvent } from '../src/progress.js';
import { toJson } from '../src/report/json.js';

/** The global flags every command accepts, before or after its name. */
export interface GlobalFlags {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  progress: boolean;
}

/**
 * What a command gets besides its own options: the global flags, a progress callback for the
 * library, and one way to print its result (JSON with --json, human text otherwise).
 */
export class Context {
  /** set once the command has printed its report, so a later failure prints no second document */
  reported = false;
  readonly progress: Progress;
  private spinner?: Ora;
  /** ora, loaded only when a spinner may be shown (it costs start-up time otherwise) */
  private ora?: typeof import('ora').default;

  constructor(readonly flags: GlobalFlags) {
    this.progress = (event) => this.onProgress(event);
    if (this.spinnerAllowed) void import('ora').then((m) => (this.ora = m.default));
  }

  /** Prints the result: one JSON document with --json, else `human(result)` unless --quiet. */
  render<T>(result: T, human: (result: T) => string): void {
    this.stopSpinner();
    if (this.flags.json) process.stdout.write(toJson(result));
    else if (!this.flags.quiet) process.stdout.write(`${human(result).trimEnd()}\n`);
    this.reported = true;
  }

  /** A user-facing remark on stderr (a fallback taken, a default chosen), unless --quiet. */
  note(message: string): void {
    if (this.flags.quiet) return;
    this.stopSpinner();
    process.stderr.write(`tdeploy: note: ${message}\n`);
  }

  finish(): void {
    this.stopSpinner();
  }

  private get spinnerAllowed(): boolean {
    const { json, quiet, progress } = this.flags;
    // A pseudo-terminal can report 0 columns (`script`, some containers); ora then clears an
    // infinite number of lines and never returns.
    const columns = process.stderr.columns ?? 0;
    return progress && !json && !quiet && process.stderr.isTTY === true && columns > 0 && process.env.CI !== 'true';
  }

  private onProgress(event: ProgressEvent): void {
    if (event.kind === 'note') this.note(event.message);
    else if (event.kind === 'log') {
      if (this.flags.verbose) {
        this.spinner?.clear();
        process.stderr.write(`${event.line}\n`);
        this.spinner?.render();
      }
    } else if (this.spinnerAllowed) {
      const pct = event.fraction === undefined ? '' : ` ${Math.round(event.fraction * 100)}%`;
      const text = `${event.phase}${pct}${event.detail ? ` — ${event.detail}` : ''}`;
      if (this.spinner) this.spinner.text = text;
      else if (this.ora) this.spinner = this.ora({ text, stream: process.stderr }).start();
    }
  }

  private stopSpinner(): void {
    this.spinner?.stop();
    this.spinner = undefined;
  }
}
