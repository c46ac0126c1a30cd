/** What quantize converts to, and how INT8 finds its activation scales: the values its modules share. */
export const TARGETS = ['fp16', 'int8'] as const;
export type Target = (typeof TARGETS)[number];

export const INT8_MODES = ['dynamic', 'static'] as const;
export type Int8Mode = (typeof INT8_MODES)[number];
