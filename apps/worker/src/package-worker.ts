import { requeueForPolicyChange, type StageName } from '@spm/db';
import { BaseWorker, type BaseWorkerOptions } from './base-worker.js';
import { LicencePolicyCache } from './licence/tiers.js';
import { syncTargetDeprecations } from './protection/target-deprecation.js';
import { SourceRegistry } from './registry/source.js';
import { createDecideStage, type Clock } from './stages/decide.js';
import { createDownloadStage } from './stages/download.js';
import { createLicenceStage } from './stages/licence.js';
import { createPublishStage } from './stages/publish.js';
import { createScanStage } from './stages/scan.js';
import type { StageHandler } from './stages/types.js';

/**
 * The pipeline's stages, and nothing else: BaseWorker runs them. A stage without a handler here (or
 * left out of WORKER_STAGES) is never claimed, so its packages wait at the checkpoint.
 */
export class PackageWorker extends BaseWorker {
  private readonly handlers: Partial<Record<StageName, StageHandler>>;

  constructor(opts: BaseWorkerOptions & { registry?: SourceRegistry; now?: Clock }) {
    super(opts);
    // One source registry client for every stage, so the licence, download and scan stages of a
    // package share its version document.
    const registry = opts.registry ?? SourceRegistry.fromConfig(opts.config);
    const all: Record<StageName, StageHandler> = {
      licence: createLicenceStage({ registry, policy: new LicencePolicyCache() }),
      download: createDownloadStage({ registry }),
      scan: createScanStage({ registry }),
      decide: createDecideStage({ registry, now: opts.now }),
      publish: createPublishStage(),
    };
    this.handlers = Object.fromEntries(opts.config.stages.map((s) => [s, all[s]]));
  }

  protected stageHandler(stage: StageName): StageHandler | undefined {
    return this.handlers[stage];
  }

  /**
   * After the policy or a waiver changed, packages still waiting that were decided under the older
   * rules go back to the decide stage: at most POLICY_REEVALUATION_BATCH per sweep (bounded work,
   * shared between workers by SKIP LOCKED). Only a worker that runs the decide stage does this.
   * A worker that publishes also brings the target registry's deprecations in line with the quarantine.
   */
  protected override async maintenance(): Promise<void> {
    const c = this.config;
    if (this.handlers.publish && c.targetRegistryUrl) {
      await syncTargetDeprecations(this.db, {
        targetRegistryUrl: c.targetRegistryUrl,
        targetRegistryToken: c.targetRegistryToken,
        timeoutMs: c.downloadTimeoutSeconds * 1000,
        contact: c.advisories.quarantineContact,
        log: this.log,
      });
    }
    if (!this.handlers.decide) return;
    const moved = await requeueForPolicyChange(this.db, {
      limit: this.config.policyReevaluationBatch,
      actor: `policy:${this.id}`,
    });
    if (moved.length)
      this.log.info(
        { packages: moved.length },
        'the policy or a waiver changed: packages still waiting are evaluated again',
      );
  }
}
