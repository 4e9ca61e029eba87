/**
 * What the store hands the decision function: the fields of a compiled link that every request
 * needs, read straight from the stored header, plus its prepared routing (decoded once per
 * version and cached) when it has rules or a split.
 */
import type { RedirectStatus } from '../shared/index.js';
import type { Routing } from './routing.js';

export interface LinkRecord {
  /** Stream sequence of the KV message this version came from: unique per version. */
  readonly stamp: number;
  /** '' when the reader was asked without ids (StoreReader.link(key, false)). */
  readonly linkId: string;
  readonly workspaceId: string;
  readonly redirectStatus: RedirectStatus;
  /** Final destination, UTM merged, checked safe when stored. */
  readonly destination: string;
  readonly forwardQuery: boolean;
  readonly disabled: boolean;
  readonly pending: boolean;
  /** Epoch ms or null. */
  readonly expiresAt: number | null;
  readonly routing: Routing | null;
  /**
   * The stored value this record was decoded from, and where its ids lie in it (link id at
   * `[idAt, wsAt)`, workspace id at `[wsAt, wsEnd)`, UTF-8): the click ring copies them as bytes
   * instead of having strings made for them. lmdb-js reuses this buffer on the store's next read:
   * read it in the same request, before any other lookup, or not at all.
   */
  readonly value: Buffer | null;
  readonly idAt: number;
  readonly wsAt: number;
  readonly wsEnd: number;
}

export interface DomainRecord {
  readonly hostname: string;
  readonly notFoundUrl: string | null;
  readonly expiredUrl: string | null;
}
