import { InputError } from '../errors.js';
import { type ShapeProfile, formatDims } from './profiles.js';
import { type TrtVersion, atLeast, formatVersion } from './version.js';
import { opt } from '../option-ref.js';

/**
 * Which releases know a trtexec flag: `since` is the first release with it, `until` the first
 * without it. From each release's sampleOptions.cpp (see reference/trtexec_reference.md). A
 * flag a release does not know fails the whole run ("Unknown option"), so tdeploy never passes one.
 */
export interface FlagSpan {
  since: string;
  until?: string;
}

export const TRTEXEC_FLAGS: Record<string, FlagSpan> = {
  '--onnx': { since: '8.0' },
  '--saveEngine': { since: '8.0' },
  '--loadEngine': { since: '8.0' },
  '--fp16': { since: '8.0', until: '11.0' },
  '--bf16': { since: '9.3', until: '11.0' },
  '--int8': { since: '8.0', until: '11.0' },
  '--fp8': { since: '8.6', until: '11.0' },
  '--int4': { since: '10.8', until: '11.0' },
  '--best': { since: '8.0', until: '11.0' },
  // present from the 9.3 branch; a no-op from 11.0, where every network is strongly typed
  '--stronglyTyped': { since: '9.3' },
  '--calib': { since: '8.0', until: '11.0' },
  '--minShapes': { since: '8.0' },
  '--optShapes': { since: '8.0' },
  '--maxShapes': { since: '8.0' },
  '--shapes': { since: '8.0' },
  '--minShapesCalib': { since: '8.0', until: '11.0' },
  '--optShapesCalib': { since: '8.0', until: '11.0' },
  '--maxShapesCalib': { since: '8.0', until: '11.0' },
  '--memPoolSize': { since: '8.4' },
  '--workspace': { since: '8.0', until: '10.0' },
  '--builderOptimizationLevel': { since: '8.6' },
  '--timingCacheFile': { since: '8.0' },
  '--skipInference': { since: '8.6' },
  '--buildOnly': { since: '8.0', until: '10.0' },
  '--explicitBatch': { since: '8.0', until: '10.0' },
  '--minTiming': { since: '8.0', until: '10.0' },
  '--explicitPrecision': { since: '8.0', until: '10.0' },
  '--batch': { since: '8.0', until: '9.0' },
  '--maxBatch': { since: '8.0', until: '9.0' },
  '--heuristic': { since: '8.5', until: '10.0' },
  '--nvtxMode': { since: '8.0', until: '10.0' },
  '--precisionConstraints': { since: '8.2', until: '11.0' },
  '--layerPrecisions': { since: '8.4', until: '11.0' },
  '--layerOutputTypes': { since: '8.4', until: '11.0' },
  '--iterations': { since: '8.0' },
  '--duration': { since: '8.0' },
  '--warmUp': { since: '8.0' },
  '--avgRuns': { since: '8.0' },
  '--percentile': { since: '8.0' },
  '--exportTimes': { since: '8.0' },
  '--exportOutput': { since: '8.0' },
  '--exportProfile': { since: '8.0' },
  '--exportLayerInfo': { since: '8.2' },
  '--dumpLayerInfo': { since: '8.2' },
  '--profilingVerbosity': { since: '8.2' },
  '--separateProfileRun': { since: '8.0' },
  '--dumpProfile': { since: '8.0' },
  '--verbose': { since: '8.0' },
  '--device': { since: '8.0' },
  '--useCudaGraph': { since: '8.0' },
  '--noCudaGraph': { since: '11.0' },
  '--noDataTransfers': { since: '8.0' },
  '--includeDataTransfers': { since: '11.0' },
  '--useSpinWait': { since: '8.0' },
  '--noSpinWait': { since: '11.0' },
  '--streams': { since: '8.0' },
  '--infStreams': { since: '8.6' },
  '--plugins': { since: '8.0' },
  '--staticPlugins': { since: '8.6' },
  '--getPlanVersionOnly': { since: '9.3' },
  '--allocationStrategy': { since: '10.0' },
  '--stripWeights': { since: '10.0' },
};

export function hasFlag(v: TrtVersion, flag: string): boolean {
  const span = TRTEXEC_FLAGS[flag];
  return span !== undefined && atLeast(v, span.since) && !(span.until && atLeast(v, span.until));
}

