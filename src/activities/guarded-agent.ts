import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent } from 'undici';
import { forbiddenAddress } from '../domain/addresses.ts';

/** The error a guarded agent's connection fails with when a name resolves to a refused address. */
export const privateAddressCode = 'EPRIVATE';

/**
 * Why a URL's host, when it is an address literal, may not be reached (a private, loopback or
 * link-local address), or null. Names are checked when they are resolved (guardedAgent).
 */
export function forbiddenLiteral(u: URL, allowPrivateAddresses: boolean): string | null {
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return !allowPrivateAddresses && isIP(host) ? forbiddenAddress(host) : null;
}

/**
 * An HTTP agent that checks every address it connects to when the name is resolved, so that no
 * name (nor a redirect) leads to a private or loopback address unless that is allowed (SSRF).
 */
export function guardedAgent(allowPrivateAddresses: boolean): Agent {
  return new Agent({
    connect: {
      lookup: (hostname, options, callback) => {
        dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
          if (err) return callback(err, '', 0);
          const list = addresses as LookupAddress[];
          const bad = allowPrivateAddresses ? null : list.map((a) => forbiddenAddress(a.address)).find(Boolean);
          if (bad)
            return callback(
              Object.assign(new Error(`refused to connect to ${hostname}: ${bad}`), { code: privateAddressCode }),
              '',
              0,
            );
          const first = list[0]!;
          if ((options as { all?: boolean }).all)
            (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
          else callback(null, first.address, first.family);
        });
      },
    },
  });
}
