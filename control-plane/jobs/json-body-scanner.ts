/**
 * Streams a JSON body `{"operation": …, "items": [ … ], "callback_url": …}` of any size: the
 * elements of `items` come out one by one as their raw JSON text (validated with JSON.parse),
 * the other top-level fields are kept (they are small) and returned at the end, in whatever
 * order they appear. Nothing but the item being read is held in memory.
 *
 * Works on bytes: every structural character is ASCII and UTF-8 never uses ASCII bytes inside a
 * multi-byte sequence, so chunk boundaries can fall anywhere.
 */

export class JsonBodyError extends Error {
  constructor(
    message: string,
    /** `items[12]`, a top-level field name, or `body`. */
    readonly field: string,
    readonly line: number,
    readonly offset: number,
    readonly reason: 'syntax' | 'unknown_field' | 'duplicate_field' | 'not_an_array' | 'too_large',
  ) {
    super(message);
    this.name = 'JsonBodyError';
  }
}

const enum S {
  Start,
  KeyOrEnd,
  KeyRequired,
  Key,
  Colon,
  Value,
  Field,
  AfterValue,
  ItemsFirst,
  Item,
  ItemRequired,
  ItemsAfter,
  Done,
}

const QUOTE = 34;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const COMMA = 44;
const COLON = 58;
const LF = 10;

const isWs = (b: number) => b === 32 || b === 10 || b === 13 || b === 9;

export interface JsonBodyScannerOptions {
  /** Top-level fields allowed besides `items`. */
  fields: readonly string[];
  maxItemBytes: number;
  maxFieldBytes?: number;
}

export class JsonBodyScanner {
  private state = S.Start;
  private offset = 0; // bytes consumed before the current chunk
  private line = 1;
  private key = '';
  private readonly seen = new Set<string>();
  private readonly values: Record<string, unknown> = {};
  private itemsSeen = false;
  /** Items read so far. */
  count = 0;

  // the value being captured
  private pieces: Buffer[] = [];
  private capBytes = 0;
  private depth = 0;
  private inString = false;
  private escape = false;
  private scalar = false;
  private readonly allowed: ReadonlySet<string>;

  constructor(private readonly opts: JsonBodyScannerOptions) {
    this.allowed = new Set(opts.fields);
  }

  private fail(message: string, field: string, at: number, reason: JsonBodyError['reason'] = 'syntax'): never {
    throw new JsonBodyError(message, field, this.line, at, reason);
  }

  private where(): string {
    return this.state === S.Item || this.state === S.ItemRequired || this.state === S.ItemsAfter || this.state === S.ItemsFirst
      ? `items[${this.count}]`
      : this.key || 'body';
  }

