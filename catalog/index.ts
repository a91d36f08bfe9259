export * from './kinds.js';
export * from './topics.js';
export * from './reasons.js';
export * from './derived.js';
export * from './ispu.js';
export * from './flood-levels.js';
export * from './traffic-los.js';
export * from './thresholds.js';
