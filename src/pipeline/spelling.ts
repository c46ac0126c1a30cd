/**
 * The run config's spelling of the library's option references: inside a step, a key the step's
 * section of the config has is named by its path there (`quantize[1].maxDriftCosine`), so a config
 * user is told which line to change; other keys are named as they are.
 */
import { TdeployError } from '../errors.js';
import { type Speller, respell } from '../option-ref.js';

/** Library keys the config names otherwise. */
const CONFIG_KEYS: Record<string, string> = {
  perOutput: 'tolerance',
  shapes: 'dims',
  timeoutMs: 'timeoutSeconds',
  durationS: 'durationSeconds',
  labels: 'models',
};

/** A section of the config: its path (empty for the top level) and the keys it has. */
export interface Section {
  path: string;
  keys: readonly string[];
}

export function configSpeller(sections: Section[]): Speller {
  return (key, value) => {
    const name = CONFIG_KEYS[key] ?? key;
    const section = sections.find((s) => s.keys.includes(name));
    const where = section?.path ? `${section.path}.${name}` : name;
    return value === undefined ? where : `${where}: ${value}`;
  };
}

/** An error of the library with its message and hint respelt and `prefix` before the message, in place. */
export function respellError(error: unknown, spell: Speller, prefix: string): unknown {
  if (!(error instanceof TdeployError)) return error;
  error.message = `${prefix}${respell(error.message, spell)}`;
  if (error.hint !== undefined) error.hint = respell(error.hint, spell);
  return error;
}
