/**
 * The HTTP client for webhooks and callbacks: an undici Agent whose connector refuses private,
 * loopback, link-local and metadata addresses on the address actually connected to.
 *
 * - Names: our `lookup` resolves every address and keeps only public ones, and net.connect
 *   connects to what it returned, so a DNS answer that changes between check and connect
 *   (rebinding) cannot slip through.
 * - IP literals (any spelling: WHATWG URL parsing turns `2130706433` and `0x7f.1` into
 *   `127.0.0.1`) are checked before connecting; the connected socket's remote address is checked
 *   again after connecting.
 * - No redirects are followed (undici's request does not follow them).
 * - What a refusal says never names the addresses a name resolved to, and a name that does not
 *   exist reads the same as one that resolves only inside: the delivery log is visible to API keys,
 *   so anything more would let them map the internal DNS.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { isPublicAddress } from '../../shared/index.js';

/** How a destination was refused; the message names the host as written, never what it resolved to. */
export type BlockedReason = 'no_public_address' | 'address_not_public' | 'connected_address_not_public';

const BLOCKED_MESSAGES: Record<BlockedReason, (host: string) => string> = {
  no_public_address: (host) => `${host} does not resolve to a public address`,
  address_not_public: (host) => `${host} is not a public address`,
  connected_address_not_public: (host) => `the connection to ${host} reached a non-public address`,
};

export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';
  constructor(
    host: string,
    readonly reason: BlockedReason,
  ) {
    super(BLOCKED_MESSAGES[reason](host));
    this.name = 'BlockedAddressError';
  }
}

/** Resolver answers that mean "no such name" (as opposed to a resolver that failed for now). */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_NODATA', 'ENODATA']);

type LookupCallback = (err: NodeJS.ErrnoException | null, addressOrAll: string | LookupAddress[], family?: number) => void;
/** Resolves every address of a name (dns.lookup with `all: true`). */
export type ResolveAll = (hostname: string, cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolve: ResolveAll = (hostname, cb) => dnsLookup(hostname, { all: true, verbatim: true } satisfies LookupAllOptions, cb);

export interface SafeAgentOptions {
  /** Allow private/loopback/link-local destinations (WEBHOOK_ALLOW_PRIVATE, dev and tests). */
  allowPrivate: boolean;
  connectTimeoutMs: number;
  /** DNS resolution (tests inject one to simulate rebinding). */
  resolve?: ResolveAll;
  keepAliveTimeoutMs?: number;
}

const unbracket = (h: string): string => (h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h);

/**
 * A `lookup` for net.connect that resolves every address and hands back only allowed ones, so the
 * address connected to is the address checked. With `hideUnknownNames`, a name that does not exist
 * is refused exactly like one that resolves only to refused addresses (no internal-DNS oracle).
 */
export function safeLookup(allowed: (address: string) => boolean, resolve: ResolveAll = systemResolve, hideUnknownNames = false) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, (err, addresses) => {
      if (err) {
        const code = (err as { code?: unknown }).code;
        if (hideUnknownNames && typeof code === 'string' && NO_SUCH_NAME.has(code)) return callback(new BlockedAddressError(hostname, 'no_public_address'), []);
        return callback(err, []);
      }
      const family = options.family === 4 || options.family === 6 ? options.family : 0;
      const usable = addresses.filter((a) => allowed(a.address) && (family === 0 || a.family === family));
      if (usable.length === 0) return callback(new BlockedAddressError(hostname, 'no_public_address'), []);
      if (options.all) return callback(null, usable);
      return callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}

export function createSafeAgent(opts: SafeAgentOptions): Agent {
  const allowed = (address: string): boolean => opts.allowPrivate || isPublicAddress(address);
  const lookup = safeLookup(allowed, opts.resolve ?? systemResolve, !opts.allowPrivate);
  const base = buildConnector({ timeout: opts.connectTimeoutMs, lookup: lookup as never });
  const connect: buildConnector.connector = (o, callback) => {
    const host = unbracket(o.hostname);
    if (isIP(host) && !allowed(host)) {
      callback(new BlockedAddressError(host, 'address_not_public'), null);
      return;
    }
    base(o, (err, socket) => {
      if (err || !socket) {
        callback(err ?? new Error('connect failed'), null);
        return;
      }
      const remote = (socket as Socket).remoteAddress;
      if (!remote || !allowed(remote)) {
        socket.destroy();
        callback(new BlockedAddressError(host, 'connected_address_not_public'), null);
        return;
      }
      callback(null, socket);
    });
  };

  return new Agent({ connect, keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4000, keepAliveMaxTimeout: 30_000 });
}
