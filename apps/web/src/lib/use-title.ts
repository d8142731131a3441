import { useEffect } from 'react';

/** Sets the document title to "<page> · Secure Package Manager". */
export function useTitle(page: string): void {
  useEffect(() => {
    document.title = `${page} · Secure Package Manager`;
  }, [page]);
}
