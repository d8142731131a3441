export { TargetRegistryClient, classify, type FetchFn, type Packument, type PutResult } from './client.js';
export { ManifestError, readTarballManifest } from '@spm/tarball';
export {
  BACKFILL_TAG,
  chooseDistTags,
  encodePackageName,
  publishBody,
  tarballFileName,
  versionDocument,
  withoutCredentials,
} from './protocol.js';
export { distMatches, publishToTarget, type PublishInput, type PublishResult } from './publish.js';
