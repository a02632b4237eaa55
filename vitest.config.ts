import { defineConfig } from 'vitest/config';

// Tests run against TypeScript sources through the `@berth/source` export
// condition, so nothing has to be built before `pnpm test`.
export default defineConfig({
  resolve: { conditions: ['@berth/source'] },
  ssr: { resolve: { conditions: ['@berth/source'] } },
  test: {
    projects: ['packages/*', 'examples', 'examples/adapter-template', 'bench'],
  },
});
