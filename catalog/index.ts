export * from './kinds.js';
export * from './topics.js';
export * from './reasons.js';
export * from './derived.js';
