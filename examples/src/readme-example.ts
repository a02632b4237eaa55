import { createBackend, type Document, isBerthError } from '@berth/core';

interface Character extends Document {
  readonly name: string;
  readonly level: number;
  readonly gold: number;
}

const backend = await createBackend(process.env.BERTH_URL ?? 'memory:');
const characters = backend.repository<Character>('characters', { indexes: [{ field: 'level', type: 'number' }] });

const merlin = await characters.insert({ name: 'Merlin', level: 12, gold: 300 });
const tux = await characters.insert({ name: 'Tux', level: 9, gold: 50 });
await characters.update(tux.id, { $inc: { level: 1 } }); // atomic: no read-modify-write

await backend.transaction(async (tx) => {
  const inTx = tx.repository<Character>('characters'); // both updates commit, or neither does
  await inTx.update(merlin.id, { $inc: { gold: -100 } });
  await inTx.update(tux.id, { $inc: { gold: 100 } });
});

const page = await characters.findPage({ where: { level: { $gte: 10 } }, orderBy: 'name', limit: 10 });
console.log(page.items, page.nextCursor); // Merlin (200 gold) and Tux (level 10, 150 gold); null: no more pages

await characters.update(merlin.id, { name: 'Merlin the Wise' }, { expectedVersion: 1 }).catch((error: unknown) => {
  if (!isBerthError(error, 'CONFLICT')) throw error; // Merlin is at version 2 by now: re-read and retry
});
await backend.close();
