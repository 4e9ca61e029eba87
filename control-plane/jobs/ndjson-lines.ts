/**
 * Streams an NDJSON body: one JSON object per line (LF or CRLF), blank lines ignored. Each line
 * comes out as its raw text after JSON.parse accepted it; a bad line is an error naming it.
 */

export class NdjsonError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly reason: 'syntax' | 'too_large',
  ) {
    super(message);
    this.name = 'NdjsonError';
  }
}

const LF = 10;

export class NdjsonLines {
  private pieces: Buffer[] = [];
  private pending = 0;
  private line = 0;
  /** Items read so far. */
  count = 0;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): string[] {
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl < 0) {
        const tail = chunk.subarray(start);
        if (tail.length > 0) {
          this.pending += tail.length;
          if (this.pending > this.maxLineBytes) {
            throw new NdjsonError(`line ${this.line + 1} is longer than ${this.maxLineBytes} bytes`, this.line + 1, 'too_large');
          }
          this.pieces.push(Buffer.from(tail));
        }
        return out;
      }
      const piece = chunk.subarray(start, nl);
      const bytes = this.pieces.length === 0 ? piece : Buffer.concat([...this.pieces, piece]);
      this.pieces = [];
      this.pending = 0;
      this.take(bytes, out);
      start = nl + 1;
    }
  }

  end(): string[] {
    const out: string[] = [];
    if (this.pieces.length > 0) {
      this.take(Buffer.concat(this.pieces), out);
      this.pieces = [];
    }
    return out;
  }

  private take(bytes: Buffer, out: string[]): void {
    this.line++;
    if (bytes.length > this.maxLineBytes) throw new NdjsonError(`line ${this.line} is longer than ${this.maxLineBytes} bytes`, this.line, 'too_large');
    let text = bytes.toString('utf8');
    if (this.line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    text = text.trim();
    if (text.length === 0) return;
    try {
      JSON.parse(text);
    } catch (err) {
      throw new NdjsonError(`line ${this.line} is not valid JSON: ${(err as Error).message}`, this.line, 'syntax');
    }
    this.count++;
    out.push(text);
  }
}
