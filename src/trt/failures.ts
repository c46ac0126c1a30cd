/**
 * Why a trtexec run failed, from its error lines: a table of patterns, scanned in order, the
 * first match deciding the kind and the hint. Order matters where causes share an ending: an
 * out-of-memory build often ends in "Could not find any implementation for node", which is also
 * how a genuinely unsupported layer ends, so the memory warnings are looked for first.
 */
import { opt } from '../option-ref.js';

export type FailureKind =
  | 'invalid-option' | 'parse-error' | 'unsupported-op' | 'out-of-memory' | 'calibration'
  | 'build-error' | 'runtime-error' | 'unknown'
  /** set by the runner when it killed trtexec, never read from a log */
  | 'timeout';

export interface Failure {
  kind: FailureKind;
  /** the decisive log lines, without timestamps */
  message: string;
  hint: string;
}

/** An [E]/[F]/[W] message: its first line and the unprefixed lines that continue it. */
export interface LogMessage {
  severity: 'E' | 'F' | 'W';
  text: string;
  more: string[];
  /** part of an ONNX node dump (`--- Begin node ---` ... `--- End node ---`) */
  dump: boolean;
}

interface FailureRule {
  kind: FailureKind;
  pattern: RegExp;
  hint: string | ((m: RegExpExecArray, log: string) => string);
  /** also look in [W] lines (memory trouble is often only a warning before the build gives up) */
  warnings?: boolean;
}

/** The op of the node the ONNX parser stopped at: `While parsing node number 0 [AddScalar -> "out"]`. */
const nodeOp = (log: string) => /While parsing node number \d+ \[([\w.]+)/.exec(log)?.[1];

export const FAILURE_RULES: FailureRule[] = [
  {
    kind: 'invalid-option', pattern: /Unknown option: (\S+)/,
    hint: (m) => `this trtexec does not know ${m[1]}: its release removed or renamed the flag, or a value was not attached with '=' (--flag=value)`,
  },
  {
    kind: 'invalid-option', pattern: /Cannot find input tensor with name "?([^"\s]+)/,
    hint: (m) => `the model has no input '${m[1]}': shapes must name the model's inputs ('tdeploy inspect <model>' lists them)`,
  },
  {
    kind: 'invalid-option', pattern: /no optimization profile has been defined|does not match network definition|Must specify only --optShapes|Invalid (?:DataType|TensorFormat|IOFormat)/,
    hint: `the shapes do not fit the model: give every dynamic input min,opt,max (${opt('profiles', 'name:MINxA,OPTxB,MAXxC')} or ${opt('dims', 'name=MIN,OPT,MAX')}) and keep the model's fixed dims`,
  },
  {
    kind: 'unsupported-op',
    pattern: /Plugin not found|checkFallbackPluginImporter|importFallbackPluginImporter|No importer registered for op|could not find plugin|UNSUPPORTED_NODE|Unsupported operator/i,
    hint: (_m, log) => `TensorRT has no importer or plugin for ${nodeOp(log) ? `the '${nodeOp(log)}' op` : 'an op of the model'}: ` +
      `load the plugin library that implements it (${opt('extra', '--staticPlugins=lib.so')} from 8.6, ${opt('extra', '--plugins=lib.so')} before) and check that it registers that name, version and namespace, or replace the op in the model`,
  },
  {
    kind: 'out-of-memory', warnings: true,
    pattern: /out of memory|OutOfMemory|could not be allocated|insufficient memory|cudaErrorMemoryAllocation|std::bad_alloc/i,
    hint: `the GPU ran out of memory: lower the max shapes of the profile, leave room with a smaller ${opt('workspaceMiB')}, stop other GPU processes, or use a GPU with more memory`,
  },
  {
    kind: 'calibration', pattern: /calibrat/i,
    hint: `INT8 calibration failed: check that ${opt('calib')} is a cache made for this model and TensorRT release, or quantize the model to QDQ (tdeploy quantize ${opt('to', 'int8')} ${opt('mode', 'static')}) and build without ${opt('calib')}`,
  },
  {
    kind: 'parse-error',
    pattern: /Failed to parse onnx file|While parsing node|In function parseGraph|Invalid Node|Parsing model failed|ModelImporter|Could not open file|Failed to load ONNX|IR version/i,
    hint: `TensorRT's ONNX parser rejected the model at the node named above: export with another opset (tdeploy convert ${opt('opset', 'N')}), fold constants and simplify the graph, or try a newer TensorRT`,
  },
  {
    kind: 'runtime-error',
    pattern: /Inference set up failed|Error occurred during inference|Engine deserialization failed|Failed to deserialize|not compatible with this version|illegal memory access|Failed to load engine/i,
    hint: 'the engine could not run: an engine runs only with the TensorRT release and GPU model it was built with, so rebuild it on this machine; otherwise check the input shapes against its profile',
  },
  {
    kind: 'build-error', pattern: /Could not find any implementation for node/,
    hint: `the builder has no kernel for that node at this precision and shape: give it more ${opt('workspaceMiB')}, build that part in FP32 (drop ${opt('precision', 'fp16')}/${opt('precision', 'int8')}), or try a newer TensorRT`,
  },
  {
    kind: 'build-error',
    pattern: /Building engine failed|Engine could not be created|buildSerializedNetwork|Network validation failed|Error Code \d+|Failed to create engine|Engine set up failed/,
    hint: `the TensorRT builder failed; the lines above say where. Rerun with ${opt('extra', '--verbose')} for the builder's detail`,
  },
];

