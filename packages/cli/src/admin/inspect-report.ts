import type { Backend, CollectionInfo, HealthStatus, JobStats } from '@berth/core';

/** What `berth inspect` reports, also its `--json` shape. */
export interface InspectReport {
  readonly kind: string;
  readonly health: HealthStatus;
  readonly capabilities: Backend['capabilities'];
  readonly collections: readonly (CollectionInfo & { readonly count: number })[];
  readonly queues: readonly { readonly name: string; readonly stats: JobStats }[];
}

/** Gathers the report: one count per collection and one `stats()` per queue, no scan. */
export async function gatherInspectReport(backend: Backend, signal: AbortSignal | undefined): Promise<InspectReport> {
  const options = { signal };
  const health = await backend.health(options);
  const collections = await Promise.all(
    (await backend.collections(options)).map(async (info) => ({
      ...info,
      count: await backend.repository(info.name).count(undefined, options),
    })),
  );
  const hasQueues = backend.capabilities.queue.level !== 'none';
  const queues = hasQueues
    ? await Promise.all(
        (await backend.queues(options)).map(async (name) => ({
          name,
          stats: await backend.queue(name).stats(options),
        })),
      )
    : [];
  return { kind: backend.kind, health, capabilities: backend.capabilities, collections, queues };
}
