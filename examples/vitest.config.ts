import { configDefaults, defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@berth/source'] },
  ssr: { resolve: { conditions: ['@berth/source'] } },
  // The adapter template is a workspace package and vitest project of its own.
  test: { name: 'examples', exclude: [...configDefaults.exclude, 'adapter-template/**'] },
});
