import type { z } from 'zod';
import { InputError } from './errors.js';
import { opt } from './option-ref.js';

const NUMERIC = new Set(['number', 'int', 'bigint']);

/**
 * Zod's default wording for the commonest mistakes in flags and config files ("Too small:
 * expected number to be >0") said plainly. Given to safeParse as `error`, it replaces only the
 * messages a schema did not write itself; undefined keeps zod's.
 */
export function plainIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'too_small':
      return NUMERIC.has(issue.origin) ? `must be ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}` : undefined;
    case 'too_big':
      return NUMERIC.has(issue.origin) ? `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}` : undefined;
    case 'invalid_type':
      return issue.expected === 'int' ? 'expected a whole number' : issue.expected === 'number' ? 'expected a number' : undefined;
    default:
      return undefined;
  }
}

/**
 * Validates options with their zod schema; the first problem becomes a usage error naming the
 * option, which each front end respells (a flag, a config key).
 */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const result = schema.safeParse(raw, { error: plainIssue });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue.path.find((p): p is string => typeof p === 'string');
  throw new InputError(`${key ? opt(key) : 'options'}: ${issue.message}`, { kind: 'usage' });
}
