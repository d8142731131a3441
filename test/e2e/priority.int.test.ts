import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildPackage, type BuiltPackage } from '@spm/testkit';
import { PASSWORD, startStack, USERS, type Stack } from '../support/stack.js';

/*
 * A high-priority request submitted behind a large one is settled first, with the real worker: a
 * 60-package request is queued, then an approver's 2-package request at `urgent`; once the worker
 * starts, the urgent request is settled while the large one still has packages in the pipeline.
 */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack?.close());

function lockfileOf(name: string, pkgs: BuiltPackage[]): string {
  const entries = Object.fromEntries(
    pkgs.map((p) => [
      `node_modules/${p.name}`,
      {
        version: p.version,
        resolved: `${stack.registry.url}${p.name}/-/${p.name}-${p.version}.tgz`,
        integrity: p.integrity,
        license: 'MIT',
      },
    ]),
  );
  return JSON.stringify({
    name,
    version: '1.0.0',
    lockfileVersion: 3,
    packages: { '': { name, version: '1.0.0' }, ...entries },
  });
}

async function tokenOf(username: string): Promise<string> {
  const res = await fetch(`${stack.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  return ((await res.json()) as { token: string }).token;
}

async function submit(token: string, lockfile: string, priority: string): Promise<number> {
  const res = await fetch(`${stack.url}/api/packages/upload?priority=${priority}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: lockfile,
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { request_id: number }).request_id;
}

async function summary(token: string, id: number) {
  const res = await fetch(`${stack.url}/api/packages/requests/${id}/processing-status?summary=true`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return (await res.json()) as { done: boolean; summary: { settled: number; total: number } };
}

it('settles an urgent request submitted behind a large one first', async () => {
  const bulk = Array.from({ length: 60 }, (_, i) => buildPackage({ name: `bulk-dep-${i}`, version: '1.0.0' }));
  const hot = [
    buildPackage({ name: 'hotfix-a', version: '2.0.1' }),
    buildPackage({ name: 'hotfix-b', version: '2.0.1' }),
  ];
  for (const p of [...bulk, ...hot]) stack.registry.add(p);
  const [user, approver] = await Promise.all([tokenOf(USERS.user), tokenOf(USERS.approver)]);

  const large = await submit(user, lockfileOf('monolith', bulk), 'normal');
  const urgent = await submit(approver, lockfileOf('hotfix', hot), 'urgent');
  stack.startWorker();

  let largeWhenUrgentDone: { settled: number; total: number } | undefined;
  for (let i = 0; i < 600 && !largeWhenUrgentDone; i++) {
    const u = await summary(approver, urgent);
    if (u.done) largeWhenUrgentDone = (await summary(user, large)).summary;
    else await new Promise((r) => setTimeout(r, 200));
  }
  expect(largeWhenUrgentDone, stack.workerLog()).toBeDefined();
  // The worker claims 5 packages per cycle by priority: the 2 urgent ones go first at every stage.
  expect(largeWhenUrgentDone!.total).toBe(60);
  expect(largeWhenUrgentDone!.settled).toBeLessThan(60);
});
