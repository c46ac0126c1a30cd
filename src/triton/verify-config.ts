import { DataType, type ModelConfig, type ModelInput, type ModelOutput, ModelInstanceGroup_Kind } from './gen/model_config_pb.js';
import { ENSEMBLE, kindOf } from './platforms.js';

/**
 * Checks of one config.pbtxt on its own, with Triton's rules (core model_config_utils.cc
 * ValidateModelConfig / ValidateIOShape / ValidateEnsembleSchedulingConfig).
 */

/** Records a problem at a field of the file being checked. */
export type Report = (field: string, message: string) => void;

export function checkConfig(folder: string, config: ModelConfig, report: Report): void {
  if (config.name && config.name !== folder) report('name', `is '${config.name}' but the folder is '${folder}'; Triton requires them to be equal`);
  const kind = kindOf(config);
  if ('problem' in kind) report(config.platform ? 'platform' : 'backend', kind.problem);
  if (config.maxBatchSize < 0) report('max_batch_size', `${config.maxBatchSize} is negative`);
  checkTensors('input', config.input, report);
  checkTensors('output', config.output, report);
  checkScheduler(config, report);
  checkWarmup(config, report);
  if (!('problem' in kind) && kind.unsupportedTypes) {
    const unsupported = kind.unsupportedTypes;
    for (const list of ['input', 'output'] as const) {
      config[list].forEach((t, i) => {
        if (unsupported.includes(DataType[t.dataType])) report(`${list}[${i}].data_type`, `'${t.name}' is ${DataType[t.dataType]}, which Triton's ${kind.backend} backend does not serve`);
      });
    }
  }
  if (!('problem' in kind) && kind.gpuOnly) {
    config.instanceGroup.forEach((g, i) => {
      if (g.kind === ModelInstanceGroup_Kind.CPU) report(`instance_group[${i}].kind`, `KIND_CPU, but ${config.platform || config.backend} models run on GPUs only`);
    });
  }
}

function checkTensors(list: 'input' | 'output', tensors: (ModelInput | ModelOutput)[], report: Report): void {
  const seen = new Set<string>();
  tensors.forEach((t, i) => {
    const at = `${list}[${i}]`;
    if (!t.name) report(`${at}.name`, 'is empty');
    else if (seen.has(t.name)) report(`${at}.name`, `'${t.name}' is listed twice`);
    seen.add(t.name);
    if (t.dataType === DataType.TYPE_INVALID) report(`${at}.data_type`, `'${t.name}' has no data type`);
    if (t.dims.length === 0) report(`${at}.dims`, `'${t.name}' has no dims; Triton needs rank >= 1 (use dims: [1] with reshape: { shape: [] } for a scalar)`);
    if (t.dims.some((d) => d < 1n && d !== -1n)) report(`${at}.dims`, `'${t.name}' has dims [${t.dims.join(', ')}]; each must be >= 1 or -1`);
    const reshape = t.reshape?.shape;
    if (reshape && reshape.length > 0 && !reshape.includes(-1n) && !t.dims.includes(-1n) && product(reshape) !== product(t.dims)) {
      report(`${at}.reshape`, `'${t.name}' reshapes [${t.dims.join(', ')}] to [${reshape.join(', ')}], a different number of elements`);
    }
  });
}

const product = (dims: bigint[]) => dims.reduce((a, b) => a * b, 1n);

function checkScheduler(config: ModelConfig, report: Report): void {
  const scheduler = config.schedulingChoice;
  const ensemble = config.platform === ENSEMBLE;
  if (scheduler.case === 'dynamicBatching') {
    for (const size of scheduler.value.preferredBatchSize) {
      if (size <= 0 || size > config.maxBatchSize) {
        report('dynamic_batching.preferred_batch_size', `${size} is not between 1 and max_batch_size ${config.maxBatchSize}`);
      }
    }
  }
  if (scheduler.case === 'ensembleScheduling' && !ensemble) report('ensemble_scheduling', `is set but the platform is '${config.platform}', not 'ensemble'`);
  if (!ensemble) return;
  if (scheduler.case !== 'ensembleScheduling') report('ensemble_scheduling', 'an ensemble needs ensemble_scheduling with its steps');
  if (config.instanceGroup.length > 0) report('instance_group', 'an ensemble cannot have instance groups');
  if (config.modelWarmup.length > 0) report('model_warmup', 'an ensemble cannot have warm-up samples');
  if (config.optimization) report('optimization', 'an ensemble cannot have optimization settings');
}

function checkWarmup(config: ModelConfig, report: Report): void {
  config.modelWarmup.forEach((w, i) => {
    for (const [name, input] of Object.entries(w.inputs)) {
      const at = `model_warmup[${i}].inputs["${name}"]`;
      const declared = config.input.find((t) => t.name === name);
      if (!declared && config.schedulingChoice.case !== 'sequenceBatching') report(at, `'${name}' is not an input of the model`);
      if (declared && declared.dataType !== input.dataType) {
        report(`${at}.data_type`, `${DataType[input.dataType]}, but input '${name}' is ${DataType[declared.dataType]}`);
      }
      if (input.dims.includes(-1n)) report(`${at}.dims`, `[${input.dims.join(', ')}]: warm-up data needs every dimension fixed`);
      if (input.inputDataType.case === undefined) report(at, 'sets none of zero_data, random_data, input_data_file');
    }
  });
}
