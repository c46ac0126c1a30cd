/** `tdeploy package`: a Triton model repository for one model, derived from the model itself. */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { OutputSet } from '../io/atomic.js';
import { requireFile } from '../io/read.js';
import { type OnnxModel, externalDataFiles, loadModel } from '../onnx/model.js';
import { type ModelSignature, signature } from '../onnx/signature.js';
import { type Progress, silent } from '../progress.js';
import { signatureFromEngineLog } from './engine-io.js';
import { DataType, type ModelConfig, type ModelInput, type ModelOutput } from './gen/model_config_pb.js';
import { type Labels, modelConfig } from './from-model.js';
import { type PackageOptions, isSafeName } from './options.js';
import { type SourceKind, SOURCE_EXTENSIONS, sourceKind } from './platforms.js';
import { type FileEntry, type ModelFolder, isVersionName, writeRepository } from './repository.js';
import { TOKENIZER_FILE, TOKENIZER_TEMPLATE, readTokenizer, tokenizerModels } from './tokenizer.js';
import { readText } from '../io/read.js';
import { opt } from '../option-ref.js';
import { lowerIrVersion } from '../onnx/ir-version.js';
import { saveModel } from '../onnx/save.js';
import { type ReleaseFindings, checkOnnxForRelease, modelNeeds } from './release-check.js';
import { checkEngineForRelease, checkPythonForRelease } from './release-runtimes.js';
import { type ReleaseTarget, type TargetSummary, releaseTarget, targetSummary, writeTargetFile } from './release-target.js';

export interface TensorRow {
  name: string;
  dataType: string;
  dims: number[];
}

export interface PackagedModel {
  name: string;
  role: 'model' | 'tokenizer' | 'ensemble';
  /** the platform, or the backend for Python models */
  platform: string;
  maxBatchSize: number;
  inputs: TensorRow[];
  outputs: TensorRow[];
}

export interface PackageResult {
  repository: string;
  version: number;
  models: PackagedModel[];
  /** every file written, relative to the repository */
  files: string[];
  /** version folders replaced (`force`) */
  replaced: string[];
  /** the tritonserver release the models were checked against, and the checks not made */
  triton: TargetSummary;
  /** defaults taken and limits that apply, for the report */
  notes: string[];
}

/** Where a model's inputs and outputs can be read from, by extension (a TensorRT engine does not say). */
const IO_SOURCES: Record<string, (file: string) => Promise<ModelSignature>> = {
  '.onnx': async (file) => signature((await loadModel(file)).proto),
  '.log': signatureFromEngineLog,
};

interface Source {
  kind: SourceKind;
  signature: ModelSignature;
  versionFiles: FileEntry[];
  notes: string[];
  /** what the release check found for the model file */
  findings: ReleaseFindings;
  /** writes the model rewritten (`irVersion`) once the release check has passed, giving its version files */
  rewrite?: () => Promise<FileEntry[]>;
  /** the scratch folder the rewrite wrote into, removed after writing */
  scratch?: string;
}

export async function packageModel(model: string, options: PackageOptions, progress: Progress = silent): Promise<PackageResult> {
  progress({ kind: 'phase', phase: 'reading model', detail: model });
  const target = releaseTarget(options.triton);
  const source = await readSource(model, options, target);
  try {
    return await packageSource(model, source, target, options, progress);
  } finally {
    if (source.scratch) await fs.promises.rm(source.scratch, { recursive: true, force: true });
  }
}

async function packageSource(model: string, source: Source, target: ReleaseTarget, options: PackageOptions, progress: Progress): Promise<PackageResult> {
  const name = options.name ?? path.basename(model, path.extname(model));
  if (!isSafeName(name)) {
    throw new InputError(`'${name}' (from the file name) is not a safe model name`, { hint: `give one with ${opt('name')}: letters, digits, _ . - only` });
  }
  const labels = options.labelFile ? await readLabels(options.labelFile, source.signature) : undefined;
  const main = modelConfig(name, source.kind, source.signature, options, labels?.labels);
  const notes = [...source.notes, ...main.notes];
  const folders: (ModelFolder & { role: PackagedModel['role'] })[] = [
    { role: 'model', config: main.config, versionFiles: source.versionFiles, modelFiles: labels ? [labels.file] : [] },
  ];
  if (options.tokenizer) {
    const tokenizer = await readTokenizer(options.tokenizer);
    const front = tokenizerModels(main.config, source.signature, tokenizer, options.maxLength);
    notes.push(...front.notes);
    folders.push(
      { role: 'tokenizer', config: front.tokenizer, modelFiles: [], versionFiles: [{ name: 'model.py', from: TOKENIZER_TEMPLATE }, { name: TOKENIZER_FILE, from: tokenizer.file }] },
      { role: 'ensemble', config: front.ensemble, modelFiles: [], versionFiles: [] },
    );
  } else if (options.maxLength !== undefined) {
    throw new InputError(`${opt('maxLength')} applies to the tokenizer step: give ${opt('tokenizer')} too`);
  }
  const findings = [source.findings];
  if (options.tokenizer) findings.push(await checkPythonForRelease(TOKENIZER_TEMPLATE, target.release, `${name}_tokenize/model.py`));
  target.judge(findings);
  if (source.rewrite) folders[0].versionFiles = await source.rewrite();
  progress({ kind: 'phase', phase: 'writing repository', detail: options.output });
  const models = folders.map((f) => describe(f.config, f.role));
  const written = await writeRepository(options.output, folders, {
    version: options.modelVersion,
    force: options.force,
    updateRoot: (repository) => writeTargetFile(repository, target, models.map((m) => m.name)),
  });
  notes.push(...target.notes());
  return { repository: written.repository, version: written.version, models, files: written.files, replaced: written.replaced, triton: targetSummary(target), notes };
}

