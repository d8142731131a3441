import type { BehaviourFile } from './index.js';

/** A file of the package as the scan sees it (the shape of the archive view's files). */
export interface ReadableFile {
  readonly path: string;
  readonly size: number;
  read(): Promise<Buffer>;
}

const CODE = /\.(c|m)?js$|\.(sh|bat|cmd|ps1)$/i;
/** Files larger than this are not read for behaviour detection at all (the parse limit is lower). */
export const MAX_BEHAVIOUR_FILE_BYTES = 16 * 1024 * 1024;

/** The texts behaviour detection reads: JavaScript and shell, batch and PowerShell scripts. */
export async function behaviourFiles(files: readonly ReadableFile[], signal?: AbortSignal): Promise<BehaviourFile[]> {
  const out: BehaviourFile[] = [];
  for (const f of files) {
    if (!CODE.test(f.path) || f.size === 0 || f.size > MAX_BEHAVIOUR_FILE_BYTES) continue;
    signal?.throwIfAborted();
    out.push({ path: f.path, text: (await f.read()).toString('utf8') });
  }
  return out;
}
