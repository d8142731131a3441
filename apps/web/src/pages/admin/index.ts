import type { ComponentType } from 'react';
import type { Role } from '../../api/roles';
import { AuditPage } from './audit';
import { LicensesPage } from './licenses';
import { OperationsPage } from './operations';
import { UsersPage } from './users';

/**
 * The administration pages: each becomes a route and a navigation entry for the roles that may use it.
 * A new page (policy rules, API tokens, webhooks) is one more entry here.
 */
export const ADMIN_PAGES: ReadonlyArray<{ path: string; title: string; role: Role; Page: ComponentType }> = [
  { path: '/admin/licenses', title: 'Licences', role: 'admin', Page: LicensesPage },
  { path: '/admin/users', title: 'Users', role: 'admin', Page: UsersPage },
  { path: '/admin/audit', title: 'Audit log', role: 'admin', Page: AuditPage },
  { path: '/admin/operations', title: 'Operations', role: 'admin', Page: OperationsPage },
];
