/**
 * The kernel table: for each INT8 form tdeploy can emit, how much faster than float ONNX
 * Runtime's CPU provider runs it, measured by bench/int8-kernels.ts (one op, float and int8 side
 * by side, static forms between int8 neighbours). INT8 is only worth its drift where its kernel
 * wins: a form whose measured speed-up is below 1 stays float, with the figure as the reason.
 *
 * Measured with onnxruntime-node 1.30.0, default threads, on 2 shared cores under other processes'
 * load (ratios near 1 are ties): x64-avx2 on an AMD EPYC without VNNI, x64-vnni on an Intel Xeon
 * with AVX512-VNNI (the median of three runs' ratios). arm64 was not measured: its column is
 * empty, and a CPU without its own figures uses the x64 AVX2 ones, which the report says. Island rows (`static-conv-island`) time one Conv in int8
 * between float Convs, paying for the conversions at its edges: they set `islandLoses`.
 */
import type { CpuKind, CpuProfile } from '../cpu.js';

export type KernelForm =
  | 'dynamic-matmul' | 'dynamic-conv'
  | 'static-conv' | 'static-conv-island' | 'static-matmul' | 'static-gemm'
  | 'static-add' | 'static-mul' | 'static-concat' | 'static-maxpool' | 'static-averagepool' | 'static-globalaveragepool' | 'static-sigmoid';

export interface KernelRow {
  form: KernelForm;
  /** the op and its size, as the benchmark built it */
  shape: string;
  /** what ONNX Runtime ran the int8 model as */
  ranAs: string;
  /** float time / int8 time, per CPU class; absent where not measured */
  speedup: Partial<Record<CpuKind, number>>;
  /**
   * A small product, measured to show where the form stops paying: it does not decide the form,
   * and a static node of at most these multiply-adds per sample stays float (`tooSmall`).
   */
  small?: { macs: number };
  /**
   * Island rows (a Conv between float neighbours): its multiply-adds per value converted between
   * float and int8 at its edges (input and output elements), what the island's cost grows with.
   */
  island?: { macsPerValue: number };
}

/** The CPU class whose figures stand in for a class that has none. */
const MEASURED: CpuKind = 'x64-avx2';

