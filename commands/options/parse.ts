import type { z } from 'zod';
import { InputError } from '../../src/errors.js';
import { plainIssue } from '../../src/validation.js';

/** Validates a command's raw options with its zod schema; the first problem becomes a usage error naming the flag. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const result = schema.safeParse(raw, { error: plainIssue });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue.path.find((p): p is string => typeof p === 'string');
  const flag = key ? flagName(key) : 'options';
  throw new InputError(`${flag}: ${issue.message}`, { kind: 'usage' });
}

/** commander collector for repeatable options: `--shape a:1x2 --shape b:3`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The flag an option key comes from: `maxBatchSize` → `--max-batch-size`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
