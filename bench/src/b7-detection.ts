import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMalwareCorpus, packageSample, PLACEMENTS, type Placement } from '@spm/testkit';
import { scanTarballFile } from '@spm/worker';
import { round } from './stats.js';

/** The corpus the worker's tests use, read from the repository. */
export const CORPUS_DIR = fileURLToPath(new URL('../../apps/worker/test/fixtures/malware/', import.meta.url));

const RANK: Record<string, number> = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };
// Raised by every package with a postinstall script, malicious or not: not a detection.
const GENERIC = new Set(['install-script']);

export interface SampleOutcome {
  id: string;
  placement: Placement;
  /** The most severe finding other than the generic install-script one ('none' when there is none). */
  top: string;
  ids: string[];
}

export interface PlacementFigures {
  placement: Placement;
  malicious: number;
  /** Malicious samples with a high or critical finding. */
  maliciousHigh: number;
  /** Malicious samples with any finding above info (besides the generic install-script one). */
  maliciousAny: number;
  truePositiveRate: number;
  benign: number;
  benignHigh: number;
  falsePositiveRate: number;
  missed: string[];
  falsePositives: string[];
}

export interface B7Result {
  samples: { malicious: number; benign: number };
  byPlacement: PlacementFigures[];
  scanMs: { total: number; meanPerPackage: number };
  outcomes: { malicious: SampleOutcome[]; benign: SampleOutcome[] };
}

/**
 * B7: the detection corpus (malicious samples and benign look-alikes, each packaged as install-time
 * code and as index.js) run through the built-in scanner exactly as the scan stage runs it. Reports
 * the true-positive rate (malicious samples with a high or critical finding) and the false-positive
 * rate (benign ones with a high or critical finding) per placement.
 */
export async function benchDetection(opts: { log: (s: string) => void; corpusDir?: string }): Promise<B7Result> {
  const corpus = loadMalwareCorpus(opts.corpusDir ?? CORPUS_DIR);
  const dir = await mkdtemp(join(tmpdir(), 'spm-b7-'));
  const outcomes: B7Result['outcomes'] = { malicious: [], benign: [] };
  let scanMs = 0;
  try {
    for (const sample of corpus) {
      for (const placement of PLACEMENTS) {
        const pkg = packageSample(sample, placement);
        const file = join(dir, `${sample.kind}-${sample.id}-${placement}.tgz`);
        await writeFile(file, pkg.tarball);
        const t0 = performance.now();
        const findings = await scanTarballFile(file, { name: pkg.name, version: pkg.version });
        scanMs += performance.now() - t0;
        const counted = findings.filter((f) => !GENERIC.has(f.id));
        const top = counted.reduce<string>(
          (t, f) => ((RANK[f.severity] ?? 0) > (RANK[t] ?? -1) ? f.severity : t),
          'none',
        );
        outcomes[sample.kind].push({ id: sample.id, placement, top, ids: [...new Set(counted.map((f) => f.id))] });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const high = (o: SampleOutcome) => (RANK[o.top] ?? -1) >= RANK.high!;
  const any = (o: SampleOutcome) => (RANK[o.top] ?? -1) >= RANK.low!;
  const byPlacement = PLACEMENTS.map((placement): PlacementFigures => {
    const mal = outcomes.malicious.filter((o) => o.placement === placement);
    const ben = outcomes.benign.filter((o) => o.placement === placement);
    const fig = {
      placement,
      malicious: mal.length,
      maliciousHigh: mal.filter(high).length,
      maliciousAny: mal.filter(any).length,
      truePositiveRate: round((mal.filter(high).length / Math.max(1, mal.length)) * 100, 1),
      benign: ben.length,
      benignHigh: ben.filter(high).length,
      falsePositiveRate: round((ben.filter(high).length / Math.max(1, ben.length)) * 100, 1),
      missed: mal.filter((o) => !high(o)).map((o) => `${o.id} (${o.top})`),
      falsePositives: ben.filter(high).map((o) => `${o.id} (${o.ids.join(', ')})`),
    };
    opts.log(
      `  ${placement}: malicious ${fig.maliciousHigh}/${fig.malicious} high or critical (${fig.truePositiveRate} %), ${fig.maliciousAny} with any finding; benign ${fig.benignHigh}/${fig.benign} high (${fig.falsePositiveRate} %)`,
    );
    return fig;
  });
  const packages = outcomes.malicious.length + outcomes.benign.length;
  return {
    samples: {
      malicious: corpus.filter((s) => s.kind === 'malicious').length,
      benign: corpus.filter((s) => s.kind === 'benign').length,
    },
    byPlacement,
    scanMs: { total: round(scanMs, 0), meanPerPackage: round(scanMs / Math.max(1, packages), 1) },
    outcomes,
  };
}
