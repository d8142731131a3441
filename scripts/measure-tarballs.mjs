#!/usr/bin/env node
// Measures real package tarballs with the same reader the scanner uses (@spm/tarball):
// entries, unpacked bytes, largest file, compression ratio and any issue, one line per package,
// then a Markdown table. Downloads from the registry npm is configured with (`npm config get
// registry`). Network; not part of the test suite. Needs `pnpm build` first.
//
//   node scripts/measure-tarballs.mjs typescript@5.9.3 @mui/icons-material@7.3.2 …
//   node scripts/measure-tarballs.mjs --from docs/measured-packages.txt

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { readTarball } from '../packages/tarball/dist/index.js';

const args = process.argv.slice(2);
const from = args.indexOf('--from');
const specs =
  from >= 0
    ? readFileSync(args[from + 1], 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim())
        .filter(Boolean)
    : args;
if (specs.length === 0) {
  process.stderr.write('usage: measure-tarballs.mjs <name@version …> | --from <file>\n');
  process.exit(2);
}
const registry = (
  process.env.SOURCE_REGISTRY_URL || execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim()
).replace(/\/?$/, '/');

function split(spec) {
  const at = spec.lastIndexOf('@');
  return at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, null];
}

const rows = [];
for (const spec of specs) {
  const [name, wanted] = split(spec);
  try {
    const res = await fetch(new URL(name.replace('/', '%2f'), registry), {
      headers: { accept: 'application/vnd.npm.install-v1+json' },
    });
    if (!res.ok) throw new Error(`packument: HTTP ${res.status}`);
    const doc = await res.json();
    const version = wanted ?? doc['dist-tags'].latest;
    const tarball = doc.versions?.[version]?.dist?.tarball;
    if (!tarball) throw new Error(`no version ${version}`);
    const bytes = Buffer.from(await (await fetch(tarball)).arrayBuffer());
    const started = performance.now();
    // No limits: the point is to see how large real packages are.
    const view = await readTarball(bytes, {
      limits: {
        maxEntries: Infinity,
        maxUnpackedBytes: Infinity,
        maxFileBytes: Infinity,
        maxCompressionRatio: Infinity,
      },
      keep: () => false,
    });
    const ms = Math.round(performance.now() - started);
    const row = {
      spec: `${name}@${version}`,
      ...view.stats,
      ms,
      issues: view.issues.map((i) => `${i.code}×${i.count}`),
    };
    view.dispose();
    rows.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ spec, error: String(err?.message ?? err) })}\n`);
  }
}

const n = (x) => x.toLocaleString('en-US');
process.stdout.write(
  '\n| package | compressed | entries | unpacked | largest file | ratio | issues |\n|---|---:|---:|---:|---|---:|---|\n',
);
for (const r of rows) {
  const largest = r.largestFile ? `${n(r.largestFile.size)} (${r.largestFile.path.split('/').slice(1).join('/')})` : '';
  process.stdout.write(
    `| ${r.spec} | ${n(r.compressedBytes)} | ${n(r.entries)} | ${n(r.unpackedBytes)} | ${largest} | ${r.compressionRatio} | ${r.issues.join(', ')} |\n`,
  );
}
