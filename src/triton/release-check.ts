import type { GraphProto, ModelProto, NodeProto } from '../onnx/gen/onnx_pb.js';
import { requiredIrVersion } from '../onnx/ir-version.js';
import { type TritonRelease, tritonReleases } from './releases.js';
import { opt } from '../option-ref.js';

/**
 * Whether a tritonserver release loads an ONNX model: its onnxruntime's highest IR version and
 * opset per domain, the contrib ops it has, and graphs that only the onnxruntime that optimized
 * them runs. A check whose figure the release table lacks is reported as not made.
 */

export interface ReleaseFinding {
  /** the model file, as the caller names it */
  file: string;
  /** what was checked, e.g. `ir_version`, `opset ai.onnx`, `op com.microsoft.QAttention` */
  field: string;
  message: string;
  /** how to make it load, for problems */
  fix?: string;
}

export interface ReleaseFindings {
  problems: ReleaseFinding[];
  /** checks that could not be made, and why */
  unchecked: ReleaseFinding[];
}

/**
 * Domains whose nodes onnxruntime writes itself when it saves a graph after its layout
 * optimizations: their kernels exist only for the execution provider (and CPU) that chose them.
 */
const ORT_INTERNAL_DOMAINS: Record<string, string> = {
  'com.ms.internal.nhwc': "onnxruntime's NHWC layout transformation",
  'com.microsoft.nchwc': "onnxruntime's NCHWc layout optimization (blocked for this CPU's vector width)",
};

/** The domains onnxruntime's version table speaks for. */
const DOMAINS = ['ai.onnx', 'ai.onnx.ml', 'com.microsoft'];

const domainName = (domain: string) => (domain === '' ? 'ai.onnx' : domain);

/** Every node of the model: main graph, subgraphs (If/Loop/Scan bodies) and local function bodies. */
function* allNodes(proto: ModelProto): Generator<NodeProto> {
  const graphs: GraphProto[] = proto.graph ? [proto.graph] : [];
  const lists: NodeProto[][] = proto.functions.map((f) => f.node);
  while (graphs.length || lists.length) {
    const graph = graphs.pop();
    if (graph) lists.push(graph.node);
    for (const node of lists.pop() ?? []) {
      yield node;
      for (const a of node.attribute) {
        if (a.g) graphs.push(a.g);
        graphs.push(...a.graphs);
      }
    }
  }
}

/** What a model asks of the runtime: IR version, opsets, and the ops of each non-standard domain. */
export interface ModelNeeds {
  irVersion: number;
  opsets: Record<string, number>;
  /** ops by domain, for domains other than ai.onnx and ai.onnx.ml; local functions excluded */
  ops: Record<string, string[]>;
  /** the lowest IR version it could be written with, and why */
  lowestIr: { version: number; reason: string };
}

export function modelNeeds(proto: ModelProto): ModelNeeds {
  const local = new Set(proto.functions.map((f) => `${f.domain}\0${f.name}`));
  const ops: Record<string, Set<string>> = {};
  for (const node of allNodes(proto)) {
    const domain = domainName(node.domain);
    if (domain === 'ai.onnx' || domain === 'ai.onnx.ml' || local.has(`${node.domain}\0${node.opType}`)) continue;
    (ops[domain] ??= new Set()).add(node.opType);
  }
  return {
    irVersion: Number(proto.irVersion),
    opsets: Object.fromEntries(proto.opsetImport.map((o) => [domainName(o.domain), Number(o.version)])),
    ops: Object.fromEntries(Object.entries(ops).map(([d, s]) => [d, [...s].sort()])),
    lowestIr: requiredIrVersion(proto),
  };
}

const ortName = (r: TritonRelease) => (r.onnxruntime.value ? `onnxruntime ${r.onnxruntime.value}` : 'onnxruntime version not found');

/** The first release, from `after` on, for which `fits` holds with its figures known. */
function firstRelease(fits: (r: TritonRelease) => boolean | undefined, after?: TritonRelease): string | undefined {
  const all = tritonReleases();
  const start = after ? all.indexOf(after) + 1 : 0;
  return all.slice(start).find((r) => fits(r) === true)?.release;
}

const orNewer = (release: string | undefined) => (release ? `tritonserver ${release} or newer` : 'a newer tritonserver (none in tdeploy\'s table fits)');

/** One row per check: each returns its findings for one release. */
type Check = (needs: ModelNeeds, release: TritonRelease, file: string, out: ReleaseFindings) => void;

