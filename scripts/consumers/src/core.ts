// The application API of @berth/core and the helpers of @berth/core/adapter,
// as a user's strict project sees them through the published declarations.

import { MemoryCache } from '@berth/adapter-memory';
import {
  type Backend,
  createBackend,
  type Document,
  isBerthError,
  type Job,
  type Page,
  type Repository,
  withCache,
} from '@berth/core';
import { prepareQuery } from '@berth/core/adapter';

interface Player extends Document {
  name: string;
  level: number;
  tags?: string[];
  address?: { city: string };
}

export async function useCore(): Promise<Page<Player>> {
  const backend: Backend = await createBackend('memory:');
  const players: Repository<Player> = withCache(backend.repository<Player>('players'), new MemoryCache());
  const ada = await players.insert({ name: 'Ada', level: 1 });
  await players.update(ada.id, { $inc: { level: 1 }, $set: { 'address.city': 'Paris' } });
  const page = await players.findPage({
    where: { level: { $gte: 2 }, name: { $in: ['Ada'] } },
    orderBy: 'name',
    limit: 10,
  });
  const first: Player | undefined = page.items[0];
  first?.tags?.at(0)?.toUpperCase();

  const mails = backend.queue<{ to: string }>('mails');
  await mails.enqueue({ to: 'ada@example.com' }, { priority: 5, dedupeKey: 'welcome:ada' });
  const worker = mails.work(async (job: Job<{ to: string }>, { signal }) => {
    signal.throwIfAborted();
    return { sent: job.payload.to };
  });
  await worker.close();
  try {
    await players.update(ada.id, { level: 9 }, { expectedVersion: 1 });
  } catch (error) {
    if (!isBerthError(error, 'CONFLICT')) throw error;
  }
  prepareQuery({ where: { level: 1 } });
  await backend.close();
  return page;
}
