import type { ComponentType } from 'react';
import type { Role } from '../../api/roles';
import { AuditPage } from './audit';
import { LicensesPage } from './licenses';
import { OperationsPage } from './operations';
import { PolicyPage } from './policy';
import { UsersPage } from './users';

/**
 * The administration pages: each becomes a route and a navigation entry for the roles that may use it.
 * A new page (webhooks, say) is one more entry here. API tokens are everyone's: see pages/tokens.tsx.
 */
export const ADMIN_PAGES: ReadonlyArray<{ path: string; title: string; role: Role; Page: ComponentType }> = [
  { path: '/admin/policy', title: 'Policy', role: 'admin', Page: PolicyPage },
  { path: '/admin/licenses', title: 'Licences', role: 'admin', Page: LicensesPage },
  { path: '/admin/users', title: 'Users', role: 'admin', Page: UsersPage },
  { path: '/admin/audit', title: 'Audit log', role: 'admin', Page: AuditPage },
  { path: '/admin/operations', title: 'Operations', role: 'admin', Page: OperationsPage },
];
