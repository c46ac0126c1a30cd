import { DataType, type ModelConfig } from './gen/model_config_pb.js';
import type { Report } from './verify-config.js';

/** What the ensemble check needs to know about the other models of the repository. */
export interface RepositoryModel {
  /** undefined when its config.pbtxt is missing or does not parse (reported on that model) */
  config?: ModelConfig;
  versions: number[];
}

/**
 * An ensemble's steps against the models they call (core ValidateEnsembleSchedulingConfig): each
 * step's model exists, its maps use that model's real tensor names and cover all its inputs, no
 * ensemble tensor is produced twice or with two types or shapes, and data flows from the
 * ensemble's inputs to all of its outputs with nothing left unused.
 */
export function checkEnsemble(config: ModelConfig, models: Map<string, RepositoryModel>, report: Report): void {
  if (config.schedulingChoice.case !== 'ensembleScheduling') return;
  const steps = config.schedulingChoice.value.step;
  if (steps.length === 0) report('ensemble_scheduling.step', 'the ensemble has no steps');
  const nodes = new Map<string, TensorNode>();
  const typed = (tensor: string, node: TensorNode, field: string) => {
    const seen = nodes.get(tensor);
    if (!seen) nodes.set(tensor, node);
    else if (seen.type !== node.type) report(field, `ensemble tensor '${tensor}' is ${DataType[node.type]} at ${node.where} but ${DataType[seen.type]} at ${seen.where}`);
    else if (!sameShape(seen, node)) report(field, `ensemble tensor '${tensor}' has shape ${shape(node)} at ${node.where} but ${shape(seen)} at ${seen.where}`);
  };
  // The ensemble's own tensors are taken at their reshape where they have one.
  const own = (list: 'input' | 'output') => config[list].forEach((t) => {
    typed(t.name, tensorNode(t.dataType, t.reshape ? t.reshape.shape : t.dims, config.maxBatchSize > 0, `ensemble ${list} '${t.name}'`), list);
  });
  own('input');
  own('output');
  const producedBy = new Map<string, number>();

  steps.forEach((step, i) => {
    const at = `ensemble_scheduling.step[${i}]`;
    const target = models.get(step.modelName);
    if (!step.modelName) report(`${at}.model_name`, 'is empty');
    else if (!target) report(`${at}.model_name`, `model '${step.modelName}' is not in the repository`);
    else if (step.modelVersion > 0n && !target.versions.includes(Number(step.modelVersion))) {
      report(`${at}.model_version`, `model '${step.modelName}' has no version ${step.modelVersion}`);
    }
    if (Object.keys(step.inputMap).length === 0) report(`${at}.input_map`, 'is empty');
    if (Object.keys(step.outputMap).length === 0) report(`${at}.output_map`, 'is empty');
    for (const [tensor, name] of Object.entries(step.outputMap)) {
      const first = producedBy.get(name);
      if (first !== undefined) report(`${at}.output_map["${tensor}"]`, `ensemble tensor '${name}' is already produced by step ${first}`);
      else producedBy.set(name, i);
    }
    const callee = target?.config;
    if (!callee) return;
    const mbs = callee.maxBatchSize;
    // A model that does not batch may serve a batching ensemble: its full shapes are compared instead.
    if (mbs > 0 && config.maxBatchSize > mbs) report(`${at}.model_name`, `the ensemble's max_batch_size ${config.maxBatchSize} exceeds model '${step.modelName}''s ${mbs}`);
    const mapped = (map: Record<string, string>, list: 'input' | 'output', field: string) => {
      const tensors = callee[list];
      for (const [tensor, name] of Object.entries(map)) {
        const t = tensors.find((c) => c.name === tensor);
        if (!t) report(`${at}.${field}["${tensor}"]`, `'${tensor}' is not an ${list} of model '${step.modelName}' (its ${list}s: ${tensors.map((c) => c.name).join(', ')})`);
        else typed(name, tensorNode(t.dataType, t.dims, mbs > 0, `model '${step.modelName}' ${list} '${tensor}'`), `${at}.${field}["${tensor}"]`);
      }
    };
    mapped(step.inputMap, 'input', 'input_map');
    mapped(step.outputMap, 'output', 'output_map');
    for (const input of callee.input) {
      if (!(input.name in step.inputMap) && !input.optional) report(`${at}.input_map`, `input '${input.name}' of model '${step.modelName}' is not mapped`);
    }
  });
  checkDataFlow(config, report);
}

/** An ensemble tensor as Triton's ensemble check sees it (core ensemble_utils.cc TensorNode). */
interface TensorNode {
  type: DataType;
  dims: bigint[];
  /** with the batch dim (-1) in front when the model batches */
  full: bigint[];
  where: string;
}

function tensorNode(type: DataType, dims: bigint[], batching: boolean, where: string): TensorNode {
  return { type, dims, full: batching ? [-1n, ...dims] : dims, where };
}

const fits = (a: bigint[], b: bigint[]) => a.length === b.length && a.every((d, i) => d === -1n || b[i] === -1n || d === b[i]);

/**
 * Shapes agree where -1 matches anything; a tensor between a batching and a non-batching model
 * agrees when the full shapes do ([-1, 4] without batching is [4] with it).
 */
const sameShape = (a: TensorNode, b: TensorNode) => fits(a.dims, b.dims) || fits(a.full, b.full);

const shape = (node: TensorNode) => `[${node.full.join(', ')}]`;

/** Runs the steps in dependency order from the ensemble inputs, as Triton does when it loads. */
function checkDataFlow(config: ModelConfig, report: Report): void {
  if (config.schedulingChoice.case !== 'ensembleScheduling') return;
  const steps = config.schedulingChoice.value.step;
  const ready = new Set(config.input.map((t) => t.name));
  const pending = new Set(steps.keys());
  for (let progressed = true; progressed;) {
    progressed = false;
    for (const i of pending) {
      if (Object.values(steps[i].inputMap).every((name) => ready.has(name))) {
        Object.values(steps[i].outputMap).forEach((name) => ready.add(name));
        pending.delete(i);
        progressed = true;
      }
    }
  }
  for (const i of pending) {
    const missing = Object.values(steps[i].inputMap).filter((name) => !ready.has(name));
    report(`ensemble_scheduling.step[${i}].input_map`, `step never runs: ${missing.map((m) => `'${m}'`).join(', ')} is neither an ensemble input nor produced by a step that runs`);
  }
  config.output.forEach((t, j) => {
    if (!ready.has(t.name)) report(`output[${j}]`, `ensemble output '${t.name}' is not produced by any step`);
  });
  const consumed = new Set(steps.flatMap((s) => Object.values(s.inputMap)));
  const outputs = new Set(config.output.map((t) => t.name));
  config.input.forEach((t, j) => {
    if (!consumed.has(t.name)) report(`input[${j}]`, `ensemble input '${t.name}' is not used by any step`);
  });
  steps.forEach((s, i) => {
    for (const [tensor, name] of Object.entries(s.outputMap)) {
      if (!consumed.has(name) && !outputs.has(name)) report(`ensemble_scheduling.step[${i}].output_map["${tensor}"]`, `ensemble tensor '${name}' is produced but never used`);
    }
  });
}
