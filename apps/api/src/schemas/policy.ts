import { Type, type Static } from '@sinclair/typebox';
import { LICENSE_TIERS, POLICY_ACTIONS, SEVERITIES, SIGNAL_KINDS, WAIVER_KINDS } from '@spm/db';
import { Nullable, Timestamp } from './common.js';

const literals = <T extends readonly string[]>(values: T, description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  );

const Severity = literals(SEVERITIES);
const Short = (description: string) => Type.String({ minLength: 1, maxLength: 214, description });

/** A rule's conditions: each one given must hold; lists are alternatives. See docs/policy.md. */
export const PolicyConditionsSchema = Type.Object(
  {
    license_tier: Type.Optional(
      Type.Array(literals([...LICENSE_TIERS, 'unknown'] as const), { minItems: 1, maxItems: 5, uniqueItems: true }),
    ),
    severity_at_least: Type.Optional(Severity),
    cvss_at_least: Type.Optional(Type.Number({ minimum: 0, maximum: 10 })),
    signals: Type.Optional(Type.Array(literals(SIGNAL_KINDS), { minItems: 1, maxItems: 20, uniqueItems: true })),
    signal_severity_at_least: Type.Optional(Severity),
    new_signals: Type.Optional(Type.Array(literals(SIGNAL_KINDS), { minItems: 1, maxItems: 20, uniqueItems: true })),
    malware: Type.Optional(Type.Boolean()),
    younger_than_hours: Type.Optional(Type.Number({ minimum: 0, maximum: 87_600 })),
    deprecated: Type.Optional(Type.Boolean()),
    names: Type.Optional(Type.Array(Short('A package name or a glob (`@acme/*`)'), { minItems: 1, maxItems: 500 })),
    versions: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'A semver range' })),
    dev: Type.Optional(Type.Boolean()),
    optional: Type.Optional(Type.Boolean()),
    finding_ids: Type.Optional(
      Type.Array(Short('An advisory id or alias, or a signal id'), { minItems: 1, maxItems: 500 }),
    ),
  },
  { additionalProperties: false },
);

export const PolicyRuleSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, description: 'Lower case letters, digits, ".", "_", "-"' }),
    action: literals(POLICY_ACTIONS),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    when: PolicyConditionsSchema,
    unless: Type.Optional(PolicyConditionsSchema),
  },
  { additionalProperties: false },
);

/** A whole policy, as stored in each version and as an admin writes it. */
export const PolicyDocumentSchema = Type.Object(
  {
    rules: Type.Array(PolicyRuleSchema, { maxItems: 200 }),
    default_action: literals(POLICY_ACTIONS, 'What happens to a package no rule matches'),
    cooldown: Type.Object(
      {
        minimum_age_hours: Type.Number({ minimum: 0, maximum: 8_760, description: '0 turns the cooldown off' }),
        exceptions: Type.Array(Short('A name, a glob, or name@exact-version'), { maxItems: 500 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type PolicyDocumentBody = Static<typeof PolicyDocumentSchema>;

export const PolicyVersionSchema = Type.Object({
  version: Type.Integer(),
  document: PolicyDocumentSchema,
  comment: Nullable(Type.String()),
  created_by: Nullable(Type.String()),
  created_at: Timestamp,
});

export const WaiverSchema = Type.Object({
  id: Type.Integer(),
  package_name: Type.String(),
  version_range: Type.String(),
  kind: literals(WAIVER_KINDS),
  subject: Type.String(),
  reason: Type.String(),
  owner: Type.String(),
  expires_at: Timestamp,
  expired: Type.Boolean(),
  created_by: Nullable(Type.String()),
  created_at: Timestamp,
  revoked_at: Nullable(Timestamp),
  revoked_by: Nullable(Type.String()),
});
