/** Verifying a repository: every problem Triton would refuse it for, found before it does. */
import fs from 'node:fs';
import path from 'node:path';
import { InputError, fileError } from '../errors.js';
import { type Progress, silent } from '../progress.js';
import type { ModelConfig } from './gen/model_config_pb.js';
import { type ModelKind, kindOf } from './platforms.js';
import { isVersionName, lockFileOf, versionsIn } from './repository.js';
import { isStale, readOwner } from '../io/lock.js';
import { HOST, parseTemporary, temporariesIn } from '../io/temporaries.js';
import { ConfigSyntaxError, readConfig } from './text.js';
import { type Report, checkConfig } from './verify-config.js';
import { type RepositoryModel, checkEnsemble } from './verify-ensemble.js';
import { checkOnnxModel } from './verify-onnx.js';
import { loadModel } from '../onnx/model.js';
import { type ReleaseFinding, type ReleaseFindings, checkOnnxForRelease, modelNeeds } from './release-check.js';
import { checkEngineForRelease, checkPythonForRelease } from './release-runtimes.js';
import type { TritonRelease } from './releases.js';
import { releaseTarget } from './release-target.js';

export interface Problem {
  /** relative to the repository */
  file: string;
  /** the config field, e.g. `input[1].data_type`; empty for the file as a whole */
  field: string;
  message: string;
}

export interface VerifyReport {
  passed: boolean;
  /** the tritonserver release the model files were checked against */
  triton: { release: string; byDefault: boolean; notChecked: ReleaseFinding[] };
  models: { name: string; problems: Problem[] }[];
  notes: string[];
}

export interface VerifyOptions {
  /** YY.MM; default: the newest release in tdeploy's table */
  triton?: string;
}


interface Checked extends RepositoryModel {
  name: string;
  problems: Problem[];
}

export async function verifyRepository(repo: string, progress: Progress = silent, options: VerifyOptions = {}): Promise<VerifyReport> {
  const target = releaseTarget(options.triton);
  const notChecked: ReleaseFinding[] = [];
  const against = { release: target.release, notChecked };
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(repo, { withFileTypes: true });
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === 'ENOTDIR' ? new InputError(`${repo} is not a folder`) : fileError(repo, error, 'repository');
  }
  const names = entries.filter((e) => e.isDirectory() && !parseTemporary(e.name)).map((e) => e.name).sort();
  const strays = leftovers(repo, names);
  if (names.length === 0) {
    const problems = [{ file: '.', field: '', message: 'the repository holds no model folders' }, ...strays];
    return { passed: false, triton: triton(target, notChecked), models: [{ name: '.', problems }], notes: [] };
  }
  const models = new Map<string, Checked>();
  for (const name of names) {
    progress({ kind: 'phase', phase: 'verifying', detail: name });
    models.set(name, await checkModel(repo, name, against));
  }
  for (const model of models.values()) {
    if (model.config) checkEnsemble(model.config, models, reporter(model.problems, `${model.name}/config.pbtxt`));
  }
  const list = [...models.values()].map(({ name, problems }) => ({ name, problems }));
  if (strays.length > 0) list.unshift({ name: '.', problems: strays });
  target.unchecked = notChecked;
  return { passed: list.every((m) => m.problems.length === 0), triton: triton(target, notChecked), models: list, notes: target.notes() };
}

/**
 * What interrupted or running tdeploy writes left in the repository and its model folders, and a
 * lock whose holder is gone: Triton would try to load a leftover folder as a model.
 */
function leftovers(repo: string, models: string[]): Problem[] {
  const problems: Problem[] = [];
  for (const dir of ['.', ...models]) {
    for (const t of temporariesIn(path.join(repo, dir))) {
      const who = `tdeploy process ${t.pid}${t.host === HOST ? '' : ' of another host'}`;
      const message = t.abandoned
        ? `a temporary left by a ${who} that was killed; the next tdeploy package into this repository removes it${t.role === 'commit' ? ' and finishes its commit' : ''}`
        : `a temporary of a ${who} still running (a write in progress)`;
      problems.push({ file: path.join(dir, t.name), field: '', message });
    }
  }
  const lock = lockFileOf(path.resolve(repo));
  const owner = readOwner(lock);
  if (owner && isStale(owner)) {
    problems.push({ file: path.relative(repo, lock), field: '', message: `a lock left by tdeploy process ${owner.pid}, which is gone; the next tdeploy package into this repository takes it over` });
  }
  return problems;
}

const triton = (target: ReturnType<typeof releaseTarget>, notChecked: ReleaseFinding[]) => ({ release: target.release.release, byDefault: target.byDefault, notChecked });

