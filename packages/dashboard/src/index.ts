export { createDashboard, type Dashboard, type DashboardOptions } from './dashboard.js';
export type { Authorize } from './guard.js';
export { escapeHtml } from './html.js';
