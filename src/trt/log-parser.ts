import fs from 'node:fs';
import readline from 'node:readline';
import { fileError } from '../errors.js';
import { type BindingFacts, type EngineBinding, assembleBindings, bindingLine, emptyFacts, parseDims } from './bindings.js';
import { FATAL, type Failure, type LogMessage, classifyFailure } from './failures.js';
import type { ShapeProfile } from './profiles.js';
import {
  LEGACY_SECTIONS, NUM, type LayerProfile, type PerformanceSummary, type StatsKey,
  type ProfileLayout, emptySummary, legacyLine, profileLayout, profileRow, summaryLine,
} from './summary.js';
import { type TrtVersion, versionFromHeader, versionFromTag } from './version.js';

export type Outcome = 'passed' | 'failed' | 'incomplete';

/** Everything tdeploy reads from a trtexec console log. */
export interface TrtexecReport {
  version: TrtVersion | null;
  outcome: Outcome;
  failure: Failure | null;
  /** the command line as trtexec echoed it in its status line */
  command: string | null;
  /** from the options header, e.g. ["fp32", "fp16"] */
  precision: string[];
  /** optimization profile 0, per input */
  shapes: Record<string, ShapeProfile>;
  /** the shapes inference ran at, per input */
  inferenceShapes: Record<string, number[]>;
  /** the engine file saved or loaded */
  engine: string | null;
  buildSeconds: number | null;
  engineSizeMiB: number | null;
  /** `Engine deserialized in` (or 8.x's `Engine loaded in`) */
  loadSeconds: number | null;
  inferenceSkipped: boolean;
  summary: PerformanceSummary | null;
  /** the --dumpProfile table */
  profile: LayerProfile | null;
  bindings: EngineBinding[];
  device: string | null;
  /** the text of each [W] line */
  warnings: string[];
  /** the first line of each [E] and [F] message */
  errors: string[];
  /** the last info line before the verdict: where a failed or cut-off run stopped */
  lastStep: string | null;
  /** whether anything in the text looked like trtexec output */
  recognized: boolean;
}

export interface LogParser {
  push(line: string): void;
  finish(): TrtexecReport;
}

type Section = 'none' | 'summary' | 'profile' | StatsKey;
const LEGACY = new Set<Section>(Object.values(LEGACY_SECTIONS));

interface State {
  section: Section;
  layout?: ProfileLayout;
  summary: PerformanceSummary | null;
  profile: LayerProfile | null;
  report: TrtexecReport;
  headerVersion?: TrtVersion;
}

/**
 * Logger lines are `[MM/DD/YYYY-HH:MM:SS] [S] message`. The timestamp is optional and may repeat:
 * 7.x and 8.0 wrote it to stdout even for messages that went to stderr, so captured streams show
 * `[W] text` alone on one and the timestamp glued to the next line on the other.
 */