const irCheck: Check = (needs, release, file, out) => {
  const max = release.maxIrVersion;
  if (!max) {
    out.unchecked.push({ file, field: 'ir_version', message: `the highest IR version tritonserver ${release.release} loads was not found (its onnxruntime version is not in tdeploy's table)` });
    return;
  }
  if (needs.irVersion <= max.value) return;
  const lowerable = needs.lowestIr.version <= max.value;
  const newer = orNewer(firstRelease((r) => r.maxIrVersion && needs.irVersion <= r.maxIrVersion.value, release));
  out.problems.push({
    file,
    field: 'ir_version',
    message: `${file} is IR version ${needs.irVersion}; tritonserver ${release.release} (${ortName(release)}) loads IR ${max.value} at most`,
    fix: lowerable
      ? `package with ${opt('irVersion', max.value)} (nothing in the model needs more than IR ${needs.lowestIr.version}), or use ${newer}`
      : `the model needs IR ${needs.lowestIr.version} for ${needs.lowestIr.reason}: use ${newer}`,
  });
};

const opsetCheck: Check = (needs, release, file, out) => {
  for (const [domain, version] of Object.entries(needs.opsets)) {
    if (!DOMAINS.includes(domain)) continue;
    const max = release.ort?.maxOpset[domain];
    if (max == null) {
      out.unchecked.push({ file, field: `opset ${domain}`, message: `the highest ${domain} opset of tritonserver ${release.release} was not found` });
      continue;
    }
    if (version <= max) continue;
    const newer = orNewer(firstRelease((r) => { const m = r.ort?.maxOpset[domain]; return m == null ? undefined : version <= m; }, release));
    out.problems.push({
      file,
      field: `opset ${domain}`,
      message: `${file} uses ${domain} opset ${version}; tritonserver ${release.release} (${ortName(release)}) loads up to opset ${max}`,
      fix: domain === 'ai.onnx'
        ? `export it at opset ${max} or lower (tdeploy convert ${opt('opset', max)}; quantize keeps the opset), or use ${newer}`
        : `use ${newer}`,
    });
  }
};

const contribCheck: Check = (needs, release, file, out) => {
  const used = needs.ops['com.microsoft'] ?? [];
  if (used.length === 0) return;
  const known = release.ort?.contribOps;
  if (!known) {
    out.unchecked.push({ file, field: 'op com.microsoft', message: `the contrib ops of tritonserver ${release.release}'s onnxruntime were not found: ${used.join(', ')} not checked` });
    return;
  }
  const missing = used.filter((op) => !known.includes(op));
  if (missing.length === 0) return;
  const newer = orNewer(firstRelease((r) => r.ort?.contribOps ? missing.every((op) => r.ort!.contribOps!.includes(op)) : undefined, release));
  out.problems.push({
    file,
    field: `op com.microsoft.${missing[0]}`,
    message: `${file} uses com.microsoft ${missing.join(', ')}, which ${ortName(release)} (tritonserver ${release.release}) does not have`,
    fix: `quantize it with ${opt('mode', 'static')} (QDQ: standard ONNX ops) or export it without onnxruntime fusions, or use ${newer}`,
  });
};

const internalCheck: Check = (needs, release, file, out) => {
  for (const [domain, what] of Object.entries(ORT_INTERNAL_DOMAINS)) {
    const ops = needs.ops[domain];
    if (!ops) continue;
    out.problems.push({
      file,
      field: `op ${domain}`,
      message: `${file} holds ${domain} ops (${ops.join(', ')}): a graph saved after ${what}, which tritonserver ${release.release} may not run`,
      fix: 'save the model before onnxruntime optimizes it (SessionOptions graph optimization level basic or lower), or export it again',
    });
  }
};

const backendCheck: Check = (_needs, release, file, out) => {
  if (!release.onnxruntime.absent) return;
  out.problems.push({
    file,
    field: 'backend',
    message: `tritonserver ${release.release} ships no ONNX Runtime backend`,
    fix: `use ${orNewer(firstRelease((r) => !r.onnxruntime.absent, release))}`,
  });
};

const CHECKS: Check[] = [backendCheck, irCheck, opsetCheck, contribCheck, internalCheck];

export function checkOnnxForRelease(needs: ModelNeeds, release: TritonRelease, file: string): ReleaseFindings {
  const out: ReleaseFindings = { problems: [], unchecked: [] };
  for (const check of CHECKS) check(needs, release, file, out);
  return out;
}

/** The oldest release in the table that loads the model with every check made. */
export function oldestFittingRelease(needs: ModelNeeds): TritonRelease | undefined {
  return tritonReleases().find((r) => {
    const found = checkOnnxForRelease(needs, r, 'model');
    return found.problems.length === 0 && found.unchecked.length === 0;
  });
}
