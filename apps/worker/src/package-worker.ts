import type { StageName } from '@spm/db';
import { BaseWorker, type BaseWorkerOptions } from './base-worker.js';
import { LicencePolicyCache } from './licence/tiers.js';
import { SourceRegistry } from './registry/source.js';
import { createDownloadStage } from './stages/download.js';
import { createLicenceStage } from './stages/licence.js';
import type { StageHandler } from './stages/types.js';

/**
 * The pipeline's stages, and nothing else: BaseWorker runs them. A stage without a handler here is
 * never claimed, so its packages wait at the checkpoint instead of being simulated.
 */
export class PackageWorker extends BaseWorker {
  private readonly handlers: Partial<Record<StageName, StageHandler>>;

  constructor(opts: BaseWorkerOptions & { registry?: SourceRegistry }) {
    super(opts);
    const registry =
      opts.registry ??
      new SourceRegistry({
        url: opts.config.sourceRegistryUrl,
        token: opts.config.sourceRegistryToken,
        timeoutMs: opts.config.downloadTimeoutSeconds * 1000,
      });
    this.handlers = {
      licence: createLicenceStage({ registry, policy: new LicencePolicyCache() }),
      download: createDownloadStage({ registry }),
    };
  }

  protected stageHandler(stage: StageName): StageHandler | undefined {
    return this.handlers[stage];
  }
}