  /** Feeds bytes; returns the raw JSON text of every item completed in this chunk. */
  push(chunk: Buffer): string[] {
    const out: string[] = [];
    const len = chunk.length;
    let i = 0;
    if (this.state === S.Start && this.offset === 0 && len >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3; // BOM
    while (i < len) {
      const st = this.state;
      if (st === S.Item || st === S.Field || st === S.Key) {
        i = this.capture(chunk, i, out);
        continue;
      }
      const b = chunk[i]!;
      if (b === LF) this.line++;
      if (isWs(b)) {
        i++;
        continue;
      }
      const at = this.offset + i;
      switch (st) {
        case S.Start:
          if (b !== LBRACE) this.fail('the body must be a JSON object', 'body', at);
          this.state = S.KeyOrEnd;
          i++;
          break;
        case S.KeyOrEnd:
        case S.KeyRequired:
          if (b === RBRACE && st === S.KeyOrEnd) {
            this.state = S.Done;
            i++;
            break;
          }
          if (b !== QUOTE) this.fail('expected a field name', 'body', at);
          this.begin(i, S.Key);
          this.inString = true;
          i++;
          break;
        case S.Colon:
          if (b !== COLON) this.fail(`expected ":" after "${this.key}"`, this.key, at);
          this.state = S.Value;
          i++;
          break;
        case S.Value:
          if (this.key === 'items') {
            if (b !== LBRACKET) this.fail('items must be an array', 'items', at, 'not_an_array');
            this.itemsSeen = true;
            this.state = S.ItemsFirst;
            i++;
          } else {
            this.begin(i, S.Field);
            this.startValue(b);
            i++;
            if (this.scalar) i--; // a scalar's first byte is re-read by capture
          }
          break;
        case S.AfterValue:
          if (b === COMMA) this.state = S.KeyRequired;
          else if (b === RBRACE) this.state = S.Done;
          else this.fail('expected "," or "}"', this.key, at);
          i++;
          break;
        case S.ItemsFirst:
        case S.ItemRequired:
          if (b === RBRACKET && st === S.ItemsFirst) {
            this.state = S.AfterValue;
            i++;
            break;
          }
          if (b === RBRACKET || b === COMMA) this.fail(`expected an item at items[${this.count}]`, `items[${this.count}]`, at);
          this.begin(i, S.Item);
          this.startValue(b);
          i++;
          if (this.scalar) i--;
          break;
        case S.ItemsAfter:
          if (b === COMMA) this.state = S.ItemRequired;
          else if (b === RBRACKET) this.state = S.AfterValue;
          else this.fail(`expected "," or "]" after items[${this.count - 1}]`, `items[${this.count - 1}]`, at);
          i++;
          break;
        case S.Done:
          this.fail('unexpected data after the JSON object', 'body', at);
      }
    }
    if (this.state === S.Item || this.state === S.Field || this.state === S.Key) this.keepTail(chunk);
    this.offset += len;
    return out;
  }

  /** End of input: the top-level fields other than items. */
  end(): { fields: Record<string, unknown>; hasItems: boolean } {
    if (this.state !== S.Done) this.fail('the JSON body ended early', this.where(), this.offset);
    return { fields: this.values, hasItems: this.itemsSeen };
  }

  // --- capturing a value (key string, field value or item) across chunks ---

  private capStart = 0;

  private begin(i: number, state: S): void {
    this.state = state;
    this.pieces = [];
    this.capBytes = 0;
    this.capStart = i;
    this.depth = 0;
    this.inString = false;
    this.escape = false;
    this.scalar = false;
  }

  private startValue(b: number): void {
    if (b === LBRACE || b === LBRACKET) this.depth = 1;
    else if (b === QUOTE) this.inString = true;
    else this.scalar = true;
  }

  private keepTail(chunk: Buffer): void {
    const tail = chunk.subarray(this.capStart);
    this.pieces.push(Buffer.from(tail)); // copy: the request's buffer may be reused
    this.capBytes += tail.length;
    this.capStart = 0;
    this.checkSize();
  }

  private checkSize(): void {
    const limit = this.state === S.Item ? this.opts.maxItemBytes : (this.opts.maxFieldBytes ?? 65_536);
    if (this.capBytes > limit) {
      this.fail(`${this.where()} is larger than ${limit} bytes`, this.where(), this.offset, 'too_large');
    }
  }

  /** Scans from `i` until the captured value ends (then handles it) or the chunk ends. */
  private capture(chunk: Buffer, i: number, out: string[]): number {
    const len = chunk.length;
    let depth = this.depth;
    let inString = this.inString;
    let escape = this.escape;
    const scalar = this.scalar;
    let end = -1; // exclusive end of the value in this chunk
    for (; i < len; i++) {
      const b = chunk[i]!;
      if (b === LF) this.line++;
      if (inString) {
        if (escape) escape = false;
        else if (b === BACKSLASH) escape = true;
        else if (b === QUOTE) {
          inString = false;
          if (depth === 0 && !scalar) {
            end = i + 1;
            break;
          }
        }
      } else if (scalar) {
        if (b === COMMA || b === RBRACE || b === RBRACKET || isWs(b)) {
          if (b === LF) this.line--; // re-read by the structural loop
          end = i;
          break;
        }
      } else if (b === QUOTE) inString = true;
      else if (b === LBRACE || b === LBRACKET) depth++;
      else if (b === RBRACE || b === RBRACKET) {
        depth--;
        if (depth === 0) {
          end = i + 1;
          break;
        }
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escape = escape;
    if (end < 0) return len; // the tail is kept by push()
    const piece = chunk.subarray(this.capStart, end);
    this.capBytes += piece.length;
    this.checkSize();
    const text = this.pieces.length === 0 ? piece.toString('utf8') : Buffer.concat([...this.pieces, piece]).toString('utf8');
    this.pieces = [];
    this.finish(text, out);
    return end;
  }

  private finish(text: string, out: string[]): void {
    const at = this.offset;
    const st = this.state;
    if (st === S.Key) {
      let key: string;
      try {
        key = JSON.parse(text) as string;
      } catch {
        this.fail('a field name is not a valid JSON string', 'body', at);
      }
      if (key !== 'items' && !this.allowed.has(key)) {
        this.fail(`unknown field "${key}" (allowed: items, ${[...this.allowed].join(', ')})`, key, at, 'unknown_field');
      }
      if (this.seen.has(key)) this.fail(`field "${key}" appears twice`, key, at, 'duplicate_field');
      this.seen.add(key);
      this.key = key;
      this.state = S.Colon;
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const field = st === S.Item ? `items[${this.count}]` : this.key;
      this.fail(`${field} is not valid JSON: ${(err as Error).message}`, field, at);
    }
    if (st === S.Item) {
      this.count++;
      this.state = S.ItemsAfter;
      out.push(text);
    } else {
      this.values[this.key] = value;
      this.state = S.AfterValue;
    }
  }
}
