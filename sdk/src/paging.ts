/**
 * Cursor-paged lists as async iterables: `for await (const link of lp.links.list({ tag }))`
 * walks every page (one request per page, fetched as you iterate); `.pages()` yields whole pages,
 * `.page(cursor)` fetches one, `.toArray(max)` collects.
 */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
  /** Present on lists that estimate their size (links). */
  total_estimate?: number | null;
}

export class Paged<T> implements AsyncIterable<T> {
  constructor(private readonly fetchPage: (cursor: string | undefined) => Promise<Page<T>>, private readonly startCursor?: string) {}

  /** One page: the first, or the one at `cursor`. */
  page(cursor: string | undefined = this.startCursor): Promise<Page<T>> {
    return this.fetchPage(cursor);
  }

  /** Every page in order, fetching the next only when asked for it. */
  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let cursor = this.startCursor;
    for (;;) {
      const page = await this.fetchPage(cursor);
      yield page;
      if (!page.next_cursor) return;
      cursor = page.next_cursor;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page.data;
  }

  /** Up to `max` items (default all) in an array. */
  async toArray(max = Infinity): Promise<T[]> {
    const out: T[] = [];
    if (max <= 0) return out;
    for await (const item of this) {
      out.push(item);
      if (out.length >= max) break;
    }
    return out;
  }
}
