import { defineProject } from 'vitest/config';

// Inside the Berth repository the packages resolve to their TypeScript sources
// (the `@berth/source` condition); a copy outside it uses the published builds.
export default defineProject({
  resolve: { conditions: ['@berth/source'] },
  ssr: { resolve: { conditions: ['@berth/source'] } },
  test: { name: 'adapter-template' },
});