export type Precision = 'fp16' | 'bf16' | 'int8' | 'fp8' | 'best';
export const PRECISIONS: Precision[] = ['fp16', 'bf16', 'int8', 'fp8', 'best'];

/** What tdeploy asks trtexec to do, before it becomes flags for one release. */
export interface TrtexecRequest {
  onnx?: string;
  loadEngine?: string;
  saveEngine?: string;
  precision?: Precision[];
  stronglyTyped?: boolean;
  calib?: string;
  workspaceMiB?: number;
  /** optimization profile per dynamic input */
  profiles?: Record<string, ShapeProfile>;
  /** the shapes inference runs at, per dynamic input */
  inferenceShapes?: Record<string, number[]>;
  timingCache?: string;
  builderLevel?: number;
  /** false: build only */
  inference?: boolean;
  iterations?: number;
  durationS?: number;
  warmupMs?: number;
  exportTimes?: string;
  /** raw `--flag[=value]` arguments passed through */
  extra?: string[];
}

interface Choice {
  flag: string;
  value?: (r: TrtexecRequest) => string;
}

/** One thing tdeploy can ask for, and the flags that give it, preferred first. */
interface ArgRule {
  option: string;
  wanted: (r: TrtexecRequest) => boolean;
  choices: Choice[];
  /** said instead of failing when the release has removed every choice */
  whenRemoved?: (v: TrtVersion) => string;
}

const shapeList = (shapes: Record<string, number[]>) =>
  Object.entries(shapes).map(([name, dims]) => `${name}:${formatDims(dims)}`).join(',');
const profileList = (r: TrtexecRequest, which: keyof ShapeProfile) =>
  shapeList(Object.fromEntries(Object.entries(r.profiles ?? {}).map(([name, p]) => [name, p[which]])));
const hasProfiles = (r: TrtexecRequest) => Object.keys(r.profiles ?? {}).length > 0;

const stronglyTypedOnly = (option: string) => (v: TrtVersion) =>
  `TensorRT ${formatVersion(v)} builds strongly typed networks only, so ${option} is not passed: ` +
  `layer precisions follow the model's tensor types (make an FP16 model with tdeploy quantize ${opt('to', 'fp16')}, an INT8 one with QDQ nodes)`;

const precisionRule = (p: Precision): ArgRule => ({
  option: opt('precision', p),
  wanted: (r) => r.precision?.includes(p) ?? false,
  choices: [{ flag: `--${p}` }],
  whenRemoved: stronglyTypedOnly(opt('precision', p)),
});