const LOGGER_LINE = /^(?:\[\d\d\/\d\d\/\d{4}-\d\d:\d\d:\d\d\]\s*)*\[([IVWEF])\](?: (.*))?$/;
const STATUS_LINE = /^&&&& (RUNNING|PASSED|FAILED|WAIVED) \S+(.*?)(?: # (.*))?$/;

const buildShape = (s: State, m: RegExpExecArray) => {
  s.report.shapes[m[1]] = { min: parseDims(m[2]), opt: parseDims(m[3]), max: parseDims(m[4]) };
};
const inferenceShape = (s: State, m: RegExpExecArray) => {
  s.report.inferenceShapes[m[1]] = parseDims(m[2]);
};

/** Info lines worth reading, and what each sets. */
const INFO_LINES: [RegExp, (s: State, m: RegExpExecArray) => void][] = [
  [/^=== Performance summary ===$/, (s) => {
    s.section = 'summary';
    s.summary ??= emptySummary();
  }],
  [/^=== Profile \((\d+) iterations ?\) ===$/, (s, m) => {
    s.section = 'profile';
    s.layout = undefined;
    s.profile = { iterations: Number(m[1]), layers: [], total: null };
  }],
  [/^=== .* ===$/, (s) => {
    s.section = 'none';
  }],
  [/^(Host Latency|Host latency|Enqueue Time|GPU Compute)$/, (s, m) => {
    s.section = LEGACY_SECTIONS[m[1]];
    s.summary ??= emptySummary();
  }],
  [/^Precision: (.+)$/, (s, m) => {
    s.report.precision = m[1].replace(/\(.*\)/, '').trim().split('+').map((p) => p.trim().toLowerCase()).filter(Boolean);
  }],
  // the options header states the shapes; 10.x also logs each one as it sets it
  [/^Input build shape ?: (.+)=(\S+)\+(\S+)\+(\S+)$/, buildShape],
  [/^Set shape of input tensor (.+) for optimization profile 0 to: MIN=(\S+) OPT=(\S+) MAX=(\S+)$/, buildShape],
  [/^Input inference shape ?: (.+)=(\S+)$/, inferenceShape],
  [/^Set shape of input tensor (.+) to: (\S+)$/, inferenceShape],
  [/^(Save|Load) engine: (\S.*)$/, (s, m) => {
    s.report.engine = m[2].trim();
  }],
  [/^TensorRT version: (.+)$/, (s, m) => {
    s.headerVersion = versionFromHeader(m[1]);
  }],
  [/^Selected Device: (.+)$/, (s, m) => {
    s.report.device = m[1].trim();
  }],
  [new RegExp(`^Engine built in (${NUM}) sec`), (s, m) => {
    s.report.buildSeconds = Number(m[1]);
  }],
  [new RegExp(`^Created engine with size: (${NUM}) MiB`), (s, m) => {
    s.report.engineSizeMiB = Number(m[1]);
  }],
  [new RegExp(`^Engine (?:loaded|deserialized) in (${NUM}) sec`), (s, m) => {
    s.report.loadSeconds = Number(m[1]);
  }],
  [/^Skipped inference phase/, (s) => {
    s.report.inferenceSkipped = true;
  }],
];

/** How many unprefixed lines a message keeps (trtexec prints its whole help after "Unknown option"). */
const MAX_CONTINUATION = 50;

/** A parser fed one line at a time, so a running build is parsed as it streams. */
export function createLogParser(): LogParser {
  const report: TrtexecReport = {
    version: null, outcome: 'incomplete', failure: null, command: null, precision: [], shapes: {}, inferenceShapes: {},
    engine: null, buildSeconds: null, engineSizeMiB: null, loadSeconds: null, inferenceSkipped: false, summary: null,
    profile: null, bindings: [], device: null, warnings: [], errors: [], lastStep: null, recognized: false,
  };
  const state: State = { section: 'none', summary: null, profile: null, report };
  const facts: BindingFacts = emptyFacts();
  const messages: LogMessage[] = [];
  let last: LogMessage | undefined;
  let inDump = false;
  let verdict: string | undefined;
  let tagVersion: TrtVersion | undefined;

  function info(text: string): void {
    if (state.section === 'summary' && summaryLine(state.summary!, text)) return;
    if (state.section === 'profile') {
      if (!state.layout) {
        state.layout = profileLayout(text);
        if (state.layout) return;
      } else {
        const row = profileRow(state.layout, text);
        if (row) {
          if (row.name === 'Total') state.profile!.total = row;
          else state.profile!.layers.push(row);
          return;
        }
      }
      state.section = 'none';
    }
    if (LEGACY.has(state.section)) {
      if (legacyLine(state.summary!, state.section as StatsKey, text)) return;
      state.section = 'none';
    }
    if (bindingLine(facts, text)) return;
    for (const [pattern, apply] of INFO_LINES) {
      const m = pattern.exec(text);
      if (m) return apply(state, m);
    }
    // 8.4 and 8.5 print the profile table's header without a "=== Profile ===" line before it
    const layout = text.includes('Layer') ? profileLayout(text) : undefined;
    if (layout) {
      state.section = 'profile';
      state.layout = layout;
      state.profile = { iterations: null, layers: [], total: null };
    }
  }

  function push(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const status = STATUS_LINE.exec(line);
    if (status) {
      report.recognized = true;
      last = undefined;
      state.section = 'none';
      tagVersion ??= versionFromTag(line);
      report.command ??= status[3] ?? null;
      if (status[1] !== 'RUNNING') verdict ??= status[1];
      return;
    }
    const logged = LOGGER_LINE.exec(line);
    if (!logged) {
      if (last && last.more.length < MAX_CONTINUATION) last.more.push(line);
      return;
    }
    report.recognized = true;
    const [, severity, text = ''] = logged;
    last = undefined;
    if (severity === 'I') {
      if (text.trim() && !verdict) report.lastStep = text.trim();
      info(text);
    } else if (severity === 'V') {
      bindingLine(facts, text);
    } else {
      if (text.includes('--- Begin node ---')) inDump = true;
      last = { severity: severity as LogMessage['severity'], text, more: [], dump: inDump };
      if (text.includes('--- End node ---')) inDump = false;
      messages.push(last);
      if (severity === 'W') report.warnings.push(text.trim());
      else report.errors.push(text.trim());
    }
  }

  function finish(): TrtexecReport {
    report.version = tagVersion ?? state.headerVersion ?? null;
    // 10.x does not echo the engine's path in the header; the command line has it
    const engineFlag = /--(save|load)Engine=(\S+)/.exec(report.command ?? '');
    report.engine ??= engineFlag?.[2] ?? null;
    // a loaded engine's header echoes default build options and --shapes as build shapes; its real ones are not printed
    if (engineFlag?.[1] === 'load') {
      report.shapes = {};
      report.precision = [];
    }
    const errors = messages.filter((m) => m.severity !== 'W');
    const fatal = errors.some((m) => m.severity === 'F' || FATAL.test(m.text));
    report.outcome = verdict === 'FAILED' ? 'failed' : verdict ? 'passed' : fatal ? 'failed' : 'incomplete';
    report.failure = report.outcome === 'failed' ? classifyFailure(messages, report.lastStep) : null;
    report.summary = state.summary;
    report.profile = state.profile;
    report.bindings = assembleBindings(facts, report.shapes);
    return report;
  }

  return { push, finish };
}

/** Parses a whole trtexec console log (stdout and stderr together). */
export function parseTrtexecLog(text: string): TrtexecReport {
  const parser = createLogParser();
  for (const line of text.split('\n')) parser.push(line);
  return parser.finish();
}

/** Parses a trtexec log file line by line, so a verbose log of any size is read without holding it whole. */
export async function readTrtexecLog(file: string, what = 'log'): Promise<TrtexecReport> {
  const parser = createLogParser();
  try {
    for await (const line of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) parser.push(line);
  } catch (error) {
    throw fileError(file, error, what);
  }
  return parser.finish();
}

/** The engine's inputs and outputs as far as a log tells them (see EngineBinding for what each release prints). */
export function engineBindings(log: string): EngineBinding[] {
  return parseTrtexecLog(log).bindings;
}
