export { BaseWorker, StageAbort, WORKER_ID_FILE, classify, type BaseWorkerOptions } from './base-worker.js';
export { PackageWorker } from './package-worker.js';
export { loadConfig, type WorkerConfig } from './config.js';
export { TransientError, PermanentError } from './errors.js';
export type { StageContext, StageHandler, StageOutcome } from './stages/types.js';
export * from './cache.js';
export { SourceRegistry, type VersionDocument } from './registry/source.js';
export { evaluateLicence, compareLicences, declaredLicenceText, type LicenceVerdict } from './licence/policy.js';
