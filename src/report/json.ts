import type { ReportDocument } from './document.js';

/** JSON has no bigint, NaN or Infinity: bigints become numbers, non-finite numbers strings. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, jsonReplacer, 2)}\n`;
}

/** `json`: the document's data, notes included. */
export function renderJson(doc: ReportDocument): string {
  return toJson(doc.data);
}