/** The chain every failure ends with; it says that something failed, not what. */
const GENERIC = /^(Failed to parse onnx file|Parsing model failed|Failed to create engine from (model|model or file|file)\.?|Engine set up failed|Building engine failed|Engine could not be created from network|--- (Begin|End) node ---)$/;

/** Lines that make a log a failed run even without its `&&&& FAILED` (cut off before it). */
export const FATAL = /Failed to parse onnx file|Parsing model failed|Failed to create engine|Engine set up failed|Building engine failed|Engine could not be created|Inference set up failed|Error occurred during inference|Unknown option|Engine deserialization failed/;

const MAX_LINES = 6;
const MAX_CONTINUATION = 3;

/** A message's text without the library prefix and source location: `[TRT] ModelImporter.cpp:138: While ...` → `While ...`. */
export function cleanText(text: string): string {
  return text.replace(/^\[TRT\] /, '').replace(/^(?:[\w./-]+\.(?:cpp|h|hpp|cu):\d+: )/, '').replace(/^Error\[\d+\]: /, '').trim();
}

/**
 * trtexec prints its whole help after an unknown option, starting with `=== Model Options ===`;
 * nothing from there on (flags, their wrapped descriptions) says anything about the failure.
 */
const HELP_START = /^=== .* ===$/;

function lines(message: LogMessage): string[] {
  const more = message.more.map((l) => l.trim());
  const help = more.findIndex((l) => HELP_START.test(l));
  return [cleanText(message.text), ...more.slice(0, help < 0 ? undefined : help).filter(Boolean).slice(0, MAX_CONTINUATION)];
}

/**
 * Classifies a failed run from its [E]/[F] messages (and [W] ones for memory trouble).
 * `lastStep` is the last info line, for runs that fail without any error line.
 */
export function classifyFailure(messages: LogMessage[], lastStep: string | null): Failure {
  const errors = messages.filter((m) => m.severity !== 'W' && !m.dump);
  const chain = [...new Set(errors.flatMap(lines))];
  const decisive = chain.filter((l) => !GENERIC.test(l));
  const shown = (decisive.length ? decisive : chain).slice(0, MAX_LINES);
  const all = messages.map((m) => [m.text, ...m.more].join('\n')).join('\n');
  for (const rule of FAILURE_RULES) {
    for (const message of messages) {
      if (message.dump || (message.severity === 'W' && !rule.warnings)) continue;
      const m = rule.pattern.exec([message.text, ...message.more].join('\n'));
      if (!m) continue;
      const evidence = message.severity === 'W' ? [cleanText(message.text)] : [];
      const text = [...new Set([...evidence, ...shown])].slice(0, MAX_LINES).join('\n');
      return { kind: rule.kind, message: text, hint: typeof rule.hint === 'string' ? rule.hint : rule.hint(m, all) };
    }
  }
  if (errors.length) return { kind: 'unknown', message: shown.join('\n'), hint: 'no known cause matches these lines; the full log has the context' };
  return {
    kind: 'unknown',
    message: `trtexec reported FAILED without an error line${lastStep ? `; the last step it logged: ${lastStep}` : ''}`,
    hint: `run trtexec again with its --verbose (through tdeploy: ${opt('extra', '--verbose')}) to see what the builder did before it stopped`,
  };
}
