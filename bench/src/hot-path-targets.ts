/**
 * The hot-path targets of issue 9, each against what users would pick
 * instead, measured side by side in the same run.
 */
import type { Target } from './harness.js';

export const hotPathTargets: readonly Target[] = [
  { suite: 'cache set (replacing, 10 000 keys)', label: 'cache set, replacing', max: 3, peer: 'lru-cache' },
  { suite: 'cache set (evicting, 20 000 keys into 10 000)', label: 'cache set, evicting', max: 3, peer: 'lru-cache' },
  {
    suite: 'upsert (replacing, 10 000 docs)',
    name: 'memory upsert',
    label: 'memory upsert, no index',
    max: 1.5,
    peer: 'unstorage',
  },
  {
    suite: 'queue worker overhead, concurrency 10',
    name: 'memory queue.work (settleAndClaim)',
    label: 'memory queue.work, concurrency 10 (mean of runs)',
    max: 1.3,
    peer: 'dequeueMany + complete loop',
  },
  ...[
    'sqlite find indexed eq (100 hits)',
    'sqlite find sorted by float, limit 50 (10 000 docs)',
    'sqlite find sorted by integer, limit 50 (10 000 docs)',
    'sqlite find float range, no index (~100 of 10 000)',
    'sqlite find float range, indexed (~100 of 10 000)',
  ].map((suite) => ({ suite, label: suite, max: 1.5, peer: 'raw' })),
];
