import { type Command, Option } from 'commander';
import { InputError } from '../../src/errors.js';
import type { ShapeSpec } from '../../src/runtime/shapes.js';
import { collect } from './collect.js';

/**
 * The shape argument group, shared by check, bench, quantize and engine so that `--dim batch=8`
 * means the same everywhere. How many values a dim may carry is the command's choice:
 * one (check), a sweep (bench), or min,opt,max (engine).
 */
export function addShapeOptions(
  command: Command,
  dimHelp = 'set a symbolic dimension wherever it appears, e.g. batch=8',
  shapeHelp = "fix one input's shape, e.g. input_ids:2x16",
): Command {
  return command
    .addOption(new Option('--shape <name:dims>', `${shapeHelp}`).argParser(collect))
    .addOption(new Option('--dim <name=values>', `${dimHelp}`).argParser(collect));
}

export interface ShapeFlags {
  shape?: string[];
  dim?: string[];
}

export function shapeSpec(raw: ShapeFlags, values: { min?: number; max?: number } = {}): ShapeSpec {
  const spec: ShapeSpec = { shapes: {}, dims: {} };
  for (const item of raw.shape ?? []) {
    const at = item.lastIndexOf(':');
    if (at <= 0) throw new InputError(`--shape ${item}: expected name:dims, e.g. input_ids:2x16`, { kind: 'usage' });
    const dims = item.slice(at + 1);
    const name = item.slice(0, at);
    if (/^\d+(,\d+)+$/.test(dims)) {
      throw new InputError(`--shape ${item}: dims are separated by x here`, { kind: 'usage', hint: `--shape ${name}:${dims.replaceAll(',', 'x')} (perf_analyzer's --shape takes commas; tdeploy writes shapes as trtexec does)` });
    }
    if (spec.shapes[name]) throw repeated(`--shape ${item}`, name, spec.shapes[name].join('x'), 'one --shape per input');
    spec.shapes[name] = dims === '' ? [] : dims.split('x').map((d) => positive(d, `--shape ${item}`));
  }
  for (const item of raw.dim ?? []) {
    const at = item.lastIndexOf('=');
    if (at <= 0) throw new InputError(`--dim ${item}: expected name=value, e.g. batch=8`, { kind: 'usage' });
    const list = item.slice(at + 1).split(',').map((d) => positive(d, `--dim ${item}`));
    const { min = 1, max = Infinity } = values;
    if (list.length < min || list.length > max) {
      const wanted = min === max ? `${min === 1 ? 'one value' : `${min} values`}` : `${min} to ${max} values`;
      throw new InputError(`--dim ${item}: expected ${wanted}, got ${list.length}`, { kind: 'usage' });
    }
    const name = item.slice(0, at);
    if (spec.dims[name]) {
      const hint = max === Infinity ? `one --dim per dimension; a comma list sweeps it, e.g. ${name}=${[...spec.dims[name], ...list].join(',')}` : 'one --dim per dimension';
      throw repeated(`--dim ${item}`, name, spec.dims[name].join(','), hint);
    }
    spec.dims[name] = list;
  }
  return spec;
}

function positive(text: string, where: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || !Number.isSafeInteger(n)) throw new InputError(`${where}: '${text}' is not a positive integer`, { kind: 'usage' });
  return n;
}

/** A second value for the same name would silently replace the first. */
function repeated(where: string, name: string, first: string, hint: string): InputError {
  return new InputError(`${where}: '${name}' is already set to ${first}`, { kind: 'usage', hint });
}
