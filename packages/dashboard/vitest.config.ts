import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@berth/source'] },
  ssr: { resolve: { conditions: ['@berth/source'] } },
  test: { name: 'dashboard', testTimeout: 30_000 },
});
