import type { z } from 'zod';
import { InputError } from '../../src/errors.js';

/** Validates a command's raw options with its zod schema; the first problem becomes a usage error naming the flag. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue.path.find((p): p is string => typeof p === 'string');
  const flag = key ? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : 'options';
  throw new InputError(`${flag}: ${issue.message}`, { kind: 'usage' });
}

/** commander collector for repeatable options: `--shape a:1x2 --shape b:3`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
