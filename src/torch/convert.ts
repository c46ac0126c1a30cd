import path from 'node:path';
import type { CheckReport } from '../accuracy/check.js';
import type { GateOptions } from '../accuracy/compare.js';
import { InputError } from '../errors.js';
import { OutputSet, removeIfFails } from '../io/atomic.js';
import type { TensorInfo } from '../onnx/signature.js';
import { type Progress, silent } from '../progress.js';
import { generatedRoles } from '../runtime/inputs.js';
import { readNpz, writeNpz } from '../tensor/npz.js';
import type { Delivered } from './deliver.js';
import { type ExportResult, runExport } from './export.js';
import { type InputSpec, asTensorInfo, checkName, checkSpecs, exampleShapes, generateExamples, specsFromExamples } from './inputs.js';
import { CONVERT_GATE } from './gate.js';
import { choosePython } from './python.js';
import { resolveSource } from './source.js';
import { opt } from '../option-ref.js';

export interface ConvertOptions {
  /** the ONNX file to write, `<out>.onnx`; the reference data goes to `<out>.reference.npz` */
  output: string;
  inputs?: InputSpec[];
  /** sizes for symbolic dims in the generated example inputs */
  exampleDims?: Record<string, number>;
  /** .npz with the example inputs instead of generated ones */
  exampleInputs?: string;
  outputNames?: string[];
  /** default: the highest opset the installed torch exports */
  opset?: number;
  /** the interpreter (default: TDEPLOY_PYTHON, else python3) */
  python?: string;
  /** folders to import `package.module:factory` sources from */
  pythonPath?: string[];
  timeoutMs?: number;
  /** the accuracy gate for the check against torch's outputs (default CONVERT_GATE), or false for none */
  check?: GateOptions | false;
}

export interface ConvertReport {
  output: string;
  reference: string;
  opset: number;
  torch: string;
  python: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** set when the model is over protobuf's 2 GB limit and its weights live in this file */
  dataFile?: string;
  /** the check of the written model against torch's outputs; null with check: false */
  check: CheckReport | null;
  seconds: number;
  /** example dims that tracing may freeze, inputs torch dropped */
  notes: string[];
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/**
 * Converts a PyTorch model to ONNX through the user's Python: one template run loads the model,
 * runs it on the example inputs for the reference outputs and exports it. The model must load
 * in onnxruntime before anything appears at the destination, and the ONNX file, its external data
 * (if any) and the reference data appear together or not at all.
 */
export async function convert(source: string, options: ConvertOptions, progress: Progress = silent): Promise<ConvertReport> {
  const started = performance.now();
  // Paths are reported as the user gave them, like check reports them.
  const output = options.output;
  if (!output.endsWith('.onnx')) throw new InputError(`${opt('output', output)}: the output file must end with .onnx`, { kind: 'usage' });
  const reference = output.replace(/\.onnx$/, '.reference.npz');
  const from = resolveSource(source);
  checkSpecs(options.inputs ?? []);
  for (const [index, name] of (options.outputNames ?? []).entries()) {
    checkName(name, opt('outputNames'));
    // torch would rename the second copy, and the check would then miss it after the files were written.
    if (options.outputNames!.indexOf(name) < index) throw new InputError(`${opt('outputNames')}: '${name}' is given twice`, { kind: 'usage' });
  }
  if (options.exampleInputs && Object.keys(options.exampleDims ?? {}).length > 0) {
    throw new InputError(`${opt('exampleDims')} sets the size of generated inputs; it cannot apply to ${opt('exampleInputs')}`, { kind: 'usage' });
  }
  const python = choosePython(options.python);

  // The work folder sits beside the destination so that moving the model into place is a rename.
  // It is never committed: abort() removes it, and so does Ctrl-C.
  const scratch = new OutputSet();
  let written: { exported: ExportResult; delivered: Delivered; after: typeof import('./deliver.js'); notes: string[] };
  try {
    const work = await scratch.folder(path.join(path.dirname(output), `${path.basename(output)}.export`));
    const { specs, examples, notes } = await prepareExamples(options, work, progress);
    const onnx = path.join(work, 'model.onnx');
    written = await new OutputSet().run(async (set) => {
      progress({ kind: 'phase', phase: `exporting with ${python.command}` });
      const exporting = runExport(python, {
        source: from, pythonPath: (options.pythonPath ?? []).map((p) => path.resolve(p)), inputs: specs, examples,
        outputNames: options.outputNames, opset: options.opset, onnx, reference: await set.temp(reference),
      }, { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, progress });
      // Python has started; onnxruntime, the ONNX reader and the check load while it imports torch.
      const delivering = import('./deliver.js');
      const exported = await exporting;
      const steps = Object.entries(exported.timings).map(([step, s]) => `${step} ${s.toFixed(2)} s`).join(', ');
      const versions = `torch ${exported.torch}${exported.onnx ? `, onnx ${exported.onnx}` : ''}`;
      const opsets = exported.opsets ? ` of ${exported.opsets.join('-')}` : '';
      progress({ kind: 'log', line: `${versions} (${exported.python}), ${exported.format}, opset ${exported.opset ?? 'torch default'}${opsets}: ${steps}` });
      const after = await delivering;
      return { exported, delivered: await after.deliver(onnx, output, set, specs, progress), after, notes };
    });
  } finally {
    await scratch.abort();
  }
  const { exported, delivered, after, notes } = written;
  const gate = options.check ?? CONVERT_GATE;
  const checked = gate ? await removeIfFails(after.checkConverted(output, reference, gate, progress), [output, reference, delivered.dataFile]) : null;
  return {
    output, reference, opset: delivered.opset ?? exported.opset ?? 0, torch: exported.torch, python: exported.python,
    inputs: delivered.inputs, outputs: delivered.outputs, ...(delivered.dataFile ? { dataFile: path.join(path.dirname(output), path.basename(delivered.dataFile)) } : {}),
    check: checked, seconds: (performance.now() - started) / 1000, notes: [...notes, ...delivered.notes],
  };
}

async function prepareExamples(options: ConvertOptions, work: string, progress: Progress): Promise<{ specs: InputSpec[]; examples: string; notes: string[] }> {
  let specs = options.inputs ?? [];
  let shapes: Map<string, number[]>;
  let examples: string;
  if (options.exampleInputs) {
    const tensors = await readNpz(options.exampleInputs);
    specs = specsFromExamples(specs, tensors, options.exampleInputs);
    shapes = new Map(specs.map((s) => [s.name, tensors.get(s.name)!.shape]));
    examples = path.resolve(options.exampleInputs);
  } else {
    shapes = exampleShapes(specs, options.exampleDims ?? {});
    examples = path.join(work, 'examples.npz');
    // With no inputs declared the template still runs, to say what forward expects.
    if (specs.length > 0) await writeNpz(examples, generateExamples(specs, options.exampleDims ?? {}));
    const roles = generatedRoles(specs.map(asTensorInfo));
    const sizes = specs.map((s) => `${s.name} [${shapes.get(s.name)!.join(', ')}]`).join(', ');
    progress({ kind: 'log', line: `generated example inputs: ${sizes}${roles.length ? ` (${roles.join(', ')})` : ''}` });
  }
  const ones = new Set(specs.flatMap((s) => s.dims.filter((d, axis) => typeof d === 'string' && shapes.get(s.name)![axis] === 1)));
  const notes = [...ones].map((dim) => `the example has ${dim}=1: tracing may fix that dim to 1 in the model; export with 2 or more`);
  return { specs, examples, notes };
}
