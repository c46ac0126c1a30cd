import fs from 'node:fs';

/**
 * What the CPU can do for ONNX Runtime's integer kernels, and the weight range that keeps them
 * accurate. On x86 without VNNI, MLAS multiplies uint8 activations by int8 weights with
 * `vpmaddubsw`, which adds pairs of products into int16 and saturates: 255·127·2 > 32767. Weights
 * limited to 7 bits (±63) keep every pair within range (255·63·2 = 32130). VNNI (`vpdpbusd`)
 * accumulates in int32 and ARM's dot-product instructions do too, so full 8-bit weights are safe.
 */
/** The classes of CPU the kernel table (int8/kernels.ts) has a column for. */
export type CpuKind = 'x64-vnni' | 'x64-avx2' | 'arm64' | 'other';

export interface CpuProfile {
  kind: CpuKind;
  /** short description for the report, e.g. "x64 with AVX512-VNNI" */
  description: string;
  /** whether 7-bit weights are needed to avoid u8×s8 saturation */
  reduceRange: boolean;
  why: string;
}

interface CpuRow {
  /** matches /proc/cpuinfo flags (x64) or the architecture */
  test: (arch: string, flags: Set<string>) => boolean;
  profile: CpuProfile;
}

const rows: CpuRow[] = [
  {
    test: (arch, flags) => arch === 'x64' && (flags.has('avx512_vnni') || flags.has('avx_vnni')),
    profile: { kind: 'x64-vnni', description: 'x64 with VNNI', reduceRange: false, why: 'VNNI accumulates u8×s8 products in int32, so 8-bit weights cannot saturate' },
  },
  {
    test: (arch, flags) => arch === 'x64' && flags.has('avx2'),
    profile: { kind: 'x64-avx2', description: 'x64 with AVX2, no VNNI', reduceRange: true, why: 'without VNNI, u8×s8 pairs saturate int16; 7-bit weights avoid it' },
  },
  {
    test: (arch) => arch === 'arm64',
    profile: { kind: 'arm64', description: 'arm64', reduceRange: false, why: 'ARM dot-product kernels accumulate in int32' },
  },
  {
    test: () => true,
    profile: { kind: 'other', description: 'unknown CPU features', reduceRange: true, why: 'CPU features unknown; 7-bit weights are safe on every kernel' },
  },
];

export function cpuProfile(arch: string = process.arch, flags: Set<string> = cpuFlags()): CpuProfile {
  return rows.find((r) => r.test(arch, flags))!.profile;
}

/** The CPU's feature flags from /proc/cpuinfo (Linux); empty elsewhere. */
export function cpuFlags(): Set<string> {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const line = /^flags\s*:\s*(.*)$/m.exec(text);
    return new Set(line ? line[1].split(/\s+/) : []);
  } catch {
    return new Set();
  }
}
