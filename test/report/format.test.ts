import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatNumber } from '../../src/report/format.js';

test('numbers print compactly without exponents in the everyday range', () => {
  assert.equal(formatNumber(23188.6), '23188.6');
  assert.equal(formatNumber(1234567), '1,234,567');
  assert.equal(formatNumber(0.000012), '1.200e-5');
  assert.equal(formatNumber(3.14159), '3.142');
  assert.equal(formatNumber(2.5e7 + 0.5), '2.500e+7');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(700), '700 B');
});
