import type { Ora } from 'ora';
import { type Speller, respellAll } from '../src/option-ref.js';
import type { Progress, ProgressEvent } from '../src/progress.js';
import type { Format, ReportDocument, TabularDocument } from '../src/report/document.js';
import { setTableWidth } from '../src/report/format.js';
import { renderJson } from '../src/report/json.js';
import { render, renderText } from '../src/report/render.js';

/** The global flags every command accepts, before or after its name. */
export interface GlobalFlags {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  progress: boolean;
}

/**
 * What a command gets besides its own options: the global flags, a progress callback for the
 * library, its spelling of the library's option references, and one way to print its result:
 * notes on stderr, then JSON with --json, human text otherwise.
 */
export class Context {
  /** set once the command has printed its report, so a later failure prints no second document */
  reported = false;
  /** notes of the command itself (a deprecated flag), printed with its report's */
  readonly notes: string[] = [];
  readonly progress: Progress;
  private spinner?: Ora;
  /** ora, loaded only when a spinner may be shown (it costs start-up time otherwise) */
  private ora?: typeof import('ora').default;

  constructor(readonly flags: GlobalFlags, readonly spell: Speller) {
    this.progress = (event) => this.onProgress(event);
    // Tables fit the terminal they are shown in; a file or a pipe gets them whole.
    setTableWidth(process.stdout.isTTY ? process.stdout.columns : undefined);
    if (this.spinnerAllowed) void import('ora').then((m) => (this.ora = m.default));
  }

  /** The command's document of `result`, the library's option references spelt as this command's flags. */
  document<R, D extends ReportDocument<R>>(result: R, build: (result: R) => D): D {
    return build(respellAll(result, this.spell));
  }

  /**
   * Prints a document: its notes on stderr unless --quiet, then one JSON document with --json,
   * else its text (or, for a document with rows, any format). --quiet keeps the result: the
   * document's verdict where it has one, else its text.
   */
  print(doc: ReportDocument): void;
  print(doc: TabularDocument, format: Format): void;
  print(doc: ReportDocument, format: Format = 'table'): void {
    this.stopSpinner();
    // The document's notes are usually its data's too, so these reach the JSON as well.
    doc.notes.unshift(...this.notes.splice(0));
    if (!this.flags.quiet) for (const note of doc.notes) process.stderr.write(`tdeploy: note: ${note}\n`);
    if (this.flags.json) process.stdout.write(renderJson(doc));
    else if (format !== 'table') process.stdout.write(render(format, doc as TabularDocument));
    else process.stdout.write(this.flags.quiet && doc.brief ? `${doc.brief()}\n` : renderText(doc));
    this.reported = true;
  }

  render<R>(result: R, build: (result: R) => ReportDocument<R>): void {
    this.print(this.document(result, build));
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
    if (event.kind === 'log') {
      if (this.flags.verbose) {
        this.spinner?.clear();
        process.stderr.write(`${event.line}\n`);
        this.spinner?.render();
      }
    } else if (this.spinnerAllowed) {
      const pct = event.fraction === undefined ? '' : ` ${Math.round(event.fraction * 100)}%`;
      const text = `${event.phase}${pct}${event.detail ? ` — ${event.detail}` : ''}`;
      if (this.spinner) this.spinner.text = text;
      else if (this.ora) this.spinner = this.ora({ text, stream: process.stderr, discardStdin: false }).start();
    }
  }

  private stopSpinner(): void {
    this.spinner?.stop();
    this.spinner = undefined;
  }
}
