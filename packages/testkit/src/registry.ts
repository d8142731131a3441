import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BuiltPackage } from './tarball.js';

export interface RegistryRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

/** Lets a test take over a request (return true when it answered). */
export type Interceptor = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface TestRegistry {
  /** Base URL ending in `/`, e.g. `http://127.0.0.1:12345/`. */
  url: string;
  server: Server;
  requests: RegistryRequest[];
  /** Serves a package version; `publishedAt` becomes the packument's `time[version]` (none by default). */
  add(
    pkg: BuiltPackage,
    opts?: { versionDoc?: Record<string, unknown>; tarballUrl?: string; publishedAt?: Date | string },
  ): void;
  /** Answers the next `n` requests whose path matches with `status`. */
  failNext(pathPattern: RegExp, n: number, status?: number): void;
  /** Delays tarball responses by `ms` (per response) to make downloads slow. */
  setTarballDelay(ms: number): void;
  intercept(fn: Interceptor | null): void;
  close(): Promise<void>;
}

/**
 * An npm registry served on loopback for tests: packuments (full and abbreviated) and real tarballs
 * with real integrity values, in the layout of the public registry (`/<name>`, `/<name>/-/<file>.tgz`,
 * scoped names as `@scope%2fname`).
 */
export async function startTestRegistry(opts: { token?: string } = {}): Promise<TestRegistry> {
  const packages = new Map<
    string,
    Map<string, { pkg: BuiltPackage; doc: Record<string, unknown>; publishedAt?: string }>
  >();
  const tarballs = new Map<string, Buffer>();
  const requests: RegistryRequest[] = [];
  const failures: Array<{ re: RegExp; n: number; status: number }> = [];
  let tarballDelay = 0;
  let interceptor: Interceptor | null = null;
  let base = '';

  const server = createServer(async (req, res) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    try {
      if (interceptor && (await interceptor(req, res))) return;
      const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
      const fail = failures.find((f) => f.n > 0 && f.re.test(path));
      if (fail) {
        fail.n--;
        res.writeHead(fail.status, { 'content-type': 'application/json' }).end('{"error":"injected failure"}');
        return;
      }
      if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
        return;
      }
      const tgz = tarballs.get(path);
      if (tgz) {
        if (tarballDelay > 0) await new Promise((r) => setTimeout(r, tarballDelay));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tgz.length }).end(tgz);
        return;
      }
      const name = path.slice(1);
      const versions = packages.get(name);
      if (!versions) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
        return;
      }
      const abbreviated = (req.headers.accept ?? '').includes('application/vnd.npm.install-v1+json');
      const vdocs: Record<string, unknown> = {};
      const time: Record<string, string> = {};
      for (const [v, { doc, publishedAt }] of versions) {
        if (publishedAt) time[v] = publishedAt;
        vdocs[v] = abbreviated
          ? {
              name: doc.name,
              version: doc.version,
              dist: doc.dist,
              dependencies: doc.dependencies,
              scripts: doc.scripts,
            }
          : doc;
      }
      const latest = [...versions.keys()].pop()!;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          name,
          'dist-tags': { latest },
          versions: vdocs,
          ...(Object.keys(time).length && !abbreviated ? { time } : {}),
        }),
      );
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  return {
    url: base,
    server,
    requests,
    add(pkg, o = {}) {
      const file = `${pkg.name.split('/').pop()}-${pkg.version}.tgz`;
      const tarPath = `/${pkg.name}/-/${file}`;
      tarballs.set(tarPath, pkg.tarball);
      const doc = {
        ...pkg.manifest,
        name: pkg.name,
        version: pkg.version,
        dist: {
          tarball: o.tarballUrl ?? `${base}${pkg.name.replace('/', '%2f')}/-/${file}`,
          integrity: pkg.integrity,
          shasum: pkg.shasum,
        },
        ...o.versionDoc,
      };
      if (!packages.has(pkg.name)) packages.set(pkg.name, new Map());
      const publishedAt = o.publishedAt instanceof Date ? o.publishedAt.toISOString() : o.publishedAt;
      packages.get(pkg.name)!.set(pkg.version, { pkg, doc, publishedAt });
    },
    failNext(re, n, status = 503) {
      failures.push({ re, n, status });
    },
    setTarballDelay(ms) {
      tarballDelay = ms;
    },
    intercept(fn) {
      interceptor = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