async function readSource(model: string, options: PackageOptions, target: ReleaseTarget): Promise<Source> {
  const { ioFrom } = options;
  const kind = sourceKind(model);
  if (!kind) throw new InputError(`${model}: tdeploy packages ${SOURCE_EXTENSIONS.join(', ')} files`, { kind: 'usage' });
  requireFile(model, 'model');
  if (kind.platform === 'onnxruntime_onnx') {
    if (ioFrom) throw new InputError(`${opt('ioFrom')} is for TensorRT engines; an ONNX model states its own inputs and outputs`);
    const loaded = await loadModel(model);
    const findings = () => checkOnnxForRelease(modelNeeds(loaded.proto), target.release, path.basename(model));
    if (options.irVersion !== undefined) {
      lowerIrVersion(loaded.proto, options.irVersion);
      const source: Source = { kind, signature: signature(loaded.proto), versionFiles: [], findings: findings(), notes: [`IR version written as ${options.irVersion} (${opt('irVersion')})`] };
      source.rewrite = async () => {
        const copy = await rewritten(loaded, options.output, kind.file);
        source.scratch = copy.scratch;
        return copy.versionFiles;
      };
      return source;
    }
    const dir = path.dirname(loaded.path);
    const sideFiles = externalDataFiles(loaded).map((file) => ({ name: path.relative(dir, file), from: file }));
    return { kind, signature: signature(loaded.proto), versionFiles: [{ name: kind.file, from: model }, ...sideFiles], findings: findings(), notes: [] };
  }
  if (options.irVersion !== undefined) throw new InputError(`${opt('irVersion')} rewrites ONNX models; a TensorRT engine has no IR version`);
  // `tdeploy engine` keeps the build log beside the engine; it names the bindings.
  const from = ioFrom ?? (fs.existsSync(`${model}.log`) ? `${model}.log` : undefined);
  if (!from) {
    throw new InputError(`${model} is a TensorRT engine, which does not tell tdeploy its inputs and outputs`, {
      hint: `give the ONNX model it was built from (${opt('ioFrom', 'model.onnx')}) or its trtexec log (${opt('ioFrom', 'model.plan.log')})`,
    });
  }
  const read = IO_SOURCES[path.extname(from).toLowerCase()];
  if (!read) throw new InputError(`${opt('ioFrom', from)}: expected ${Object.keys(IO_SOURCES).join(', ')}`);
  const log = path.extname(from).toLowerCase() === '.log' ? from : fs.existsSync(`${model}.log`) ? `${model}.log` : undefined;
  const findings = await checkEngineForRelease(log, target.release, path.basename(model));
  return { kind, signature: await read(from), versionFiles: [{ name: kind.file, from: model }], findings, notes: [`inputs and outputs taken from ${from}`] };
}

/** The model saved with its new IR version into a scratch folder beside the repository, to be copied in. */
async function rewritten(loaded: OnnxModel, repository: string, fileName: string): Promise<Pick<Source, 'versionFiles' | 'scratch'>> {
  // Named as tdeploy's temporaries are, so that a killed run's copy is cleared by the next one.
  const scratch = await new OutputSet().folder(path.join(path.dirname(path.resolve(repository)), 'tdeploy-ir'));
  const saved = await saveModel(loaded, path.join(scratch, fileName), { location: `${fileName}.data` });
  const files = [saved.path, ...(saved.dataFile ? [saved.dataFile] : [])];
  return { scratch, versionFiles: files.map((file) => ({ name: path.basename(file), from: file })) };
}

/** `FILE` or `OUTPUT=FILE`; one label per line, as many lines as the output has classes. */
async function readLabels(spec: string, sig: ModelSignature): Promise<{ labels: Labels; file: FileEntry }> {
  const named = /^([^=]+)=(.+)$/.exec(spec);
  const output = named && sig.outputs.some((o) => o.name === named[1]) ? named[1] : undefined;
  // Read as a file name only when such a file exists: otherwise 'OUTPUT=FILE' named an output the model lacks.
  if (named && !output && !fs.existsSync(spec)) {
    throw new InputError(`${opt('labelFile', spec)}: the model has no output '${named[1]}'`, { hint: `its outputs are ${sig.outputs.map((o) => o.name).join(', ')}` });
  }
  const file = output ? named![2] : spec;
  const text = await readText(file, 'label file');
  const fileName = path.basename(file);
  if (!isSafeName(fileName) || fileName === 'config.pbtxt' || isVersionName(fileName)) {
    throw new InputError(`${opt('labelFile')}: '${fileName}' cannot be a file name in the model folder`, { hint: 'rename it, e.g. labels.txt' });
  }
  const lines = text === '' ? 0 : text.replace(/\r?\n$/, '').split(/\r?\n/).length;
  return { labels: { output, fileName, lines }, file: { name: fileName, from: file } };
}

function describe(config: ModelConfig, role: PackagedModel['role']): PackagedModel {
  const row = (t: ModelInput | ModelOutput): TensorRow => ({ name: t.name, dataType: DataType[t.dataType], dims: t.dims.map(Number) });
  return {
    name: config.name,
    role,
    platform: config.platform || config.backend,
    maxBatchSize: config.maxBatchSize,
    inputs: config.input.map(row),
    outputs: config.output.map(row),
  };
}
