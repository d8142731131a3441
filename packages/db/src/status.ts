/** Every status a package can be in. The strings are stored in package_status.status. */
export const Status = {
  Requested: 'Requested',
  CheckingLicence: 'Checking Licence',
  LicenceChecked: 'Licence Checked',
  Downloading: 'Downloading',
  Downloaded: 'Downloaded',
  SecurityScanning: 'Security Scanning',
  SecurityScanned: 'Security Scanned',
  ApplyingPolicy: 'Applying Policy',
  PendingApproval: 'Pending Approval',
  Approved: 'Approved',
  Publishing: 'Publishing',
  Published: 'Published',
  Rejected: 'Rejected',
} as const;
export type Status = (typeof Status)[keyof typeof Status];

export type StageName = 'licence' | 'download' | 'scan' | 'decide' | 'publish';

export interface StageDef {
  name: StageName;
  /** The runnable checkpoint the stage starts from. */
  checkpoint: Status;
  /** The work-in-progress status held (with a lease) while the stage runs. */
  work: Status;
  /** The checkpoint reached when the stage succeeds. */
  done: Status;
}

/** The pipeline, in order. Each stage goes checkpoint → work → done. */
export const STAGES: readonly StageDef[] = [
  { name: 'licence', checkpoint: Status.Requested, work: Status.CheckingLicence, done: Status.LicenceChecked },
  { name: 'download', checkpoint: Status.LicenceChecked, work: Status.Downloading, done: Status.Downloaded },
  { name: 'scan', checkpoint: Status.Downloaded, work: Status.SecurityScanning, done: Status.SecurityScanned },
  // The policy decides (Approved, Pending Approval, Rejected, or back to Security Scanned with a later
  // run_at while a young version cools down); `done` is where a hold goes.
  { name: 'decide', checkpoint: Status.SecurityScanned, work: Status.ApplyingPolicy, done: Status.PendingApproval },
  { name: 'publish', checkpoint: Status.Approved, work: Status.Publishing, done: Status.Published },
];

export const CHECKPOINTS: readonly Status[] = STAGES.map((s) => s.checkpoint);
export const WORK_STATUSES: readonly Status[] = STAGES.map((s) => s.work);
export const FINAL_STATUSES: readonly Status[] = [Status.Published, Status.Rejected];
/** Statuses in which the package waits for a person rather than a worker. */
export const WAITING_STATUSES: readonly Status[] = [Status.PendingApproval];
/** Statuses after which a waiting script can stop polling: final, or waiting for a person. */
export const SETTLED_STATUSES: readonly string[] = [...FINAL_STATUSES, ...WAITING_STATUSES];

export const ALL_STATUSES: readonly Status[] = Object.values(Status);

export function stageForCheckpoint(status: string): StageDef | undefined {
  return STAGES.find((s) => s.checkpoint === status);
}

export function stageForWork(status: string): StageDef | undefined {
  return STAGES.find((s) => s.work === status);
}

/** Pipeline order used for progress reporting (Rejected is handled separately). */
export const PIPELINE_ORDER: readonly Status[] = [
  Status.Requested,
  Status.CheckingLicence,
  Status.LicenceChecked,
  Status.Downloading,
  Status.Downloaded,
  Status.SecurityScanning,
  Status.SecurityScanned,
  Status.ApplyingPolicy,
  Status.PendingApproval,
  Status.Approved,
  Status.Publishing,
  Status.Published,
];

/** Progress through the pipeline as a percentage (Rejected and Published are 100). */
export function progressPercent(status: string): number {
  if (status === Status.Rejected) return 100;
  const i = PIPELINE_ORDER.indexOf(status as Status);
  if (i < 0) return 0;
  return Math.round((i / (PIPELINE_ORDER.length - 1)) * 100);
}

/** The NOTIFY channel a runnable package is announced on. */
export const WAKE_CHANNEL = 'spm_package_runnable';
