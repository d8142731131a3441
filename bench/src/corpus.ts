import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildPackage, type BuiltPackage } from '@spm/testkit';
import { distinctPackages, type LockfilePlan } from './lockfile.js';
import { rng } from './stats.js';

const IDENT =
  'value item node list entry state result options config handler context buffer index count offset length source target key map set cache token parser visitor scope range'.split(
    ' ',
  );
const OPS = ['+', '-', '*', '&&', '||', '??', '===', '!=='];

/**
 * Plausible CommonJS source: functions, branches, string and number literals, comments. It compresses
 * about like real library code (roughly 4:1), so a tarball of a given gzipped size has a realistic
 * unpacked size and file count for the scanner.
 */
function sourceText(r: () => number, bytes: number): string {
  const out: string[] = ["'use strict';\n"];
  let len = 0;
  const id = () => `${IDENT[Math.floor(r() * IDENT.length)]}${Math.floor(r() * 100)}`;
  while (len < bytes) {
    const fn = id();
    const a = id();
    const b = id();
    const lines = [
      `/**\n * Returns the ${a} for ${b} (${Math.floor(r() * 1e6).toString(36)}).\n */`,
      `function ${fn}(${a}, ${b}) {`,
      `  if (${a} ${OPS[Math.floor(r() * OPS.length)]} ${b}) return ${Math.floor(r() * 1000)};`,
      `  const ${id()} = '${Math.floor(r() * 2 ** 40).toString(36)}-${id()}';`,
      `  for (let i = 0; i < ${a}.length; i++) ${b}[i] = ${a}[i] ${OPS[Math.floor(r() * 3)]} ${(r() * 10).toFixed(3)};`,
      `  return ${b};`,
      `}`,
      `exports.${fn} = ${fn};\n`,
    ];
    const chunk = lines.join('\n');
    out.push(chunk);
    len += chunk.length;
  }
  return out.join('\n');
}

let ratio: number | null = null;
/** Raw-to-gzipped ratio of {@link sourceText}, measured once. */
function compressionRatio(): number {
  if (ratio === null) {
    const sample = Buffer.from(sourceText(rng(7), 400_000));
    ratio = sample.length / gzipSync(sample).length;
  }
  return ratio;
}

function build(
  entry: { name: string; version: string; license: string; dependencies: Record<string, string>; targetBytes: number },
  seed: number,
): BuiltPackage {
  const r = rng(seed);
  const raw = Math.max(2_000, Math.round(entry.targetBytes * compressionRatio()));
  // Real packages spread their code over files of a few to a few dozen KB.
  const files: Record<string, string> = {
    'README.md': `# ${entry.name}\n\nBenchmark corpus package ${entry.name}@${entry.version}.\n`,
    LICENSE: `${entry.license}\n\nCopyright (c) bench authors\n`,
  };
  let left = raw;
  let i = 0;
  while (left > 0) {
    const size = Math.min(left, 8_000 + Math.floor(r() * 56_000));
    files[i === 0 ? 'index.js' : `lib/${IDENT[i % IDENT.length]}-${i}.js`] = sourceText(r, size);
    left -= size;
    i++;
  }
  return buildPackage({
    name: entry.name,
    version: entry.version,
    manifest: {
      description: `bench corpus ${entry.name}`,
      license: entry.license,
      main: 'index.js',
      ...(Object.keys(entry.dependencies).length ? { dependencies: entry.dependencies } : {}),
    },
    files,
  });
}

interface CorpusIndexEntry {
  name: string;
  version: string;
  file: string;
  integrity: string;
  shasum: string;
  manifest: Record<string, unknown>;
}

/**
 * Real gzipped tarballs for every distinct name@version of a plan, cached under the OS temp directory
 * (keyed by the plan's content) so repeated runs do not rebuild them.
 */
export async function buildCorpus(
  plan: LockfilePlan,
): Promise<{ packages: BuiltPackage[]; totalBytes: number; cached: boolean; dir: string }> {
  const distinct = distinctPackages(plan);
  const key = createHash('sha256')
    .update(JSON.stringify(distinct.map((e) => [e.name, e.version, e.license, e.dependencies, e.targetBytes])))
    .update('corpus-v1')
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), `spm-bench-corpus-${key}`);
  const indexFile = join(dir, 'index.json');
  if (existsSync(indexFile)) {
    const index = JSON.parse(await readFile(indexFile, 'utf8')) as CorpusIndexEntry[];
    const packages = await Promise.all(index.map(async (e) => ({ ...e, tarball: await readFile(join(dir, e.file)) })));
    return { packages, totalBytes: packages.reduce((a, p) => a + p.tarball.length, 0), cached: true, dir };
  }
  await mkdir(dir, { recursive: true });
  const packages: BuiltPackage[] = [];
  const index: CorpusIndexEntry[] = [];
  let n = 0;
  for (const e of distinct) {
    const pkg = build(e, 1000 + n);
    const file = `${n++}.tgz`;
    await writeFile(join(dir, file), pkg.tarball);
    packages.push(pkg);
    index.push({
      name: pkg.name,
      version: pkg.version,
      file,
      integrity: pkg.integrity,
      shasum: pkg.shasum,
      manifest: pkg.manifest,
    });
  }
  await writeFile(indexFile, JSON.stringify(index));
  return { packages, totalBytes: packages.reduce((a, p) => a + p.tarball.length, 0), cached: false, dir };
}
