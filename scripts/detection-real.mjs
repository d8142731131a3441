#!/usr/bin/env node
// The malware detection's false-positive check on real packages: takes the most depended-on
// packages of a real lockfile (default: this repository's pnpm-lock.yaml; a package-lock.json
// works too), downloads each tarball from the registry npm is configured with (`npm config get
// registry`, or SOURCE_REGISTRY_URL), checks it against the lockfile's integrity, and runs the
// built-in scanner on it exactly as the scan stage does. Prints the share of packages with a high or
// critical finding and every such finding. Network; not part of the test suite. Needs `pnpm build`.
//
//   pnpm detection:real                          # top 300 of pnpm-lock.yaml
//   pnpm detection:real path/to/package-lock.json --top 300 --json out.json

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { scanTarballFile } from '../apps/worker/dist/index.js';

const args = process.argv.slice(2);
const opt = (name, d) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : d;
};
const lockfile = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'pnpm-lock.yaml';
const top = Number(opt('--top', '300'));
const jsonOut = opt('--json', null);
const registry = (
  process.env.SOURCE_REGISTRY_URL || execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim()
).replace(/\/?$/, '/');
const RANK = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };

/** name, version, integrity and in-lockfile dependents of every package of a pnpm or npm lockfile. */
function readLockfile(text, path) {
  const pkgs = new Map();
  const dependents = new Map();
  const count = (name, version) => {
    const k = `${name}@${version}`;
    dependents.set(k, (dependents.get(k) ?? 0) + 1);
  };
  if (path.endsWith('.yaml')) {
    const doc = parseYaml(text);
    for (const [key, v] of Object.entries(doc.packages ?? {})) {
      const at = key.lastIndexOf('@');
      const name = key.slice(0, at);
      const version = key.slice(at + 1);
      if (!v?.resolution?.integrity || /[:/]/.test(version)) continue;
      pkgs.set(key, { name, version, integrity: v.resolution.integrity });
    }
    for (const snap of Object.values(doc.snapshots ?? {}))
      for (const [name, ver] of Object.entries({ ...snap?.dependencies, ...snap?.optionalDependencies }))
        count(name, String(ver).replace(/\(.*$/, ''));
  } else {
    const doc = JSON.parse(text);
    for (const [p, v] of Object.entries(doc.packages ?? {})) {
      if (!p || !v.version || !v.integrity || v.link) continue;
      const name = v.name ?? p.slice(p.lastIndexOf('node_modules/') + 13);
      pkgs.set(`${name}@${v.version}`, { name, version: v.version, integrity: v.integrity });
      for (const dep of Object.keys({ ...v.dependencies, ...v.optionalDependencies }))
        dependents.set(dep, (dependents.get(dep) ?? 0) + 1);
    }
  }
  return [...pkgs.values()]
    .map((p) => ({ ...p, dependents: dependents.get(`${p.name}@${p.version}`) ?? dependents.get(p.name) ?? 0 }))
    .sort((a, b) => b.dependents - a.dependents || a.name.localeCompare(b.name));
}

function sriMatches(buf, integrity) {
  return integrity.split(/\s+/).some((sri) => {
    const [algo, digest] = sri.split(/-(.*)/s);
    return createHash(algo).update(buf).digest('base64') === digest;
  });
}

async function tarball(cacheDir, p) {
  const file = join(cacheDir, `${p.name.replace('/', '+')}-${p.version}.tgz`);
  if (existsSync(file)) return file;
  const base = p.name.split('/').pop();
  const res = await fetch(new URL(`${p.name}/-/${base}-${p.version}.tgz`, registry));
  if (!res.ok) throw new Error(`tarball: HTTP ${res.status}`);
  const buf = Buffer.from(await res.arrayBuffer());
  if (!sriMatches(buf, p.integrity)) throw new Error('integrity does not match the lockfile');
  await writeFile(file, buf);
  return file;
}

const all = readLockfile(await readFile(lockfile, 'utf8'), lockfile);
const chosen = all.slice(0, top);
const cacheDir = join(tmpdir(), 'spm-detection-real');
await mkdir(cacheDir, { recursive: true });
process.stderr.write(
  `${chosen.length} of ${all.length} packages of ${lockfile} (most depended on first), from ${new URL(registry).origin}\n`,
);

const results = [];
let next = 0;
async function worker() {
  while (next < chosen.length) {
    const p = chosen[next++];
    try {
      const file = await tarball(cacheDir, p);
      const t0 = performance.now();
      const findings = await scanTarballFile(file, { name: p.name, version: p.version });
      results.push({ ...p, ms: Math.round(performance.now() - t0), findings });
    } catch (err) {
      results.push({ ...p, error: String(err?.message ?? err) });
    }
  }
}
await Promise.all(Array.from({ length: 4 }, worker));

const scanned = results.filter((r) => r.findings);
const flagged = scanned.filter((r) => r.findings.some((f) => RANK[f.severity] >= RANK.high));
const rate = (n) => `${((n / Math.max(1, scanned.length)) * 100).toFixed(1)} %`;
const byRule = new Map();
for (const r of scanned)
  for (const f of r.findings)
    if (RANK[f.severity] >= RANK.medium)
      byRule.set(`${f.id} (${f.severity})`, (byRule.get(`${f.id} (${f.severity})`) ?? 0) + 1);

const out = process.stdout;
out.write(
  `\nscanned ${scanned.length}, errors ${results.length - scanned.length}, with a high or critical finding ${flagged.length} (${rate(flagged.length)})\n`,
);
out.write(
  `scan time: mean ${Math.round(scanned.reduce((a, r) => a + r.ms, 0) / Math.max(1, scanned.length))} ms, max ${Math.max(0, ...scanned.map((r) => r.ms))} ms\n\n`,
);
out.write('findings at medium or above, by rule (packages):\n');
for (const [k, n] of [...byRule].sort((a, b) => b[1] - a[1])) out.write(`  ${k}: ${n}\n`);
out.write('\nhigh or critical:\n');
for (const r of flagged)
  for (const f of r.findings.filter((x) => RANK[x.severity] >= RANK.high))
    out.write(
      `  ${r.name}@${r.version}  ${f.id} (${f.severity})  ${f.file ?? ''}${f.line ? `:${f.line}` : ''}  ${f.evidence ?? ''}\n`,
    );
for (const r of results.filter((x) => x.error)) out.write(`  error ${r.name}@${r.version}: ${r.error}\n`);
if (jsonOut)
  await writeFile(jsonOut, JSON.stringify({ registry: new URL(registry).origin, lockfile, results }, null, 2));
