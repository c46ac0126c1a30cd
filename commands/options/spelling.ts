import type { Speller } from '../../src/option-ref.js';

/** Option keys whose flag is not the key in kebab case. */
const FLAGS: Record<string, string> = {
  shapes: '--shape',
  dims: '--dim',
  perOutput: '--tolerance',
  graphOptimization: '--graph-opt',
  blockOps: '--block-op',
  blockNodes: '--block-node',
  excludeNodes: '--exclude-node',
  labels: '--label',
  exampleDims: '--example-dim',
  workspaceMiB: '--workspace',
  profiles: '--shapes',
  timeoutMs: '--timeout',
  durationS: '--duration',
  p95Ms: '--p95',
};

/** Where one command spells a key unlike the others. */
const BY_COMMAND: Record<string, Record<string, string>> = {
  convert: { inputs: '--input', output: '-o' },
  quantize: { output: '-o' },
  engine: { output: '-o', profiles: '--shape' },
};

/** The flag an option key comes from: `maxBatchSize` → `--max-batch-size`. */
export function flagName(key: string, command?: string): string {
  return BY_COMMAND[command ?? '']?.[key] ?? FLAGS[key] ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * The CLI's spelling of the library's option references: `fuse: false` is --no-fuse,
 * `precision: fp16` is --fp16, `to: int8` is --to int8, `extra: --verbose` is --extra=--verbose.
 */
export function flagSpeller(command?: string): Speller {
  return (key, value) => {
    const flag = flagName(key, command);
    if (key === 'precision' && value !== undefined) return `--${value}`;
    if (value === undefined || value === 'true') return flag;
    if (value === 'false' && flag.startsWith('--')) return `--no-${flag.slice(2)}`;
    return value.startsWith('-') ? `${flag}=${value}` : `${flag} ${value}`;
  };
}
