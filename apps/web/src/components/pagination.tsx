/** Previous / next through a paged list, with where we are in words. */
export function Pagination({
  page,
  pageSize,
  total,
  onPage,
  label,
}: {
  page: number;
  pageSize: number;
  total: number;
  onPage(page: number): void;
  /** What is paged, for the navigation's name ("Packages pages"). */
  label: string;
}) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const from = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const to = Math.min(total, page * pageSize);
  return (
    <nav className="pagination" aria-label={label}>
      <p className="pagination__status">
        {total === 0
          ? 'Nothing to show'
          : `${from.toLocaleString()}–${to.toLocaleString()} of ${total.toLocaleString()}`}
        {pages > 1 && ` · page ${page} of ${pages.toLocaleString()}`}
      </p>
      <div className="pagination__buttons">
        <button type="button" className="button" onClick={() => onPage(1)} disabled={page <= 1}>
          First
        </button>
        <button type="button" className="button" onClick={() => onPage(page - 1)} disabled={page <= 1}>
          Previous
        </button>
        <button type="button" className="button" onClick={() => onPage(page + 1)} disabled={page >= pages}>
          Next
        </button>
        <button type="button" className="button" onClick={() => onPage(pages)} disabled={page >= pages}>
          Last
        </button>
      </div>
    </nav>
  );
}
