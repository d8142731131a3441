export * from './limits.js';
export * from './npm-layout.js';
export * from './view.js';
export * from './manifest.js';
