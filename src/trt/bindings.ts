import type { Dtype } from '../tensor/dtype.js';
import type { ShapeProfile } from './profiles.js';

/**
 * An engine's inputs and outputs as far as a trtexec log tells them. What each release prints:
 * - every run with inference: each binding's name and the dims it ran at; the dtype only from
 *   10.16 (`Input binding for x with dimensions 1x1x28x28 and type fp32 is created.`);
 * - a `--verbose` build: each network input with its dtype and dims, -1 where dynamic
 *   (`Adding network input: x with dtype: float32, dimensions: (-1, 1, 28, 28)`), and each
 *   output's name (`Marking y_0 as output: y`), without dtype or dims;
 * - the options header: the optimization profile of each input given shapes.
 * A build without inference and without trtexec's --verbose prints no binding at all.
 */
export interface EngineBinding {
  name: string;
  io: 'input' | 'output';
  /** null when the log does not say */
  dtype: Dtype | null;
  /** the network's dims, -1 where dynamic (verbose builds, inputs only) */
  networkShape: number[] | null;
  /** the dims the inference run bound */
  inferenceShape: number[] | null;
  /** inputs built with an optimization profile */
  profile: ShapeProfile | null;
}

/** TensorRT's type names (console, verbose log, layer-info JSON) in numpy's words. */
const TRT_DTYPES: Record<string, Dtype> = {
  fp32: 'float32', float32: 'float32', float: 'float32',
  fp16: 'float16', float16: 'float16', half: 'float16',
  bf16: 'bfloat16', bfloat16: 'bfloat16',
  int8: 'int8', uint8: 'uint8', int32: 'int32', int64: 'int64', bool: 'bool',
  fp8: 'float8e4m3fn', int4: 'int4', fp4: 'float4e2m1',
};

export function trtDtype(name: string): Dtype | null {
  return TRT_DTYPES[name.toLowerCase()] ?? null;
}

export interface BindingFacts {
  network: Map<string, { dtype: Dtype | null; dims: number[] }>;
  outputs: string[];
  bound: Map<string, { io: 'input' | 'output'; dims: number[]; dtype: Dtype | null }>;
}

export const emptyFacts = (): BindingFacts => ({ network: new Map(), outputs: [], bound: new Map() });

/** Dims as trtexec prints them: `4x1x28x28`, `-1, 1, 28, 28`, or nothing for a scalar. */
export const parseDims = (text: string) => (text === '' ? [] : text.split(/x|,\s*/).map(Number));

const BINDING_LINES: [RegExp, (facts: BindingFacts, m: RegExpExecArray) => void][] = [
  // 8.x
  [/^Created (input|output) binding for (.+) with dimensions (\S*)$/, (f, m) => {
    f.bound.set(m[2], { io: m[1] as 'input' | 'output', dims: parseDims(m[3]), dtype: null });
  }],
  // 10.x; "and type fp32" from 10.16
  [/^(Input|Output) binding for (.+) with dimensions (\S*?)(?: and type (\w+))? is created\.$/, (f, m) => {
    f.bound.set(m[2], { io: m[1].toLowerCase() as 'input' | 'output', dims: parseDims(m[3]), dtype: m[4] ? trtDtype(m[4]) : null });
  }],
  [/^\[TRT\] Adding network input: (.+) with dtype: (\w+), dimensions: \(([^)]*)\)$/, (f, m) => {
    f.network.set(m[1], { dtype: trtDtype(m[2]), dims: parseDims(m[3]) });
  }],
  [/^\[TRT\] Marking .+ as output: (.+)$/, (f, m) => {
    if (!f.outputs.includes(m[1])) f.outputs.push(m[1]);
  }],
];

/** Reads one message if it states a binding. */
export function bindingLine(facts: BindingFacts, text: string): boolean {
  for (const [pattern, apply] of BINDING_LINES) {
    const m = pattern.exec(text);
    if (m) {
      apply(facts, m);
      return true;
    }
  }
  return false;
}

/** Inputs, then outputs, in the order the log first names them (inputs with a profile count as named). */
export function assembleBindings(facts: BindingFacts, profiles: Record<string, ShapeProfile>): EngineBinding[] {
  const names = (io: 'input' | 'output') => [
    ...(io === 'input' ? facts.network.keys() : facts.outputs),
    ...[...facts.bound].filter(([, b]) => b.io === io).map(([name]) => name),
    ...(io === 'input' ? Object.keys(profiles) : []),
  ];
  const binding = (name: string, io: 'input' | 'output'): EngineBinding => {
    const network = io === 'input' ? facts.network.get(name) : undefined;
    const bound = facts.bound.get(name);
    return {
      name,
      io,
      dtype: bound?.dtype ?? network?.dtype ?? null,
      networkShape: network?.dims ?? null,
      inferenceShape: bound?.dims ?? null,
      profile: profiles[name] ?? null,
    };
  };
  return (['input', 'output'] as const).flatMap((io) => [...new Set(names(io))].map((name) => binding(name, io)));
}
