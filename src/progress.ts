/**
 * How long-running library calls report what they are doing. The library never prints: the CLI
 * turns these events into a spinner (phases) and verbose output (logs). What a call wants its
 * user to know goes in its result's notes, not here.
 */
export type ProgressEvent =
  | { kind: 'phase'; phase: string; detail?: string; fraction?: number }
  | { kind: 'log'; line: string };

export type Progress = (event: ProgressEvent) => void;

export const silent: Progress = () => {};
