export * from './tarball.js';
export * from './registry.js';
