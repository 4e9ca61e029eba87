/**
 * The one list block every list page uses: the error and notice banners, a count line, the table
 * (named by its caption, scrolling sideways inside its own box on a narrow screen), an empty text and
 * the cursor pager ("Load more"). Pages give columns and rows; they no longer repeat the markup.
 */
import type { ComponentChildren, JSX } from 'preact';
import { ErrorBanner, Notice } from './ui.js';

export interface Column<T> {
  /** Header text (also the column's name for screen readers). */
  header: ComponentChildren;
  cell(row: T): ComponentChildren;
  /** Class of the header and body cells (e.g. `actions`, `dest`, `short`). */
  class?: string;
  /** Tooltip of the body cell (long values cut by CSS). */
  title?(row: T): string;
}

export interface ListTableProps<T> {
  /** Names the table (visually hidden caption). */
  caption: string;
  /** Class of the <table> (tests and CSS find tables by it). */
  class?: string;
  columns: (Column<T> | false | null | undefined)[];
  rows: readonly T[];
  rowKey(row: T): string;
  /** Attributes of a row, e.g. `{ 'data-link-id': id }`. */
  rowProps?(row: T): Record<string, string>;
  /** A full-width row under `row` (details, attempts), or null. */
  detail?(row: T): ComponentChildren | null;
  error?: unknown;
  /** Shown in a polite live region above the table; omit to have none. */
  notice?: string | null;
  /** A count or progress line ("12 shown of about 40"), announced politely. */
  status?: string | null;
  /** Shown instead of the table body when there is no row (and nothing is loading). */
  empty?: string;
  loading?: boolean;
  /** The next page: shows "Load more" while set. */
  onMore?: (() => void) | null;
  /** Between the banners and the table (a selection bar). */
  children?: ComponentChildren;
}

export function ListTable<T>(p: ListTableProps<T>): JSX.Element {
  const columns = p.columns.filter((c): c is Column<T> => Boolean(c));
  return (
    <div class="list">
      <ErrorBanner error={p.error} />
      {p.notice !== undefined && <Notice text={p.notice} />}
      {p.children}
      {p.status !== undefined && (
        <p class="count" aria-live="polite">
          {p.loading ? 'Loading…' : p.status}
        </p>
      )}
      {p.rows.length === 0 && !p.loading && p.empty ? (
        <p class="muted">{p.empty}</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={p.caption}>
          <table class={p.class}>
            <caption class="visually-hidden">{p.caption}</caption>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th scope="col" class={c.class}>
                    {c.header}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {p.rows.map((row) => {
                const detail = p.detail?.(row);
                const key = p.rowKey(row);
                return [
                  <tr key={key} {...(p.rowProps?.(row) ?? {})}>
                    {columns.map((c) => (
                      <td class={c.class} title={c.title?.(row)}>
                        {c.cell(row)}
                      </td>
                    ))}
                  </tr>,
                  detail ? (
                    <tr key={`${key}-detail`} class="detail">
                      <td colSpan={columns.length}>{detail}</td>
                    </tr>
                  ) : null,
                ];
              })}
            </tbody>
          </table>
        </div>
      )}
      {p.onMore && (
        <button type="button" class="secondary more" disabled={p.loading} onClick={p.onMore}>
          Load more
        </button>
      )}
    </div>
  );
}
