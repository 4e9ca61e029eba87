/**
 * Secrets are never stored readable in a replayable body (issue 12). A response that carries a
 * secret (a new API key, a webhook signing secret, a job's callback secret) is sent once as is;
 * the copy kept for replay and recover has those fields null and a `redacted` list naming them,
 * so a replay says plainly that the secret is not there rather than pretending it never was.
 */

/** `body` with each field of `secretFields` it has (even null) set to null and listed in `redacted`. */
export function redactSecrets<T extends object>(body: T, secretFields: readonly string[]): T & { redacted?: string[] } {
  const fields = body as Record<string, unknown>;
  const present = secretFields.filter((f) => fields[f] !== undefined);
  if (present.length === 0) return body;
  const copy: Record<string, unknown> = { ...fields };
  for (const f of present) copy[f] = null;
  copy.redacted = present;
  return copy as T & { redacted: string[] };
}
