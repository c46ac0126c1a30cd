import type { z } from 'zod';

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
