/**
 * How the library names one of its options in errors, hints, notes and reasons: by the option's
 * key in backticks, with the value where one matters (`maxDriftCosine`, `fuse: false`). A library
 * caller reads the key it passes; each front end respells the references its own way: the CLI as
 * its flags, the run config as key paths (quantize[1].maxDriftCosine).
 */

export type OptionValue = string | number | boolean;

export function opt(key: string, value?: OptionValue): string {
  return value === undefined ? `\`${key}\`` : `\`${key}: ${value}\``;
}

/** A front end's spelling of one reference; the value is the text after `key: `, if any. */
export type Speller = (key: string, value: string | undefined) => string;

const REFERENCE = /`([a-z][A-Za-z0-9]*)(?:: ([^`]+))?`/g;

export function respell(text: string, spell: Speller): string {
  return text.replace(REFERENCE, (_, key: string, value: string | undefined) => spell(key, value));
}

/** Every string inside `value` (a report, nested objects and arrays) respelt; everything else as it was. */
export function respellAll<T>(value: T, spell: Speller): T {
  if (typeof value === 'string') return respell(value, spell) as T;
  if (Array.isArray(value)) return value.map((v) => respellAll(v, spell)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, respellAll(v, spell)])) as T;
  }
  return value;
}

/** The spelling for library callers: the key as written, `key: value` with a value. */
export const keySpelling: Speller = (key, value) => (value === undefined ? key : `${key}: ${value}`);
