import { randomUUID } from 'node:crypto';
import { Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';
import type { BomRequest } from '@spm/db';
import { factsOf, servedTarball, type BomHash } from './facts.js';

/*
 * CycloneDX 1.6 JSON of a request, built with the CycloneDX library's models and serializer (so the
 * document follows the specification's normalisation, not our reading of it). One component per package,
 * the application as metadata.component depending on every one of them, the gate's decision as
 * properties, and the vulnerabilities of the latest scans; a finding an approver waived carries a VEX
 * analysis (not_affected, with the waiver's reason, owner and expiry).
 */

export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json; version=1.6';

const HASH: Record<BomHash['algorithm'], Enums.HashAlgorithm> = {
  sha1: Enums.HashAlgorithm['SHA-1'],
  sha256: Enums.HashAlgorithm['SHA-256'],
  sha384: Enums.HashAlgorithm['SHA-384'],
  sha512: Enums.HashAlgorithm['SHA-512'],
};

const SEVERITY: Record<string, Enums.Vulnerability.Severity> = {
  critical: Enums.Vulnerability.Severity.Critical,
  high: Enums.Vulnerability.Severity.High,
  medium: Enums.Vulnerability.Severity.Medium,
  low: Enums.Vulnerability.Severity.Low,
  info: Enums.Vulnerability.Severity.Info,
};

function property(name: string, value: string | number | null | undefined): Models.Property[] {
  return value === null || value === undefined || value === '' ? [] : [new Models.Property(name, String(value))];
}

export function cycloneDx(req: BomRequest, opts: { toolVersion: string; servedRegistry: string }): string {
  const bom = new Models.Bom({ serialNumber: `urn:uuid:${randomUUID()}` });
  bom.metadata.timestamp = new Date();
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, 'secure-package-manager', { version: opts.toolVersion }),
  );
  const app = new Models.Component(Enums.ComponentType.Application, req.applicationName, {
    version: req.applicationVersion,
    bomRef: `spm-request-${req.id}`,
    properties: new Models.PropertyRepository([
      ...property('spm:request:id', req.id),
      ...property('spm:request:requestor', req.requestor),
      ...property('spm:request:submitted', req.createdAt.toISOString()),
      ...property('spm:request:lockfile-format', req.lockfileFormat),
    ]),
  });
  bom.metadata.component = app;

  for (const pkg of req.packages) {
    const f = factsOf(pkg);
    const licenses = new Models.LicenseRepository();
    if (f.license) licenses.add(new Models.LicenseExpression(f.license));
    else if (f.licenseName) licenses.add(new Models.NamedLicense(f.licenseName));
    const component = new Models.Component(Enums.ComponentType.Library, f.shortName, {
      group: f.scope ?? undefined,
      version: pkg.version,
      bomRef: f.purl,
      purl: f.purl,
      scope: pkg.dev || pkg.optional ? Enums.ComponentScope.Optional : Enums.ComponentScope.Required,
      // One value per algorithm: the stored tarball's first (verified), then the registry's, then the lockfile's.
      hashes: new Models.HashDictionary(
        [...f.hashes].reverse().map((h): [Enums.HashAlgorithm, string] => [HASH[h.algorithm], h.hex]),
      ),
      licenses,
      externalReferences: new Models.ExternalReferenceRepository([
        new Models.ExternalReference(
          servedTarball(opts.servedRegistry, pkg.name, pkg.version),
          Enums.ExternalReferenceType.Distribution,
          { comment: 'the vetted tarball, served by the gate' },
        ),
      ]),
      properties: new Models.PropertyRepository([
        // CycloneDX's npm taxonomy: https://github.com/CycloneDX/cyclonedx-property-taxonomy (cdx:npm).
        ...(pkg.dev ? property('cdx:npm:package:development', 'true') : []),
        ...property('spm:status', pkg.status),
        ...property('spm:policy:outcome', pkg.policyOutcome),
        ...property('spm:policy:rule', pkg.policyRule),
        ...property('spm:policy:version', pkg.policyVersion),
        ...property('spm:approved-by', pkg.approvedBy),
        ...property('spm:approved-at', pkg.approvedAt?.toISOString()),
        ...property('spm:published-at', pkg.publishedAt?.toISOString()),
      ]),
    });
    bom.components.add(component);
    app.dependencies.add(component.bomRef);

    for (const v of f.vulnerabilities) {
      const vulnerability = new Models.Vulnerability.Vulnerability({
        bomRef: `${f.purl}#${v.id}`,
        id: v.id,
        description: v.title,
        recommendation: v.fixedVersions.length ? `Upgrade to ${v.fixedVersions.join(' or ')}.` : undefined,
        ratings: new Models.Vulnerability.RatingRepository([
          new Models.Vulnerability.Rating({
            severity: SEVERITY[v.severity] ?? Enums.Vulnerability.Severity.Unknown,
            method: Enums.Vulnerability.RatingMethod.Other,
          }),
        ]),
        references: new Models.Vulnerability.ReferenceRepository(
          v.aliases.map(
            (a) => new Models.Vulnerability.Reference(a, new Models.Vulnerability.Source({ name: a.split('-')[0] })),
          ),
        ),
        advisories: new Models.Vulnerability.AdvisoryRepository(
          v.url ? [new Models.Vulnerability.Advisory(v.url, { title: v.id })] : [],
        ),
        affects: new Models.Vulnerability.AffectRepository([new Models.Vulnerability.Affect(component.bomRef)]),
        analysis: v.waiver
          ? new Models.Vulnerability.Analysis({
              state: Enums.Vulnerability.AnalysisState.NotAffected,
              detail:
                `Waiver #${v.waiver.id} by ${v.waiver.owner || 'an approver'}, until ${v.waiver.expiresAt}: ` +
                v.waiver.reason,
            })
          : undefined,
        properties: new Models.PropertyRepository([
          ...property('spm:malware', v.malware ? 'true' : undefined),
          ...property('spm:after-approval', v.afterApproval ? 'true' : undefined),
          ...property('spm:quarantined', v.quarantining ? 'true' : undefined),
        ]),
      });
      bom.vulnerabilities.add(vulnerability);
    }
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true, space: 2 });
}