/** The benchmark's output, one row per form and shape. */
export const KERNEL_TABLE: KernelRow[] = [
  { form: 'dynamic-matmul', shape: 'MatMul 128 tokens × 768→768', ranAs: 'DynamicQuantizeMatMul', speedup: { 'x64-avx2': 6.0, 'x64-vnni': 10.05 } },
  { form: 'dynamic-matmul', shape: 'MatMul 128 tokens × 768→3072', ranAs: 'DynamicQuantizeMatMul', speedup: { 'x64-avx2': 1.68, 'x64-vnni': 2.32 } },
  { form: 'dynamic-matmul', shape: 'MatMul 2 rows × 1280→1000 (a CNN classifier)', ranAs: 'DynamicQuantizeMatMul', speedup: { 'x64-avx2': 2.85, 'x64-vnni': 2.45 } },
  { form: 'dynamic-matmul', shape: 'MatMul 16 tokens × 64→64', ranAs: 'DynamicQuantizeMatMul', speedup: { 'x64-avx2': 0.94, 'x64-vnni': 0.95 }, small: { macs: 16 * 64 * 64 } },
  { form: 'dynamic-conv', shape: 'Conv 64→64 3×3 on 56×56', ranAs: 'DynamicQuantizeLinear+ConvInteger+Cast+Mul', speedup: { 'x64-avx2': 0.41, 'x64-vnni': 0.26 } },
  { form: 'dynamic-conv', shape: 'Conv 64→256 1×1 on 56×56', ranAs: 'DynamicQuantizeLinear+ConvInteger+Cast+Mul', speedup: { 'x64-avx2': 0.45, 'x64-vnni': 0.33 } },
  { form: 'dynamic-conv', shape: 'Conv 96→96 3×3 depthwise on 56×56', ranAs: 'DynamicQuantizeLinear+ConvInteger+Cast+Mul', speedup: { 'x64-avx2': 0.26, 'x64-vnni': 0.11 } },
  { form: 'dynamic-conv', shape: 'Conv 3→64 7×7 stride 2 on 224×224', ranAs: 'DynamicQuantizeLinear+ConvInteger+Cast+Mul', speedup: { 'x64-avx2': 0.39, 'x64-vnni': 0.23 } },
  { form: 'static-conv', shape: 'Conv+Relu 64→64 3×3 on 56×56', ranAs: 'QLinearConv', speedup: { 'x64-avx2': 1.55, 'x64-vnni': 8.63 } },
  { form: 'static-conv', shape: 'Conv+Relu 64→256 1×1 on 56×56', ranAs: 'QLinearConv', speedup: { 'x64-avx2': 2.96, 'x64-vnni': 3.01 } },
  { form: 'static-conv', shape: 'Conv+Relu 96→96 3×3 depthwise on 56×56', ranAs: 'QLinearConv', speedup: { 'x64-avx2': 12.07, 'x64-vnni': 2.35 } },
  { form: 'static-conv', shape: 'Conv+Relu 3→64 7×7 stride 2 on 224×224', ranAs: 'QLinearConv', speedup: { 'x64-avx2': 1.5, 'x64-vnni': 1.03 } },
  { form: 'static-conv', shape: 'Conv+Relu 16→16 3×3 on 14×14', ranAs: 'QLinearConv', speedup: { 'x64-avx2': 1.03, 'x64-vnni': 1.13 }, small: { macs: 16 * 16 * 9 * 14 * 14 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 64→64 3×3 on 56×56, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 1.12, 'x64-vnni': 1.26 }, island: { macsPerValue: 288 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 64→256 1×1 on 56×56, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 0.98, 'x64-vnni': 0.83 }, island: { macsPerValue: 51.2 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 96→96 3×3 depthwise on 56×56, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 0.66, 'x64-vnni': 0.89 }, island: { macsPerValue: 4.5 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 3→64 7×7 stride 2 on 224×224, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 0.79, 'x64-vnni': 0.74 }, island: { macsPerValue: 123.79 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 16→16 3×3 on 14×14, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 0.99, 'x64-vnni': 0.82 }, island: { macsPerValue: 72 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 3→16 3×3 stride 2 on 224×224, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 0.81, 'x64-vnni': 0.59 }, island: { macsPerValue: 15.43 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 24→88 1×1 on 28×28, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 0.76, 'x64-vnni': 0.78 }, island: { macsPerValue: 18.86 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 88→88 3×3 depthwise on 28×28, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 0.66, 'x64-vnni': 0.34 }, island: { macsPerValue: 4.5 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 240→240 5×5 depthwise on 14×14, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 0.88, 'x64-vnni': 0.91 }, island: { macsPerValue: 12.5 } },
  { form: 'static-conv-island', shape: 'Conv+Relu 96→576 1×1 on 7×7, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear', speedup: { 'x64-avx2': 1.05, 'x64-vnni': 0.6 }, island: { macsPerValue: 82.29 } },
  { form: 'static-conv-island', shape: 'Conv+HardSwish 64→64 3×3 on 56×56, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear+HardSigmoid+Mul', speedup: { 'x64-avx2': 1.19, 'x64-vnni': 1.08 }, island: { macsPerValue: 288 } },
  { form: 'static-conv-island', shape: 'Conv+HardSwish 64→256 1×1 on 56×56, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear+HardSigmoid+Mul', speedup: { 'x64-avx2': 0.94, 'x64-vnni': 0.67 }, island: { macsPerValue: 51.2 } },
  { form: 'static-conv-island', shape: 'Conv+HardSwish 3→16 3×3 stride 2 on 224×224, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear+HardSigmoid+Mul', speedup: { 'x64-avx2': 0.28, 'x64-vnni': 0.9 }, island: { macsPerValue: 15.43 } },
  { form: 'static-conv-island', shape: 'Conv+HardSwish 40→240 1×1 on 14×14, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear+HardSigmoid+Mul', speedup: { 'x64-avx2': 0.94, 'x64-vnni': 0.9 }, island: { macsPerValue: 34.29 } },
  { form: 'static-conv-island', shape: 'Conv+HardSwish 96→576 1×1 on 7×7, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear+HardSigmoid+Mul', speedup: { 'x64-avx2': 1.16, 'x64-vnni': 0.88 }, island: { macsPerValue: 82.29 } },
  { form: 'static-conv-island', shape: 'Conv+HardSwish 240→240 5×5 depthwise on 14×14, between float 1×1 Convs', ranAs: 'QuantizeLinear+Transpose+QLinearConv+DequantizeLinear+HardSigmoid+Mul', speedup: { 'x64-avx2': 1.11, 'x64-vnni': 0.86 }, island: { macsPerValue: 12.5 } },
  { form: 'static-matmul', shape: 'MatMul+bias 128 tokens × 768→768', ranAs: 'QGemm', speedup: { 'x64-avx2': 5.14, 'x64-vnni': 12.8 } },
  { form: 'static-matmul', shape: 'MatMul+bias 128 tokens × 768→3072', ranAs: 'QGemm', speedup: { 'x64-avx2': 1.5, 'x64-vnni': 2.25 } },
  { form: 'static-gemm', shape: 'Gemm batch 1 × 2048→1000', ranAs: 'QGemm', speedup: { 'x64-avx2': 3.49, 'x64-vnni': 2.37 } },
  { form: 'static-gemm', shape: 'Gemm batch 1 × 64→10', ranAs: 'QGemm', speedup: { 'x64-avx2': 1.07, 'x64-vnni': 0.87 }, small: { macs: 64 * 10 } },
  { form: 'static-add', shape: 'Add 1×64×56×56', ranAs: 'QLinearAdd', speedup: { 'x64-avx2': 2.03, 'x64-vnni': 2.22 } },
  { form: 'static-mul', shape: 'Mul 1×64×56×56', ranAs: 'QLinearMul', speedup: { 'x64-avx2': 1.35, 'x64-vnni': 1.83 } },
  { form: 'static-concat', shape: 'Concat 2 × 1×64×28×28', ranAs: 'QLinearConcat', speedup: { 'x64-avx2': 2.06, 'x64-vnni': 2.1 } },
  { form: 'static-maxpool', shape: 'MaxPool 3×3 stride 2 on 1×64×112×112', ranAs: 'MaxPool (uint8)', speedup: { 'x64-avx2': 0.29, 'x64-vnni': 0.17 } },
  { form: 'static-averagepool', shape: 'AveragePool 2×2 on 1×64×56×56', ranAs: 'QLinearAveragePool', speedup: { 'x64-avx2': 0.16, 'x64-vnni': 0.32 } },
  { form: 'static-globalaveragepool', shape: 'GlobalAveragePool 1×1280×7×7', ranAs: 'QLinearGlobalAveragePool', speedup: { 'x64-avx2': 1.64, 'x64-vnni': 1.15 } },
  { form: 'static-sigmoid', shape: 'Sigmoid 1×64×56×56', ranAs: 'QLinearSigmoid', speedup: { 'x64-avx2': 1.73, 'x64-vnni': 1.65 } },
];

