import type { ReactNode } from 'react';

/**
 * A table in a region that scrolls sideways on a narrow screen. The region is focusable and named, so a
 * keyboard user can scroll it too.
 */
export function TableRegion({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-region" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

export type SortOrder = 'asc' | 'desc';

/** A column header that sorts: a button inside the th, with aria-sort on the th. */
export function SortHeader<K extends string>({
  column,
  label,
  sort,
  order,
  onSort,
}: {
  column: K;
  label: string;
  sort: K;
  order: SortOrder;
  onSort(column: K, order: SortOrder): void;
}) {
  const active = sort === column;
  const next: SortOrder = active && order === 'asc' ? 'desc' : 'asc';
  return (
    <th scope="col" aria-sort={active ? (order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" className="sort-button" onClick={() => onSort(column, next)}>
        {label}
        <span aria-hidden="true" className="sort-button__arrow">
          {active ? (order === 'asc' ? '▲' : '▼') : '↕'}
        </span>
      </button>
    </th>
  );
}
