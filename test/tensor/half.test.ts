import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from '../../src/tensor/tensor.js';

test('float16 bits convert both ways, with IEEE rounding', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [0.333251953125, 0x3555],
    [6.103515625e-5, 0x0400], [5.960464477539063e-8, 0x0001], [Infinity, 0x7c00], [-Infinity, 0xfc00],
  ];
  for (const [value, bits] of cases) {
    assert.equal(floatToHalf(value), bits, `${value}`);
    assert.equal(halfToFloat(bits), value);
  }
  assert.equal(floatToHalf(65520), 0x7c00, 'rounds past the largest half to infinity');
  assert.equal(floatToHalf(65519), 0x7bff);
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'ties go to even');
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(floatToHalf(2 ** -26), 0, 'below half the smallest subnormal flushes to zero');
  assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
});

test('bfloat16 bits convert both ways, with IEEE rounding', () => {
  assert.equal(floatToBfloat16(1), 0x3f80);
  assert.equal(floatToBfloat16(-3.140625), 0xc049);
  assert.equal(bfloat16ToFloat(0x3f80), 1);
  assert.equal(floatToBfloat16(1 + 2 ** -8), 0x3f80, 'tie to even');
  assert.equal(floatToBfloat16(1 + 3 * 2 ** -8), 0x3f82);
  assert.ok(Number.isNaN(bfloat16ToFloat(floatToBfloat16(NaN))));
});
