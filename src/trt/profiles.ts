import { InputError } from '../errors.js';
import { type Dim, type TensorInfo, formatShape } from '../onnx/signature.js';
import { type ShapeSpec, checkSpec, resolveShapes } from '../runtime/shapes.js';
import { opt } from '../option-ref.js';

/** One input's optimization profile: the smallest, the tuned-for and the largest shape. */
export interface ShapeProfile {
  min: number[];
  opt: number[];
  max: number[];
}

const PICKS = ['min', 'opt', 'max'] as const;

/** Dims as trtexec writes them: `1x3x224x224`. */
export function formatDims(dims: number[]): string {
  return dims.join('x');
}

/**
 * Parses `name:MINxA,OPTxB,MAXxC` (three shapes) or `name:AxB` (one fixed shape). The name
 * ends at the last `:`, as in trtexec, so names with colons work.
 */
export function parseProfile(text: string): [string, ShapeProfile] {
  const at = text.lastIndexOf(':');
  const shapes = text.slice(at + 1).split(',');
  if (at <= 0 || (shapes.length !== 1 && shapes.length !== 3)) {
    throw new InputError(`${opt('profiles', text)}: expected name:MINxA,OPTxB,MAXxC or name:AxB, e.g. input_ids:1x16,8x128,32x512`, { kind: 'usage' });
  }
  const dims = shapes.map((s) => s.split('x').map((d) => {
    if (!/^\d+$/.test(d) || Number(d) < 1) throw new InputError(`${opt('profiles', text)}: '${d}' is not a positive integer`, { kind: 'usage' });
    return Number(d);
  }));
  const [min, optimum = min, max = min] = dims;
  return [text.slice(0, at), { min, opt: optimum, max }];
}

const isDynamic = (d: Dim) => typeof d !== 'number' || d < 0;

/**
 * The optimization profile of every input with dynamic dims: from `profiles`, else from `spec`
 * (its shapes fix one input each, its dims, as MIN,OPT,MAX, a symbolic dim wherever it appears). A dynamic input left without one is an error that lists them all.
 */
export function engineProfiles(inputs: TensorInfo[], profiles: Record<string, ShapeProfile>, spec: ShapeSpec): Record<string, ShapeProfile> {
  const names = inputs.map((i) => i.name);
  for (const name of Object.keys(profiles)) {
    if (!names.includes(name)) throw new InputError(`${opt('profiles')} names '${name}', which is not an input of the model`, { hint: `the inputs are ${names.join(', ')}` });
  }
  checkSpec(inputs, spec);
  for (const [dim, values] of Object.entries(spec.dims)) {
    if (values.length !== 1 && values.length !== 3) throw new InputError(`${opt('dims', dim)}: give one value or three (min,opt,max), not ${values.length}`, { kind: 'usage' });
  }
  const result: Record<string, ShapeProfile> = {};
  const missing: TensorInfo[] = [];
  const rest: TensorInfo[] = [];
  const covered = (d: Dim) => !isDynamic(d) || (typeof d === 'string' && spec.dims[d] !== undefined);
  for (const input of inputs) {
    const given = profiles[input.name];
    if (given) result[input.name] = checkProfile(input, given);
    else if (input.shape !== null && !input.shape.some(isDynamic)) continue;
    else if (spec.shapes[input.name] || input.shape?.every(covered)) rest.push(input);
    else missing.push(input);
  }
  if (missing.length) {
    const symbolic = [...new Set(missing.flatMap((i) => (i.shape ?? []).filter((d): d is string => typeof d === 'string' && !spec.dims[d])))];
    throw new InputError(`the model has dynamic inputs without a profile: ${missing.map((i) => `${i.name} ${formatShape(i.shape)}`).join(', ')}`, {
      kind: 'shapes',
      hint: symbolic.length
        ? `give min,opt,max for each dynamic dim, e.g. ${symbolic.map((d) => opt('dims', `${d}=1,8,32`)).join(' ')}, or ${opt('profiles', `${missing[0].name}:MINxA,OPTxB,MAXxC`)}`
        : `give ${opt('profiles', `${missing[0].name}:MINxA,OPTxB,MAXxC`)} (its unnamed dims cannot be set with ${opt('dims')})`,
    });
  }
  // resolveShapes checks every name it is given, so it gets only what concerns these inputs
  const restNames = new Set(rest.map((i) => i.name));
  const restDims = new Set(rest.flatMap((i) => i.shape ?? []));
  const restSpec: ShapeSpec = {
    shapes: Object.fromEntries(Object.entries(spec.shapes).filter(([name]) => restNames.has(name))),
    dims: Object.fromEntries(Object.entries(spec.dims).filter(([dim]) => restDims.has(dim))),
  };
  const resolved = PICKS.map((_, pick) => resolveShapes(rest, restSpec, pick).shapes);
  for (const input of rest) {
    const [min, opt, max] = resolved.map((shapes) => shapes.get(input.name)!);
    result[input.name] = checkProfile(input, { min, opt, max });
  }
  return result;
}

/** Same rank as the model, fixed dims kept, and min <= opt <= max on every axis. */
function checkProfile(input: TensorInfo, profile: ShapeProfile): ShapeProfile {
  const where = `the profile of '${input.name}'`;
  if (input.name.includes(',')) throw new InputError(`input '${input.name}': trtexec cannot take a shape for a name with a comma`);
  for (const pick of PICKS) {
    const dims = profile[pick];
    if (input.shape && dims.length !== input.shape.length) {
      throw new InputError(`${where}: ${pick} shape ${formatDims(dims)} has rank ${dims.length}, the model's input is ${formatShape(input.shape)}`);
    }
    input.shape?.forEach((d, axis) => {
      if (!isDynamic(d) && dims[axis] !== d) throw new InputError(`${where}: dim ${axis} is fixed to ${d} in the model, not ${dims[axis]} (${pick})`);
    });
  }
  profile.min.forEach((lo, axis) => {
    if (!(lo <= profile.opt[axis] && profile.opt[axis] <= profile.max[axis])) {
      throw new InputError(`${where}: dim ${axis} must grow min <= opt <= max, got ${lo}, ${profile.opt[axis]}, ${profile.max[axis]}`);
    }
  });
  return profile;
}
