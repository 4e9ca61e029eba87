/** Opaque keyset cursors over time-ordered ids (`<prefix>_<ULID>`), for every paged list. */
import { errors } from '../errors.js';
import { idPattern, type IdPrefix } from '../ids.js';

export function encodeIdCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ v: 1, id: lastId })).toString('base64url');
}

export function decodeIdCursor(cursor: string, prefix: IdPrefix): string {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: number; id?: unknown };
    if (c.v === 1 && typeof c.id === 'string' && new RegExp(idPattern(prefix)).test(c.id)) return c.id;
  } catch {
    // fall through
  }
  throw errors.invalid_cursor({ field: 'cursor' });
}