const RULES: ArgRule[] = [
  { option: '<model>', wanted: (r) => r.onnx !== undefined, choices: [{ flag: '--onnx', value: (r) => r.onnx! }] },
  { option: '<engine>', wanted: (r) => r.loadEngine !== undefined, choices: [{ flag: '--loadEngine', value: (r) => r.loadEngine! }] },
  { option: opt('output'), wanted: (r) => r.saveEngine !== undefined, choices: [{ flag: '--saveEngine', value: (r) => r.saveEngine! }] },
  ...PRECISIONS.map(precisionRule),
  { option: opt('stronglyTyped'), wanted: (r) => r.stronglyTyped === true, choices: [{ flag: '--stronglyTyped' }] },
  {
    option: opt('calib'), wanted: (r) => r.calib !== undefined,
    choices: [{ flag: '--calib', value: (r) => r.calib! }], whenRemoved: stronglyTypedOnly(opt('calib')),
  },
  {
    // A bare number means MiB in every release from 8.4; suffixes are read differently before and after 10.3.
    option: opt('workspaceMiB'), wanted: (r) => r.workspaceMiB !== undefined,
    choices: [{ flag: '--memPoolSize', value: (r) => `workspace:${r.workspaceMiB}` }, { flag: '--workspace', value: (r) => String(r.workspaceMiB) }],
  },
  { option: opt('profiles'), wanted: hasProfiles, choices: [{ flag: '--minShapes', value: (r) => profileList(r, 'min') }] },
  { option: opt('profiles'), wanted: hasProfiles, choices: [{ flag: '--optShapes', value: (r) => profileList(r, 'opt') }] },
  { option: opt('profiles'), wanted: hasProfiles, choices: [{ flag: '--maxShapes', value: (r) => profileList(r, 'max') }] },
  {
    option: 'inference shapes', wanted: (r) => r.inference !== false && Object.keys(r.inferenceShapes ?? {}).length > 0,
    choices: [{ flag: '--shapes', value: (r) => shapeList(r.inferenceShapes!) }],
  },
  { option: opt('timingCache'), wanted: (r) => r.timingCache !== undefined, choices: [{ flag: '--timingCacheFile', value: (r) => r.timingCache! }] },
  {
    option: opt('builderLevel'), wanted: (r) => r.builderLevel !== undefined,
    choices: [{ flag: '--builderOptimizationLevel', value: (r) => String(r.builderLevel) }],
  },
  { option: opt('inference', false), wanted: (r) => r.inference === false, choices: [{ flag: '--skipInference' }, { flag: '--buildOnly' }] },
  { option: opt('iterations'), wanted: (r) => r.iterations !== undefined, choices: [{ flag: '--iterations', value: (r) => String(r.iterations) }] },
  // trtexec runs for at least --iterations and at least --duration; 0 s makes the count decide.
  {
    option: opt('durationS'), wanted: (r) => r.durationS !== undefined || r.iterations !== undefined,
    choices: [{ flag: '--duration', value: (r) => String(r.durationS ?? 0) }],
  },
  { option: opt('warmup'), wanted: (r) => r.warmupMs !== undefined, choices: [{ flag: '--warmUp', value: (r) => String(r.warmupMs) }] },
  { option: 'samples', wanted: (r) => r.exportTimes !== undefined, choices: [{ flag: '--exportTimes', value: (r) => r.exportTimes! }] },
];

export interface TrtexecArgs {
  args: string[];
  /** what was adapted to the release, for the user to hear */
  notes: string[];
}

/** The argv for one trtexec release: only flags it knows, values always attached with `=`. */
export function trtexecArgs(v: TrtVersion, request: TrtexecRequest): TrtexecArgs {
  const args: string[] = [];
  const notes: string[] = [];
  const set = new Map<string, string>();
  for (const rule of RULES) {
    if (!rule.wanted(request)) continue;
    const choice = rule.choices.find((c) => hasFlag(v, c.flag));
    if (choice) {
      args.push(choice.value ? `${choice.flag}=${choice.value(request)}` : choice.flag);
      set.set(choice.flag, rule.option);
      continue;
    }
    const removed = rule.choices.every((c) => TRTEXEC_FLAGS[c.flag].until && atLeast(v, TRTEXEC_FLAGS[c.flag].until!));
    if (removed && rule.whenRemoved) notes.push(rule.whenRemoved(v));
    else throw new InputError(`${rule.option} is not available with TensorRT ${formatVersion(v)}: ${availability(rule.choices[0].flag)}`, { kind: 'invalid-option' });
  }
  args.push(...checkExtra(v, request.extra ?? [], set));
  return { args, notes };
}

function availability(flag: string): string {
  const span = TRTEXEC_FLAGS[flag];
  return `trtexec has ${flag} from ${span.since}${span.until ? ` until ${span.until} (removed there)` : ''}`;
}

/** Raw arguments must be `--flag[=value]`, not one tdeploy already sets (`set`: flag → option), and known to the release. */
function checkExtra(v: TrtVersion, extra: string[], set: Map<string, string>): string[] {
  for (const arg of extra) {
    const flag = arg.split('=', 1)[0];
    if (!/^--?\w/.test(arg)) {
      throw new InputError(`${opt('extra')}: '${arg}' is not a flag`, {
        kind: 'invalid-option',
        hint: "trtexec takes values attached with '=' (--flag=value); a value after a space is an unknown option to it",
      });
    }
    const managed = set.get(flag);
    if (managed) throw new InputError(`${opt('extra')}: tdeploy sets ${flag} itself`, { kind: 'invalid-option', hint: `use tdeploy's ${managed}` });
    if (TRTEXEC_FLAGS[flag] && !hasFlag(v, flag)) {
      throw new InputError(`${opt('extra')}: TensorRT ${formatVersion(v)} has no ${flag}`, { kind: 'invalid-option', hint: availability(flag) });
    }
  }
  return extra;
}
