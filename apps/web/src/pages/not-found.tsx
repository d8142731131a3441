import { Link } from 'react-router';
import { useTitle } from '../lib/use-title';

export function NotFoundPage({ what = 'page' }: { what?: string }) {
  useTitle('Not found');
  return (
    <section className="panel" aria-labelledby="nf-title">
      <h1 id="nf-title">Not found</h1>
      <p>There is no such {what}, or it is not yours to see.</p>
      <p>
        <Link to="/requests">Go to the requests</Link>
      </p>
    </section>
  );
}
