import { lookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { AppError } from './errors.js';

/** The events an endpoint can ask for. */
export const WEBHOOK_EVENTS = [
  'request.settled',
  'package.pending_approval',
  'package.rejected',
  'package.published',
  'package.newly_affected',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * Addresses a webhook must not reach unless an admin allows it (`WEBHOOK_ALLOW_PRIVATE=true`): this
 * machine, private networks, link-local (cloud metadata lives there), carrier-grade NAT, multicast and
 * reserved ranges. Otherwise a webhook is a way to make the server call its own neighbours.
 */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A webhook URL: http or https, no credentials in it, at most 2,000 characters. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('ERR_WEBHOOK_URL', 'The webhook URL is not a valid absolute URL.', { status: 400 });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError('ERR_WEBHOOK_URL', `A webhook URL must be http or https, not ${url.protocol}`, { status: 400 });
  if (url.username || url.password)
    throw new AppError('ERR_WEBHOOK_URL', 'A webhook URL must not carry credentials; use the signing secret.', {
      status: 400,
    });
  if (raw.length > 2000)
    throw new AppError('ERR_WEBHOOK_URL', 'A webhook URL is at most 2,000 characters.', { status: 400 });
  return url;
}

function refused(host: string, address: string): AppError {
  return new AppError(
    'ERR_WEBHOOK_ADDRESS',
    `${host} resolves to ${address}, a loopback, private or reserved address; webhooks may reach it only when WEBHOOK_ALLOW_PRIVATE=true.`,
    { status: 400 },
  );
}

/**
 * A DNS lookup for the delivery's connection that refuses private addresses (unless allowed). The
 * check is on the address actually connected to, so a name that resolves differently at delivery
 * time than at registration (DNS rebinding) is still refused.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as Array<{ address: string; family: number }>;
      const bad = allowPrivate ? undefined : list.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(refused(hostname, bad.address) as unknown as NodeJS.ErrnoException, '', 0);
      if ((options as { all?: boolean }).all) return (callback as (e: null, a: typeof list) => void)(null, list);
      const first = list[0];
      if (!first) return callback(new Error(`${hostname} has no address`) as NodeJS.ErrnoException, '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/** Resolves the URL's host now and refuses a private address (unless allowed): checked at registration. */
export async function checkWebhookHost(url: URL, allowPrivate: boolean): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses: string[] = isIP(host)
    ? [host]
    : await new Promise((resolve, reject) =>
        lookup(host, { all: true }, (err, list) =>
          err
            ? reject(
                new AppError(
                  'ERR_WEBHOOK_URL',
                  `The webhook host ${host} does not resolve (${err.code ?? err.message}).`,
                  {
                    status: 400,
                  },
                ),
              )
            : resolve(list.map((a) => a.address)),
        ),
      );
  if (allowPrivate) return;
  const bad = addresses.find(isPrivateAddress);
  if (bad) throw refused(host, bad);
}