/** The release the model files are checked against, and where the checks it could not make go. */
interface Against {
  release: TritonRelease;
  notChecked: ReleaseFinding[];
}

/** A release check's problems become the repository's, at field `triton YY.MM: <what>`. */
function addFindings(found: ReleaseFindings, against: Against, problems: Problem[], file: string): void {
  against.notChecked.push(...found.unchecked);
  for (const p of found.problems) problems.push({ file, field: `triton ${against.release.release}: ${p.field}`, message: p.fix ? `${p.message} (${p.fix})` : p.message });
}

const reporter = (problems: Problem[], file: string): Report => (field, message) => problems.push({ file, field, message });

async function checkModel(repo: string, name: string, against: Against): Promise<Checked> {
  const dir = path.join(repo, name);
  const problems: Problem[] = [];
  const configFile = `${name}/config.pbtxt`;
  const report = reporter(problems, configFile);
  const versions = versionsIn(dir);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && /^\d+$/.test(entry.name) && !isVersionName(entry.name)) {
      problems.push({ file: `${name}/${entry.name}/`, field: '', message: `Triton ignores '${entry.name}': version folders are numbers without a leading 0` });
    }
  }
  if (versions.length === 0) problems.push({ file: `${name}/`, field: '', message: 'no version folder (e.g. 1/): Triton will not load the model' });
  const config = await loadConfig(repo, configFile, report);
  if (!config) return { name, problems, versions };
  checkConfig(name, config, report);
  if (config.versionPolicy?.policyChoice.case === 'specific') {
    for (const v of config.versionPolicy.policyChoice.value.versions) {
      if (!versions.includes(Number(v))) report('version_policy.specific.versions', `version ${v} has no folder`);
    }
  }
  config.output.forEach((t, i) => {
    if (t.labelFilename && !fs.existsSync(path.join(dir, t.labelFilename))) report(`output[${i}].label_filename`, `${name}/${t.labelFilename} is missing`);
  });
  const kind = kindOf(config);
  if (!('problem' in kind)) {
    for (const version of versions) await checkVersion(repo, name, version, config, kind, problems, against);
  }
  return { name, problems, versions, config };
}

async function loadConfig(repo: string, file: string, report: Report): Promise<ModelConfig | undefined> {
  if (!fs.existsSync(path.join(repo, file))) {
    report('', 'config.pbtxt is missing (Triton can auto-complete ONNX and TensorRT models, but then nothing here can be checked)');
    return undefined;
  }
  try {
    return await readConfig(path.join(repo, file));
  } catch (error) {
    if (!(error instanceof ConfigSyntaxError)) throw error;
    report(error.field ?? '', `${error.line ? `line ${error.line}: ` : ''}${error.detail}`);
    return undefined;
  }
}

/** The model file each version folder must hold, and for ONNX models the config against the model. */
async function checkVersion(repo: string, name: string, version: number, config: ModelConfig, kind: ModelKind, problems: Problem[], against: Against): Promise<void> {
  const fileName = config.defaultModelFilename || kind.file;
  if (!fileName) return;
  const candidates = [fileName, ...Object.values(config.ccModelFilenames)];
  const present = candidates.find((f) => fs.existsSync(path.join(repo, name, String(version), f)));
  const relative = `${name}/${version}/${fileName}`;
  if (!present) {
    const why = config.defaultModelFilename ? 'default_model_filename' : config.platform ? 'platform' : 'backend';
    problems.push({ file: relative, field: why, message: `missing: ${config.platform || config.backend} models load ${fileName} from each version folder` });
    return;
  }
  const at = path.join(repo, name, String(version), present);
  const shown = `${name}/${version}/${present}`;
  if (kind.platform === 'tensorrt_plan') addFindings(await checkEngineForRelease(undefined, against.release, shown), against, problems, shown);
  if (kind.backend === 'python') addFindings(await checkPythonForRelease(at, against.release, shown), against, problems, shown);
  if (kind.platform !== 'onnxruntime_onnx') return;
  // An ONNX model may be a folder named model.onnx that holds model.onnx and its external data.
  const file = fs.statSync(at).isDirectory() ? path.join(at, 'model.onnx') : at;
  await checkOnnxModel(file, config, reporter(problems, relative));
  try {
    addFindings(checkOnnxForRelease(modelNeeds((await loadModel(file, { deferAbove: 0 })).proto), against.release, shown), against, problems, relative);
  } catch {
    // checkOnnxModel has reported why the model cannot be read
  }
}
