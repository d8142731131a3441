// Checks the compose files without Docker: they parse as YAML, and they keep the promises the README
// makes about the stack (health checks, start order, a grace period longer than the worker's shutdown
// timeout, shared package cache, every setting overridable). scripts/test.sh runs it before
// `docker-compose config`, and on machines without docker-compose instead of it.
// Usage: node scripts/lib/check-compose.mjs compose.base.yml compose.dev.yml
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse } from 'yaml';

const problems = [];
const files = process.argv.slice(2);
const docs = {};
for (const file of files) {
  try {
    docs[basename(file)] = parse(readFileSync(file, 'utf8'), { merge: true });
  } catch (err) {
    problems.push(`${file}: ${err.message}`);
  }
}

/** The default of a `${VAR:-default}` value, or the value itself. */
const defaultOf = (v) => {
  const m = /^\$\{[A-Z0-9_]+:-([^}]*)\}$/.exec(String(v ?? ''));
  return m ? m[1] : String(v ?? '');
};
const seconds = (v) => {
  const m = /^(\d+)(s|m)?$/.exec(defaultOf(v));
  return m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : NaN;
};

const base = docs['compose.base.yml'];
if (base) {
  const s = base.services ?? {};
  for (const name of ['postgres', 'migrate', 'api', 'worker', 'trivy', 'verdaccio']) {
    if (!s[name]) problems.push(`compose.base.yml: service "${name}" is missing`);
  }
  for (const [name, svc] of Object.entries(s)) {
    if (!svc.image && !svc.build) problems.push(`compose.base.yml: service "${name}" has neither image nor build`);
  }
  if (!JSON.stringify(s.postgres?.healthcheck?.test ?? '').includes('pg_isready')) {
    problems.push('compose.base.yml: postgres needs a pg_isready health check');
  }
  if (!s.postgres?.volumes?.some((v) => String(v).startsWith('pgdata:'))) {
    problems.push('compose.base.yml: postgres data must live in the named volume pgdata');
  }
  for (const name of ['api', 'worker']) {
    const dep = s[name]?.depends_on ?? {};
    if (dep.postgres?.condition !== 'service_healthy') problems.push(`${name} must wait for postgres to be healthy`);
    if (dep.migrate?.condition !== 'service_completed_successfully') problems.push(`${name} must wait for migrate`);
    if (s[name]?.restart !== 'unless-stopped') problems.push(`${name} must restart unless-stopped`);
    if (!s[name]?.volumes?.some((v) => String(v).startsWith('package-cache:'))) {
      problems.push(`${name} must mount the shared package-cache volume`);
    }
  }
  const w = s.worker ?? {};
  const grace = seconds(w.stop_grace_period);
  const shutdown = Number(defaultOf(w.environment?.WORKER_SHUTDOWN_TIMEOUT_SECONDS));
  if (!(grace > shutdown)) {
    problems.push(`worker stop_grace_period (${grace} s) must exceed WORKER_SHUTDOWN_TIMEOUT_SECONDS (${shutdown} s)`);
  }
  if (!String(w.environment?.TRIVY_SERVER_URL ?? '').includes('trivy:4954')) {
    problems.push('worker TRIVY_SERVER_URL must default to the trivy service');
  }
  if (!JSON.stringify(s.trivy?.command ?? '').includes('server')) problems.push('trivy must run in server mode');
  // Operators override settings through the environment: no literal worker/api setting except fixed paths.
  const fixed = new Set(['PACKAGE_CACHE_DIR', 'PORT', 'HOST']);
  for (const name of ['api', 'worker']) {
    for (const [k, v] of Object.entries(s[name]?.environment ?? {})) {
      if (!fixed.has(k) && k !== 'DATABASE_URL' && !String(v).includes('${')) {
        problems.push(`${name}: ${k} is fixed to "${v}"; make it \${${k}:-default}`);
      }
    }
  }
}

// The images build the way scripts/test.sh does: the pnpm pinned in package.json, a frozen install,
// `pnpm build`.
if (files[0]) {
  const root = dirname(files[0]);
  const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1];
  for (const name of ['Dockerfile.api', 'Dockerfile.worker']) {
    const text = readFileSync(join(root, 'docker', name), 'utf8');
    const pnpm = /ARG PNPM_VERSION=(\S+)/.exec(text)?.[1];
    if (pnpm !== pinned) problems.push(`docker/${name}: PNPM_VERSION=${pnpm} but package.json pins pnpm@${pinned}`);
    if (!/pnpm install --frozen-lockfile/.test(text) || !/&& pnpm build\b/.test(text)) {
      problems.push(
        `docker/${name}: must build with \`pnpm install --frozen-lockfile\` and \`pnpm build\`, as scripts/test.sh does`,
      );
    }
    if (!/^HEALTHCHECK /m.test(text) || !/^USER node$/m.test(text) || !/ENTRYPOINT \["tini", "--"\]/.test(text)) {
      problems.push(`docker/${name}: needs a HEALTHCHECK, USER node and tini as PID 1`);
    }
  }
}

if (problems.length > 0) {
  process.stderr.write(`compose check failed:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(
  `compose files and Dockerfiles keep their promises: ${files.map((f) => basename(f)).join(', ')}, docker/Dockerfile.{api,worker}\n`,
);
