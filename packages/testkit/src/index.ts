export * from './tarball.js';
export * from './registry.js';
export * from './clients.js';
export * from './malware-corpus.js';
export * from './zip.js';
