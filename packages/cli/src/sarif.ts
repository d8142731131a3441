import type { RequestResult } from './outcome.js';

/*
 * SARIF 2.1.0 for code-scanning UIs: one result per package that is rejected (error) or waits for a
 * person (warning), located at the line of the lockfile that names it.
 */

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

const RULES = [
  {
    id: 'spm/rejected',
    name: 'PackageRejected',
    shortDescription: { text: 'A dependency was rejected by the Secure Package Manager' },
    fullDescription: {
      text: 'The package version was rejected by policy, by a person, or after an error it could not overcome; npm install from the gate will not serve it.',
    },
    defaultConfiguration: { level: 'error' },
  },
  {
    id: 'spm/pending',
    name: 'PackageWaitingForApproval',
    shortDescription: { text: 'A dependency waits for an approver' },
    fullDescription: {
      text: 'The package version passed the automatic checks only partly and waits for a person to approve or reject it.',
    },
    defaultConfiguration: { level: 'warning' },
  },
] as const;

/** The 1-based line of the lockfile that names `name@version` best (1 when none does). */
export function lineOf(lockfile: string, name: string, version: string): number {
  const lines = lockfile.split('\n');
  // package-lock v2/v3: the entry `"…node_modules/<name>": {` whose next line holds the version.
  const npmKey = `node_modules/${name}": {`;
  const npm = lines.findIndex((l, i) => l.trimEnd().endsWith(npmKey) && (lines[i + 1] ?? '').includes(`"${version}"`));
  if (npm >= 0) return npm + 1;
  // yarn.lock and pnpm-lock.yaml keys (`name@version`, `"name@^range"`), then any mention of the name.
  for (const needle of [`${name}@${version}`, `"node_modules/${name}"`, `"${name}": {`, `${name}@`]) {
    const at = lines.findIndex((l) => l.includes(needle));
    if (at >= 0) return at + 1;
  }
  return 1;
}

export function toSarif(
  result: RequestResult,
  lockfile: { path: string; text: string } | undefined,
  toolVersion: string,
  serverUrl: string,
): object {
  const uri = lockfile?.path ?? 'package-lock.json';
  const results = result.packages
    .filter((p) => p.outcome === 'rejected' || p.outcome === 'pending')
    .map((p) => ({
      ruleId: p.outcome === 'rejected' ? 'spm/rejected' : 'spm/pending',
      ruleIndex: p.outcome === 'rejected' ? 0 : 1,
      level: p.outcome === 'rejected' ? 'error' : 'warning',
      message: {
        text: `${p.name}@${p.version} ${p.outcome === 'rejected' ? 'was rejected' : 'waits for an approver'}: ${p.reason}`,
      },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri },
            region: { startLine: lockfile ? lineOf(lockfile.text, p.name, p.version) : 1 },
          },
        },
      ],
      partialFingerprints: { 'spmPackage/v1': `${p.name}@${p.version}` },
      properties: { package_id: p.package_id, status: p.status, request_id: result.request.id },
    }));
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'spm',
            informationUri: serverUrl,
            version: toolVersion,
            rules: RULES,
          },
        },
        results,
        properties: {
          request_id: result.request.id,
          outcome: result.outcome,
          counts: result.counts,
        },
      },
    ],
  };
}
