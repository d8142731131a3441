import { blockedReason, evaluateLicence } from '../licence/policy.js';
import type { LicencePolicyCache } from '../licence/tiers.js';
import type { SourceRegistry } from '../registry/source.js';
import type { StageHandler } from './types.js';

/**
 * The licence stage. The licence comes from the lockfile entry, or else from the source registry's
 * version document; it is evaluated against the current policy. Blocked → rejected (policy) naming the
 * licence; avoid and unknown pass, flagged; every verdict is stored on the package.
 */
export function createLicenceStage(deps: { registry: SourceRegistry; policy: LicencePolicyCache }): StageHandler {
  return async ({ pkg, signal, db }) => {
    let declared: unknown = pkg.declaredLicense;
    let source: 'lockfile' | 'registry' = 'lockfile';
    if (declared === null || declared === undefined || (typeof declared === 'string' && declared.trim() === '')) {
      const doc = await deps.registry.versionDocument(pkg.name, pkg.version, signal);
      declared = doc.license ?? doc.licenses ?? null;
      source = 'registry';
    }
    const tiers = await deps.policy.get(db);
    const v = evaluateLicence(declared, tiers);
    const patch = {
      license_expression: v.expression,
      license_tier: v.tier,
      license_score: v.score,
      license_flags: v.flags,
    };
    const details = { source, expression: v.expression, tier: v.tier, score: v.score, flags: v.flags };
    if (v.tier === 'blocked') return { kind: 'reject', rejection: 'policy', reason: blockedReason(v), patch, details };
    return { kind: 'done', patch, reason: `licence ${v.expression ?? '(none)'}: ${v.tier}`, details };
  };
}
