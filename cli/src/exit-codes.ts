/** The CLI's exit codes (documented in docs/cli.md; scripts branch on them). */
import { AuthenticationError, ConflictError, LinkplaneError, NetworkError, NotFoundError, PermissionError, RateLimitError, ServerError, ValidationError } from '@linkplane/sdk';

export const EXIT = {
  /** Done. */
  ok: 0,
  /** Something unexpected (a bug, a local file that cannot be read or written). */
  failure: 1,
  /** Bad command line: unknown command or option, missing argument. */
  usage: 2,
  /** No API URL or key: run `linkplane login` or set LINKPLANE_API_URL / LINKPLANE_API_KEY. */
  notConfigured: 3,
  /** The API refused the key (401) or its power (403). */
  auth: 4,
  /** The resource does not exist (404). */
  notFound: 5,
  /** The API refused the request as it is (400, 409, 422): see the error code and field. */
  refused: 6,
  /** The API could not be reached or kept failing (network, 429, 5xx) after the SDK's retries. */
  unavailable: 7,
  /** A bulk job finished with failed items, or failed or was cancelled. */
  jobFailed: 8,
} as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof AuthenticationError || err instanceof PermissionError) return EXIT.auth;
  if (err instanceof NotFoundError) return EXIT.notFound;
  if (err instanceof ValidationError || err instanceof ConflictError) return EXIT.refused;
  if (err instanceof NetworkError || err instanceof RateLimitError || err instanceof ServerError) return EXIT.unavailable;
  if (err instanceof LinkplaneError) return EXIT.refused;
  return EXIT.failure;
}
