import { useState } from 'react';
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SeverityBadge, StatusBadge, TierBadge } from '../src/components/badges';
import { DebouncedInput } from '../src/components/debounced-input';
import { DecisionForm } from '../src/components/decision-form';
import { OutcomeCounts } from '../src/components/outcome-counts';
import { Pagination } from '../src/components/pagination';
import { ProgressBar } from '../src/components/progress';
import { SortHeader, type SortOrder } from '../src/components/table';
import { useShortcuts } from '../src/lib/use-shortcuts';

afterEach(cleanup);

describe('badges', () => {
  it('always carry the word, with the icon hidden from assistive technology', () => {
    render(<StatusBadge status="Rejected" />);
    const badge = screen.getByText('Rejected');
    expect(badge.textContent).toBe('✕ Rejected');
    expect(badge.querySelector('[aria-hidden="true"]')?.textContent).toBe('✕ ');
  });
  it('say when a package was not scanned or has no findings', () => {
    render(
      <>
        <SeverityBadge severity={null} />
        <SeverityBadge severity="none" />
        <SeverityBadge severity="critical" />
        <TierBadge tier={null} />
      </>,
    );
    expect(screen.getByText('not scanned')).toBeTruthy();
    expect(screen.getByText('none')).toBeTruthy();
    expect(screen.getByText('critical').className).toContain('badge--critical');
    expect(screen.getByText('Unknown')).toBeTruthy();
  });
});

describe('ProgressBar', () => {
  it('is a labelled native progress element with the value in words', () => {
    render(<ProgressBar value={42.4} label="Progress of app@1.0.0" />);
    const bar = screen.getByRole('progressbar', { name: 'Progress of app@1.0.0' }) as HTMLProgressElement;
    expect(bar.value).toBe(42);
    expect(screen.getByText('42%')).toBeTruthy();
  });
});

describe('OutcomeCounts', () => {
  it('shows the non-empty groups with their counts', () => {
    render(<OutcomeCounts counts={{ Published: 3, 'Pending Approval': 2, Downloading: 1 }} />);
    expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      '✓ 3 published',
      '‖ 2 waiting for approval',
      '↻ 1 in progress',
    ]);
  });
});

describe('Pagination', () => {
  it('says where we are and steps through the pages', async () => {
    const onPage = vi.fn();
    render(<Pagination label="Package pages" page={2} pageSize={50} total={120} onPage={onPage} />);
    const nav = screen.getByRole('navigation', { name: 'Package pages' });
    expect(within(nav).getByText('51–100 of 120 · page 2 of 3')).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Next' }));
    await userEvent.click(screen.getByRole('button', { name: 'First' }));
    expect(onPage.mock.calls).toEqual([[3], [1]]);
  });
  it('disables what leads nowhere', () => {
    render(<Pagination label="p" page={1} pageSize={50} total={0} onPage={() => undefined} />);
    for (const name of ['First', 'Previous', 'Next', 'Last'])
      expect((screen.getByRole('button', { name }) as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText('Nothing to show')).toBeTruthy();
  });
});

describe('SortHeader', () => {
  function Harness() {
    const [sort, setSort] = useState<'name' | 'status'>('name');
    const [order, setOrder] = useState<SortOrder>('asc');
    const on = (c: 'name' | 'status', o: SortOrder) => (setSort(c), setOrder(o));
    return (
      <table>
        <thead>
          <tr>
            <SortHeader column="name" label="Package" sort={sort} order={order} onSort={on} />
            <SortHeader column="status" label="Status" sort={sort} order={order} onSort={on} />
          </tr>
        </thead>
      </table>
    );
  }
  it('tells assistive technology the order, and toggles it', async () => {
    render(<Harness />);
    const [name, status] = screen.getAllByRole('columnheader');
    expect([name!.getAttribute('aria-sort'), status!.getAttribute('aria-sort')]).toEqual(['ascending', 'none']);
    await userEvent.click(screen.getByRole('button', { name: /Package/ }));
    expect(name!.getAttribute('aria-sort')).toBe('descending');
    await userEvent.click(screen.getByRole('button', { name: /Status/ }));
    expect([name!.getAttribute('aria-sort'), status!.getAttribute('aria-sort')]).toEqual(['none', 'ascending']);
  });
});

describe('DecisionForm', () => {
  it('will not decide without a reason, and says so', async () => {
    const onDecide = vi.fn();
    render(<DecisionForm busy={false} onDecide={onDecide} what="this package" />);
    await userEvent.click(screen.getByRole('button', { name: 'Reject' }));
    expect(onDecide).not.toHaveBeenCalled();
    expect(screen.getByText('Give a reason.')).toBeTruthy();
    expect(screen.getByLabelText('Reason').getAttribute('aria-invalid')).toBe('true');
  });
  it('decides with the trimmed reason, by button or with Ctrl+Enter', async () => {
    const onDecide = vi.fn();
    render(<DecisionForm decisions={['approve']} busy={false} onDecide={onDecide} what="3 packages" />);
    const reason = screen.getByLabelText('Reason');
    await userEvent.type(reason, '  reviewed  ');
    fireEvent.keyDown(reason, { key: 'Enter', ctrlKey: true });
    await userEvent.click(screen.getByRole('button', { name: 'Approve' }));
    expect(onDecide.mock.calls).toEqual([
      ['approve', 'reviewed'],
      ['approve', 'reviewed'],
    ]);
    expect(screen.queryByRole('button', { name: 'Reject' })).toBeNull();
  });
});

describe('useShortcuts', () => {
  function Page({ onA }: { onA(): void }) {
    useShortcuts({ a: onA });
    return (
      <>
        <input aria-label="Search" />
        <input type="checkbox" aria-label="Select" />
      </>
    );
  }
  it('answers single keys on the page, never while typing or with a modifier', () => {
    const onA = vi.fn();
    render(<Page onA={onA} />);
    fireEvent.keyDown(document.body, { key: 'a' });
    fireEvent.keyDown(screen.getByLabelText('Select'), { key: 'a' });
    fireEvent.keyDown(screen.getByLabelText('Search'), { key: 'a' });
    fireEvent.keyDown(document.body, { key: 'a', ctrlKey: true });
    fireEvent.keyDown(document.body, { key: 'b' });
    expect(onA).toHaveBeenCalledTimes(2);
  });
});

describe('DebouncedInput', () => {
  it('shows each keystroke but reports the value once, after a pause', async () => {
    vi.useFakeTimers();
    try {
      const onCommit = vi.fn();
      render(<DebouncedInput aria-label="Name" value="" onCommit={onCommit} delay={300} />);
      const input = screen.getByLabelText('Name') as HTMLInputElement;
      for (const typed of ['l', 'lo', 'lod', 'loda', 'lodas', 'lodash']) {
        fireEvent.change(input, { target: { value: typed } });
        act(() => vi.advanceTimersByTime(100));
      }
      expect(input.value).toBe('lodash');
      expect(onCommit).not.toHaveBeenCalled();
      act(() => vi.advanceTimersByTime(300));
      expect(onCommit.mock.calls).toEqual([['lodash']]);
    } finally {
      vi.useRealTimers();
    }
  });
});
