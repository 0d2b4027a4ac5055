import type { AppRouter } from '../../router.ts';
import { docsPage, scalarBundle, scalarBundlePath } from './docs.handlers.ts';

export function registerDocsRoutes(app: AppRouter) {
  app.get('/docs', docsPage);
  app.get(scalarBundlePath, scalarBundle);
}
