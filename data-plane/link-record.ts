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
}

export interface DomainRecord {
  readonly hostname: string;
  readonly notFoundUrl: string | null;
  readonly expiredUrl: string | null;
}
