import fs from 'node:fs';
import { ToolError } from '../errors.js';
import { runTool } from '../process/runner.js';

/** A TensorRT release, as trtexec states it in its `&&&&` status lines. */
export interface TrtVersion {
  major: number;
  minor: number;
  patch: number;
  /** the `[bNN]` build number printed from 10.4 on */
  build?: number;
}

/** `major.minor.patch`, e.g. "10.16.1". */
export function formatVersion(v: TrtVersion): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

/** Parses "10.16" or "8.6.1" (used for the tables of flags by release). */
export function version(text: string): TrtVersion {
  const [major = 0, minor = 0, patch = 0] = text.split('.').map(Number);
  return { major, minor, patch };
}

export function compareVersions(a: TrtVersion, b: TrtVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export function atLeast(v: TrtVersion, text: string): boolean {
  return compareVersions(v, version(text)) >= 0;
}

/**
 * Decodes the number in `[TensorRT vNNNN]`: 8.x and 9.x print major*1000 + minor*100 + patch
 * (`v8601`), 10.x and later major*10000 + minor*100 + patch (`v101601`, 11.0 is `v110000`).
 */
export function decodeVersionNumber(n: number): TrtVersion {
  return n >= 100000
    ? { major: Math.floor(n / 10000), minor: Math.floor((n % 10000) / 100), patch: n % 100 }
    : { major: Math.floor(n / 1000), minor: Math.floor((n % 1000) / 100), patch: n % 100 };
}

const TAG = /\[TensorRT v(\d+)\](?: \[b(\d+)\])?/;

/** The version in an `&&&& RUNNING|PASSED|FAILED TensorRT.trtexec [TensorRT vNNNN] [bNN]` line (7.x prints none). */
export function versionFromTag(line: string): TrtVersion | undefined {
  const m = TAG.exec(line);
  if (!m) return undefined;
  const v = decodeVersionNumber(Number(m[1]));
  return m[2] === undefined ? v : { ...v, build: Number(m[2]) };
}

/** The options header's `TensorRT version: 8.2.3` (8.0 prints the bare number: `8003`). */
export function versionFromHeader(value: string): TrtVersion | undefined {
  const text = value.trim();
  if (/^\d+\.\d+\.\d+/.test(text)) return version(text);
  if (/^\d{4,6}$/.test(text)) return decodeVersionNumber(Number(text));
  return undefined;
}

const detected = new Map<string, TrtVersion>();

/**
 * The TensorRT version of a trtexec binary, from the RUNNING line its `--help` prints first
 * (exit 0, no PASSED line). Asked once per binary and process.
 */
export async function detectTrtVersion(trtexec: string): Promise<TrtVersion> {
  const stat = fs.statSync(trtexec);
  const key = `${trtexec}\0${stat.mtimeMs}\0${stat.size}`;
  const known = detected.get(key);
  if (known) return known;
  const result = await runTool({ file: trtexec, args: ['--help'], label: 'trtexec', timeoutMs: 60_000 });
  const running = `${result.stdout}\n${result.stderr}`.split('\n').find((l) => l.startsWith('&&&& '));
  const found = running ? versionFromTag(running) : undefined;
  if (!found) {
    const why = result.timedOut ? 'it did not answer within 60 s' : running ? `its first line has no version tag: ${running.slice(0, 120)}` : 'it printed no "&&&& RUNNING" line';
    throw new ToolError(`cannot tell the TensorRT version of ${trtexec}: ${why}`, {
      kind: 'trtexec-version',
      hint: 'tdeploy supports TensorRT 8.0 and later, whose trtexec prints "[TensorRT vNNNN]" (7.x prints no version)',
    });
  }
  detected.set(key, found);
  return found;
}