export interface KernelVerdict {
  wins: boolean;
  /** the slowest measured speed-up of the form (its `small` rows aside) */
  speedup: number;
  /** the CPU class the figure was measured on */
  measuredOn: CpuKind;
  /** what ONNX Runtime runs the form as */
  ranAs: string;
}

/** The CPU class whose figures the rows are read in: this CPU's where they have them. */
function columnFor(rows: KernelRow[], cpu: CpuProfile): CpuKind {
  return rows.some((r) => r.speedup[cpu.kind] !== undefined) ? cpu.kind : MEASURED;
}

export function kernelVerdict(form: KernelForm, cpu: CpuProfile): KernelVerdict {
  const rows = KERNEL_TABLE.filter((r) => r.form === form && !r.small);
  const measuredOn = columnFor(rows, cpu);
  const speedup = Math.min(...rows.map((r) => r.speedup[measuredOn]!));
  return { wins: speedup >= 1, speedup, measuredOn, ranAs: rows[0].ranAs };
}

/**
 * Static forms pay for a QuantizeLinear, a DequantizeLinear and layout changes around their
 * int8 region; below the size of the form's small row, where the kernel alone barely ties, they
 * lose. The reason to keep such a node float, or undefined when it is large enough (or its size
 * is not known: symbolic dims count as 1, so an unknown size is only ever underestimated).
 */
export function tooSmall(form: KernelForm, macs: number, cpu: CpuProfile): string | undefined {
  const small = KERNEL_TABLE.find((r) => r.form === form && r.small);
  if (!small?.small || macs > small.small.macs) return undefined;
  const at = small.speedup[cpu.kind] ?? small.speedup[MEASURED]!;
  return `too small for INT8 to pay: ${macs.toLocaleString('en-US')} multiply-adds per sample, and the int8 kernel ran at ${at.toFixed(2)}× float at ${small.small.macs.toLocaleString('en-US')} (${small.shape})`;
}

/**
 * A static Conv whose input or output crosses from or to float pays a QuantizeLinear or
 * DequantizeLinear and a layout change (ORT's QLinearConv runs channels-last) per value crossing,
 * which its kernel must win back: a depthwise Conv does 9 multiply-adds per output value, too few.
 * The break-even is the most multiply-adds per converted value at which a measured island lost;
 * the reason to keep a Conv at or below it float, or undefined when it pays.
 */
export function islandLoses(macsPerValue: number, cpu: CpuProfile): string | undefined {
  const rows = KERNEL_TABLE.filter((r) => r.island);
  const measuredOn = columnFor(rows, cpu);
  const [worst] = rows.filter((r) => r.speedup[measuredOn]! < 1).sort((a, b) => b.island!.macsPerValue - a.island!.macsPerValue);
  if (!worst || macsPerValue > worst.island!.macsPerValue) return undefined;
  return `its int8 island costs more than it saves: ${macsPerValue.toFixed(1)} multiply-adds per value converted between float and int8 at its edges, and a Conv between float neighbours ran at ${worst.speedup[measuredOn]!.toFixed(2)}× float at ${worst.island!.macsPerValue} (${worst.shape}, ${measuredOn}, bench/int8-kernels.ts)`;
}

/** The reason a node of a losing form stays float, for `blockedNodes`. */
export function losingReason(verdict: KernelVerdict): string {
  return `no faster INT8 kernel on this CPU: ${verdict.ranAs} ran at ${verdict.speedup.toFixed(2)}× float speed (${verdict.measuredOn}, bench/int8-kernels.ts)`;
}

/** Said once when the CPU has no figures of its own. */
export function borrowedNote(cpu: CpuProfile): string | undefined {
  return KERNEL_TABLE.some((r) => r.speedup[cpu.kind] !== undefined)
    ? undefined
    : `the INT8 kernel table has no figures for this CPU (${cpu.description}); it uses those measured on ${MEASURED}`;
}
