import type { TensorInfo } from '../onnx/signature.js';
import type { Progress } from '../progress.js';
import type { SessionOptions } from '../runtime/session.js';
import type { TensorMap } from '../tensor/tensor.js';
import type { Tick, Window, WindowPlan } from './harness.js';

/**
 * The seam between the benchmark and what executes a model, one implementation per runtime
 * (Polygraphy's runners): statistics, sweeps, stability and reports are shared; a backend only
 * knows how to open a model and time calls of it on given inputs.
 */
export interface BenchBackend {
  /** the name results carry in `backend` */
  name: string;
  /**
   * The model's inputs, read cheaply so every model of a run (and the tool that runs it) is
   * checked before any is timed; null when the file does not say (a TensorRT engine), and the
   * run's ONNX model describes them.
   */
  inputs(model: string, options: OpenOptions): Promise<TensorInfo[] | null>;
  open(model: string, options: OpenOptions, progress: Progress): Promise<BenchTarget>;
}

export interface OpenOptions {
  session?: SessionOptions;
  /** the trtexec that runs engines (else $TDEPLOY_TRTEXEC, PATH, /usr/src/tensorrt/bin) */
  trtexec?: string;
}

export interface BenchTarget {
  /** what actually runs the model, after any fallback */
  provider: string;
  /** what the user should hear about how the model runs (a fallback taken, a flag a release lacks); grows as it runs */
  notes: string[];
  /** makes one case's inputs ready to run (outside any timing) */
  load(feeds: TensorMap): Promise<CaseRunner>;
  close(): Promise<void>;
}

export interface CaseRunner {
  warmUp(iterations: number): Promise<void>;
  window(plan: WindowPlan, tick?: Tick): Promise<Window>;
}
