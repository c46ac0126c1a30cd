/**
 * How long-running library calls report what they are doing. The library never prints: the CLI
 * turns these events into a spinner (phases), verbose output (logs) and warnings (notes).
 */
export type ProgressEvent =
  | { kind: 'phase'; phase: string; detail?: string; fraction?: number }
  | { kind: 'log'; line: string }
  | { kind: 'note'; message: string };

export type Progress = (event: ProgressEvent) => void;

export const silent: Progress = () => {};
