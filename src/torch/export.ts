import { fileURLToPath } from 'node:url';
import { InputError, ToolError, type TdeployError } from '../errors.js';
import { runTool } from '../process/runner.js';
import { type Progress, silent } from '../progress.js';
import type { InputSpec } from './inputs.js';
import { type PythonChoice, TORCH_INSTALL, pythonsWithTorch } from './python.js';
import { opt } from '../option-ref.js';

/** What templates/export_onnx.py is asked to do (passed as one JSON argument). */
export interface ExportRequest {
  source: { path: string } | { factory: string };
  /** folders put first on sys.path, for factories */
  pythonPath: string[];
  inputs: InputSpec[];
  /** .npz holding one example tensor per input */
  examples: string;
  outputNames?: string[];
  opset?: number;
  /** where torch writes the model (its folder also receives torch's external-data files) */
  onnx: string;
  /** where the example inputs and torch's outputs go */
  reference: string;
}

export interface ExportResult {
  format: 'torchscript' | 'export' | 'factory';
  opset: number | null;
  /** the opsets this torch's exporter supports, when it says */
  opsets: [number, number] | null;
  /** seconds spent in each step inside Python */
  timings: Record<string, number>;
  torch: string;
  onnx: string | null;
  python: string;
  pythonVersion: string;
}

interface ExportFailure {
  ok: false;
  kind: string;
  message: string;
  hint?: string | null;
  python: string;
  pythonVersion: string;
}

type Reply = ({ ok: true } & ExportResult) | ExportFailure;

/** The template's failure kinds and the exit code each means: 2 for what the user gave, 3 for Python/torch. */
const FAILURE_EXIT: Record<string, 2 | 3> = {
  'no-torch': 3,
  'no-numpy': 3,
  'torch-too-old': 3,
  unreadable: 2,
  pickle: 2,
  import: 2,
  factory: 3,
  'not-a-module': 2,
  inputs: 2,
  opset: 2,
  forward: 2,
  outputs: 2,
  export: 3,
  internal: 3,
};

const TEMPLATE = fileURLToPath(new URL('../../../templates/export_onnx.py', import.meta.url));

export interface ExportRun {
  timeoutMs: number;
  progress?: Progress;
}

/** Runs the export template once; torch's stderr streams to `progress` as log lines. */
export async function runExport(python: PythonChoice, request: ExportRequest, run: ExportRun): Promise<ExportResult> {
  const progress = run.progress ?? silent;
  const result = await runTool({
    file: python.command,
    // -B: importing the user's modules must not litter their folders with __pycache__.
    args: ['-B', TEMPLATE, JSON.stringify(request)],
    label: `Python (${python.chosenBy})`,
    timeoutMs: run.timeoutMs,
    onLine: (line, stream) => {
      if (stream === 'stderr') progress({ kind: 'log', line });
    },
  }).catch(async (error: unknown) => {
    if (!(error instanceof ToolError) || error.kind !== 'tool-missing') throw error;
    throw new ToolError(error.message, { kind: error.kind, hint: await torchHint(python.command, 'Python 3 with PyTorch') });
  });
  if (result.timedOut) {
    throw new ToolError(`the export did not finish within ${Math.round(run.timeoutMs / 1000)} s and was stopped`, {
      kind: 'timeout', hint: `give it longer with ${opt('timeoutMs')}`,
    });
  }
  const reply = parseReply(result.stdout);
  if (!reply) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
    const last = result.stderr.trim().split('\n').pop() || 'no output';
    throw new ToolError(`${python.command} ${how} without a result: ${last}`, { kind: 'python-crashed', hint: `run with ${opt('verbose')} to see its output` });
  }
  if (!reply.ok) throw await failureError(reply, python);
  const { ok: _, ...exported } = reply;
  return exported;
}

/** Names an interpreter on this machine that has torch, when there is one, then how to install it. */
async function torchHint(tried: string, what: string): Promise<string> {
  const [other] = await pythonsWithTorch(tried);
  const install = `install ${what}: ${TORCH_INSTALL}`;
  return other ? `${other} has torch: pass ${opt('python', other)} (or set TDEPLOY_PYTHON); or ${install}` : install;
}

function parseReply(stdout: string): Reply | undefined {
  const line = stdout.trim().split('\n').pop();
  if (!line) return undefined;
  try {
    const reply = JSON.parse(line) as Reply;
    return typeof reply === 'object' && reply !== null && 'ok' in reply ? reply : undefined;
  } catch {
    return undefined;
  }
}

async function failureError(failure: ExportFailure, python: PythonChoice): Promise<TdeployError> {
  const details = { kind: failure.kind, hint: failure.hint ?? undefined };
  // The interpreter lacks a module: say which interpreter, and how it was chosen.
  if (failure.kind === 'no-torch' || failure.kind === 'no-numpy') {
    const hint = failure.kind === 'no-torch' ? await torchHint(failure.python, 'torch for this one') : details.hint;
    return new ToolError(`Python ${failure.python} (${failure.pythonVersion}, chosen by ${python.chosenBy}) ${failure.message}`, { ...details, hint });
  }
  return FAILURE_EXIT[failure.kind] === 2 ? new InputError(failure.message, details) : new ToolError(failure.message, details);
}
