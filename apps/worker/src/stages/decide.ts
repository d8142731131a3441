import {
  decisionColumns,
  decisionJson,
  evaluatePolicy,
  policyInForce,
  policyInputs,
  statusForOutcome,
  type PolicyDecision,
  type StagePatch,
} from '@spm/db';
import { PermanentError, TransientError } from '../errors.js';
import type { SourceRegistry } from '../registry/source.js';
import type { StageHandler, StageOutcome } from './types.js';

/** The clock the policy is evaluated at: injectable, so tests move time instead of sleeping. */
export type Clock = () => Date;

export interface DecideStageDeps {
  /** Where publication time and deprecation come from when the download stage did not record them. */
  registry?: Pick<SourceRegistry, 'versionFacts'>;
  now?: Clock;
}

/** The event reason and log line for a decision: which rule of which policy version, or why it waits. */
export function decisionLine(d: PolicyDecision): string {
  return `policy v${d.policyVersion}: ${d.reason}`;
}

/**
 * The decide stage (Security Scanned → Applying Policy → Approved | Pending Approval | Rejected, or
 * back to Security Scanned until a young version comes of age).
 *
 * Reads the policy in force together with the change generation (one statement), gathers the
 * package's facts (`policyInputs`: licence tier, latest scan findings, signals, registry facts,
 * dev/optional use, waivers, an approver's cooldown release), fetches the registry's publication time
 * and deprecation only when the download stage did not record them, and evaluates with the pure
 * `evaluatePolicy` at `now()`. The outcome is written by the worker in the fenced completion with the
 * version, the deciding rule, the reason and the generation, so a worker that lost its lease writes
 * nothing and a package is decided once, by one version. A cooldown sets `run_at` to the moment the
 * version comes of age: the package is claimed and evaluated again then, by itself.
 */
export function createDecideStage(deps: DecideStageDeps = {}): StageHandler {
  const now = deps.now ?? (() => new Date());
  return async ({ pkg, db, signal, log }): Promise<StageOutcome> => {
    let policy: Awaited<ReturnType<typeof policyInForce>>;
    let input;
    try {
      policy = await policyInForce(db);
      input = (await policyInputs(db, [pkg.packageId])).get(pkg.packageId);
    } catch (err) {
      throw new TransientError(`reading the policy failed: ${(err as Error).message}`, { cause: err });
    }
    if (!input) throw new PermanentError('error', `package ${pkg.packageId} has no status row to decide`);

    const patch: StagePatch = {};
    if (input.publishedAt === null && input.deprecated === null && deps.registry) {
      const facts = await deps.registry.versionFacts(pkg.name, pkg.version, signal);
      input = { ...input, publishedAt: facts.publishedAt, deprecated: facts.deprecated };
      patch.registry_published_at = facts.publishedAt;
      patch.registry_deprecated = facts.deprecated;
    }

    const at = now();
    const d = evaluatePolicy({ version: policy.policy.version, document: policy.policy.document }, input, at);
    Object.assign(patch, decisionColumns(d, policy.generation, at));
    const reason = decisionLine(d);
    const details = { ...decisionJson(d), generation: policy.generation };
    log.info({ policyVersion: d.policyVersion, rule: d.rule?.id ?? null, outcome: d.outcome, until: d.until }, reason);
    if (d.outcome === 'reject') return { kind: 'reject', rejection: 'policy', reason, patch, details };
    return {
      kind: 'done',
      to: statusForOutcome(d.outcome),
      runAt: d.outcome === 'wait' && d.until ? new Date(d.until) : undefined,
      patch,
      reason,
      details,
    };
  };
}
