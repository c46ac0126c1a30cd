/**
 * What this machine offers tdeploy, each probe measured rather than assumed: a provider counts
 * when onnxruntime really opens a session on it, torch when the interpreter imports it.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import ort from 'onnxruntime-node';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelProtoSchema, TensorProto_DataType } from '../onnx/gen/onnx_pb.js';
import { cpuFlags, cpuProfile } from '../quantize/cpu.js';
import { runTool } from '../process/runner.js';
import { PROVIDERS, type Provider, openSession } from '../runtime/session.js';
import { choosePython, pythonsWithTorch } from '../torch/python.js';
import { findTrtexec } from '../trt/locate.js';
import { detectTrtVersion, formatVersion } from '../trt/version.js';

export interface ProviderProbe {
  name: Provider;
  available: boolean;
  /** why not, in onnxruntime's words */
  reason: string | null;
}

/** A one-node model held in memory: enough for onnxruntime to load a provider and run. */
function identityModel(): Uint8Array {
  const value = { name: 'x', type: { value: { case: 'tensorType' as const, value: { elemType: TensorProto_DataType.FLOAT, shape: { dim: [{ value: { case: 'dimValue' as const, value: 1n } }] } } } } };
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, {
    irVersion: 8n,
    opsetImport: [{ domain: '', version: 17n }],
    graph: { name: 'probe', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], input: [value], output: [{ ...value, name: 'y' }] },
  }));
}

export async function probeProviders(): Promise<ProviderProbe[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-doctor-'));
  const model = path.join(dir, 'identity.onnx');
  fs.writeFileSync(model, identityModel());
  try {
    const probes: ProviderProbe[] = [];
    for (const name of PROVIDERS) {
      try {
        const session = await openSession(model, { provider: [name] });
        const y = (await session.run(new Map([['x', { dtype: 'float32', shape: [1], data: new Float32Array([3]) }]]))).get('y');
        await session.release();
        const ran = y?.data[0] === 3;
        probes.push({ name, available: ran, reason: ran ? null : 'the probe model gave a wrong result' });
      } catch (error) {
        probes.push({ name, available: false, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    return probes;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface CpuProbe {
  model: string;
  arch: string;
  cores: number;
  /** the instruction sets that change which INT8 kernels are fast and exact */
  features: { vnni: boolean; avx512: boolean; avx2: boolean; dotprod: boolean };
  /** what quantize chooses for INT8 weights here, and why */
  int8: string;
}

export function probeCpu(): CpuProbe {
  const flags = cpuFlags();
  const profile = cpuProfile();
  return {
    model: os.cpus()[0]?.model.trim() ?? 'unknown',
    arch: process.arch,
    cores: os.availableParallelism(),
    features: {
      vnni: flags.has('avx512_vnni') || flags.has('avx_vnni'),
      avx512: flags.has('avx512f'),
      avx2: flags.has('avx2'),
      // arm64 Linux lists the dot-product instructions as `asimddp`
      dotprod: flags.has('asimddp'),
    },
    int8: `${profile.reduceRange ? '7-bit' : '8-bit'} weights (${profile.description}): ${profile.why}`,
  };
}

export interface PythonProbe {
  /** the interpreter convert and run use, and how it was chosen */
  command: string;
  chosenBy: string;
  /** null when it could not be run */
  version: string | null;
  torch: string | null;
  onnx: string | null;
  /** other interpreters on this machine that have torch, when this one has not */
  othersWithTorch: string[];
}

const VERSIONS = [
  'import importlib.util, importlib.metadata as m, sys, json',
  'v = lambda n: m.version(n) if importlib.util.find_spec(n) else None',
  'print(json.dumps({"python": sys.version.split()[0], "torch": v("torch"), "onnx": v("onnx")}))',
].join('\n');

export async function probePython(flag?: string): Promise<PythonProbe> {
  const chosen = choosePython(flag);
  const run = await runTool({ file: chosen.command, args: ['-c', VERSIONS], label: 'python', timeoutMs: 20_000 }).catch(() => undefined);
  let found: { python?: string; torch?: string | null; onnx?: string | null } = {};
  try {
    if (run?.exitCode === 0) found = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
  } catch {
    found = {};
  }
  const torch = found.torch ?? null;
  return {
    command: chosen.command,
    chosenBy: chosen.chosenBy,
    version: found.python ?? null,
    torch,
    onnx: found.onnx ?? null,
    othersWithTorch: torch ? [] : await pythonsWithTorch(chosen.command),
  };
}

export interface TrtexecProbe {
  path: string | null;
  source: string | null;
  tensorrt: string | null;
  /** why it was not found, or its version could not be told */
  problem: string | null;
}

export async function probeTrtexec(trtexec?: string): Promise<TrtexecProbe> {
  let found;
  try {
    found = findTrtexec({ trtexec });
  } catch (error) {
    return { path: null, source: null, tensorrt: null, problem: error instanceof Error ? error.message : String(error) };
  }
  try {
    return { path: found.path, source: found.source, tensorrt: formatVersion(await detectTrtVersion(found.path)), problem: null };
  } catch (error) {
    return { path: found.path, source: found.source, tensorrt: null, problem: error instanceof Error ? error.message : String(error) };
  }
}

export function onnxruntimeVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}
