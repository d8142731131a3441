import { randomUUID } from 'node:crypto';
import type { BomRequest } from '@spm/db';
import { factsOf, servedTarball, validSpdx, type BomHash } from './facts.js';

/*
 * SPDX 2.3 JSON of a request. No well-kept JavaScript library writes SPDX 2.3, so the document is built
 * here field by field after the specification's JSON schema (spdx/spdx-spec, support/2.3,
 * schemas/spdx-schema.json), which the tests validate every document against. One package per npm
 * package plus the application, relationships from each to the application (DEV_ and OPTIONAL_ kinds
 * where the lockfile says so), checksums, purls and advisories as external references, and the gate's
 * decision and waived findings (the VEX the format has no field for) as review annotations.
 */

export const SPDX_MEDIA_TYPE = 'application/spdx+json';

const CHECKSUM: Record<BomHash['algorithm'], string> = {
  sha1: 'SHA1',
  sha256: 'SHA256',
  sha384: 'SHA384',
  sha512: 'SHA512',
};

const NOASSERTION = 'NOASSERTION';

export function spdxDocument(
  req: BomRequest,
  opts: { toolVersion: string; servedRegistry: string; namespaceBase: string },
): string {
  const created = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const tool = `Tool: secure-package-manager-${opts.toolVersion}`;
  const appId = 'SPDXRef-Application';
  const packages: unknown[] = [
    {
      SPDXID: appId,
      name: req.applicationName,
      versionInfo: req.applicationVersion,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      primaryPackagePurpose: 'APPLICATION',
      comment: `Request ${req.id}, submitted by ${req.requestor ?? 'a removed user'} on ${req.createdAt.toISOString()} (${req.lockfileFormat} lockfile).`,
    },
  ];
  const relationships: unknown[] = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: appId },
  ];
  for (const pkg of req.packages) {
    const f = factsOf(pkg);
    const id = `SPDXRef-Package-${pkg.packageId}`;
    const annotations = [
      {
        annotationDate: created,
        annotationType: 'REVIEW',
        annotator: tool,
        comment:
          `Gate status ${pkg.status}` +
          (pkg.policyOutcome ? `; policy v${pkg.policyVersion ?? '?'} ${pkg.policyOutcome}` : '') +
          (pkg.policyRule ? ` (rule ${pkg.policyRule})` : '') +
          (pkg.approvedBy ? `; approved by ${pkg.approvedBy}` : '') +
          '.',
      },
      ...f.vulnerabilities
        .filter((v) => v.quarantining)
        .map((v) => ({
          annotationDate: created,
          annotationType: 'REVIEW',
          annotator: tool,
          comment: `Quarantined: ${v.id} (${v.severity}) arrived after approval; the gate's registry refuses this version.`,
        })),
      ...f.vulnerabilities
        .filter((v) => v.waiver)
        .map((v) => ({
          annotationDate: created,
          annotationType: 'REVIEW',
          annotator: tool,
          comment:
            `VEX not_affected ${v.id}: waiver #${v.waiver!.id} by ${v.waiver!.owner || 'an approver'}, ` +
            `until ${v.waiver!.expiresAt}: ${v.waiver!.reason}`,
        })),
    ];
    packages.push({
      SPDXID: id,
      name: pkg.name,
      versionInfo: pkg.version,
      downloadLocation: servedTarball(opts.servedRegistry, pkg.name, pkg.version),
      filesAnalyzed: false,
      checksums: f.hashes.map((h) => ({ algorithm: CHECKSUM[h.algorithm], checksumValue: h.hex })),
      licenseConcluded: f.license ?? NOASSERTION,
      licenseDeclared: validSpdx(pkg.declaredLicense) ?? NOASSERTION,
      ...(f.licenseName ? { licenseComments: `Not an SPDX expression: ${f.licenseName}` } : {}),
      copyrightText: NOASSERTION,
      primaryPackagePurpose: 'LIBRARY',
      externalRefs: [
        { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: f.purl },
        ...f.vulnerabilities
          .filter((v) => v.url)
          .map((v) => ({
            referenceCategory: 'SECURITY',
            referenceType: 'advisory',
            referenceLocator: v.url!,
            comment: `${v.id} (${v.severity}): ${v.title}${v.waiver ? ' [waived]' : ''}`,
          })),
      ],
      annotations,
    });
    relationships.push({
      spdxElementId: id,
      relationshipType: pkg.dev ? 'DEV_DEPENDENCY_OF' : pkg.optional ? 'OPTIONAL_DEPENDENCY_OF' : 'DEPENDENCY_OF',
      relatedSpdxElement: appId,
    });
  }
  const doc = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${req.applicationName}@${req.applicationVersion} (request ${req.id})`,
    documentNamespace: `${opts.namespaceBase}spdx/request-${req.id}-${randomUUID()}`,
    creationInfo: { created, creators: [tool] },
    packages,
    relationships,
  };
  return JSON.stringify(doc, null, 2);
}
