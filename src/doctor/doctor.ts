/**
 * `tdeploy doctor`: what this machine offers tdeploy, and, given a run config, whether everything
 * the config needs is here. The report's `passed` is false when a need is missing.
 */
import { createRequire } from 'node:module';
import type { RunConfig } from '../pipeline/config.js';
import { type Progress, silent } from '../progress.js';
import { opt } from '../option-ref.js';
import { providerList } from '../runtime/session.js';
import {
  type CpuProbe, type ProviderProbe, type PythonProbe, type TrtexecProbe,
  onnxruntimeVersion, probeCpu, probeProviders, probePython, probeTrtexec,
} from './probes.js';

const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string; engines: { node: string } };

export interface Need {
  /** what the config asks for, named by its place in the config */
  what: string;
  met: boolean;
  detail: string;
}

export interface DoctorReport {
  passed: boolean;
  node: { version: string; required: string; meets: boolean };
  tdeploy: { version: string };
  onnxruntime: { version: string };
  providers: ProviderProbe[];
  cpu: CpuProbe;
  python: PythonProbe;
  trtexec: TrtexecProbe;
  config: { file: string; needs: Need[] } | null;
  notes: string[];
}

export interface DoctorOptions {
  /** a validated run config and the file it came from: its needs are checked */
  config?: { file: string; config: RunConfig };
  /** the interpreter to probe (what convert would be given) */
  python?: string;
}

/** Whether `version` (v20.15.1) meets a `>=20.15` range, the only form package.json uses. */
export function meetsRange(version: string, range: string): boolean {
  const want = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  if (!want) return true;
  const have = version.replace(/^v/, '').split('.').map(Number);
  const need = want.slice(1).map((n) => Number(n ?? 0));
  for (let i = 0; i < 3; i++) if ((have[i] ?? 0) !== need[i]) return (have[i] ?? 0) > need[i];
  return true;
}

export async function doctor(options: DoctorOptions = {}, progress: Progress = silent): Promise<DoctorReport> {
  const config = options.config?.config;
  progress({ kind: 'phase', phase: 'execution providers' });
  const providers = await probeProviders();
  progress({ kind: 'phase', phase: 'python' });
  const python = await probePython(options.python ?? (config?.model.python));
  progress({ kind: 'phase', phase: 'trtexec' });
  const trtexec = await probeTrtexec(config?.engine ? config.engine.trtexec : undefined);
  const node = { version: process.version, required: pkg.engines.node, meets: meetsRange(process.version, pkg.engines.node) };
  const needs = config ? configNeeds(config, { providers, python, trtexec }) : null;
  const notes: string[] = [];
  if (!python.torch && python.othersWithTorch.length) notes.push(`${python.command} has no torch, but ${python.othersWithTorch.join(', ')} has: point convert and run at it with ${opt('python')} or TDEPLOY_PYTHON`);
  if (!node.meets) notes.push(`Node ${node.version} is older than tdeploy needs (${node.required})`);
  return {
    passed: node.meets && (needs ?? []).every((n) => n.met),
    node,
    tdeploy: { version: pkg.version },
    onnxruntime: { version: onnxruntimeVersion() },
    providers,
    cpu: probeCpu(),
    python,
    trtexec,
    config: options.config && needs ? { file: options.config.file, needs } : null,
    notes,
  };
}

interface Found {
  providers: ProviderProbe[];
  python: PythonProbe;
  trtexec: TrtexecProbe;
}

/** torch.export archives convert with the torch.export-based exporter, which needs torch 2.5 (src/torch). */
const PT2_TORCH = [2, 5];

function atLeast(version: string, [major, minor]: number[]): boolean {
  const [a, b] = version.split(/[.+a-z]/).map(Number);
  return a > major || (a === major && b >= minor);
}

/** What each step of the config will call on, and whether this machine has it. */
function configNeeds(config: RunConfig, found: Found): Need[] {
  const needs: Need[] = [];
  const source = config.model.source;
  if (!source.toLowerCase().endsWith('.onnx')) {
    const { python } = found;
    const pt2 = source.toLowerCase().endsWith('.pt2');
    const torchOk = python.torch !== null && (!pt2 || atLeast(python.torch, PT2_TORCH));
    needs.push({
      what: `model.source: Python with torch${pt2 ? ` >= ${PT2_TORCH.join('.')}` : ''} for convert`,
      met: torchOk,
      detail: python.torch
        ? `${python.command} (${python.chosenBy}) has torch ${python.torch}`
        : `${python.command} (${python.chosenBy}) ${python.version ? 'has no torch' : 'could not be run'}${python.othersWithTorch.length ? `; ${python.othersWithTorch.join(', ')} has it (set model.python)` : ''}`,
    });
  }
  if (config.engine !== false) {
    const { trtexec } = found;
    needs.push({
      what: 'engine: trtexec (set engine to false to skip engines)',
      met: trtexec.tensorrt !== null,
      detail: trtexec.tensorrt ? `${trtexec.path} (TensorRT ${trtexec.tensorrt})` : trtexec.problem ?? 'not found',
    });
  }
  if (config.bench !== false && config.bench.provider !== undefined) {
    const wanted = providerList(config.bench.provider);
    const usable = wanted.find((p) => found.providers.find((q) => q.name === p)?.available);
    needs.push({
      what: `bench.provider: ${wanted.join(', ')}`,
      met: usable !== undefined,
      detail: usable ? `${usable} loads here` : `none of ${wanted.join(', ')} loads here`,
    });
  }
  return needs;
}
