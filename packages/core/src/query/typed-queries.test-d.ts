/**
 * Type tests of the typed query and update API, checked by `pnpm typecheck`
 * (the root tsconfig includes `packages/*\/src`). Nothing here runs: each
 * `@ts-expect-error` line must fail to compile, every other line must compile.
 */

import type { IndexDefinition, Repository, RepositoryOptions } from '../repository/repository.js';
import type { AnyDocument, Document } from '../values/document.js';
import type { FieldOperators, Filter, OrderBy, Query } from './query.js';
import type { DocumentPath, NumberPath, PathValue, ScalarPath } from './typed-paths.js';
import type { Patch, Update, UpdateOperators } from './update.js';

/** Fails to compile unless `A` and `B` are the same type. */
type Equal<A, B> = (<V>() => V extends A ? 1 : 2) extends <V>() => V extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}

/** A field whose type is an interface (no index signature). */
interface Address {
  city: string;
  zip?: number;
}

interface Player {
  id: string;
  name: string;
  level: number;
  kind: 'hero' | 'villain';
  active: boolean;
  guild?: string | null;
  joined: Date;
  lastSeen: Date | null;
  tags: string[];
  scores?: number[];
  address: Address;
  stats: { hp: number; title?: string; skills: { math: number; deep: { deeper: { deepest: { x: number } } } } };
  extra?: unknown;
}

declare const players: Repository<Player>;
declare const untyped: Repository;
declare const documents: Repository<Document>;

// ── Paths ────────────────────────────────────────────────────────────────────
assertType<Equal<DocumentPath<{ id: string; a: { b: number }; t: string[] }>, 'id' | 'a' | 'a.b' | 't'>>();
assertType<Equal<PathValue<Player, 'stats.hp'>, number>>();
assertType<Equal<PathValue<Player, 'address.zip'>, number | undefined>>();
assertType<Equal<PathValue<Player, 'guild'>, string | null | undefined>>();
assertType<
  Equal<NumberPath<{ id: string; n: number; m?: number | null; s: string; o: { k: number } }>, 'n' | 'm' | 'o.k'>
>();
assertType<Equal<ScalarPath<{ id: string; o: { k: Date }; t: number[] }>, 'id' | 'o.k'>>();
// Untyped documents: any path.
assertType<Equal<DocumentPath<AnyDocument>, string>>();
assertType<Equal<DocumentPath<Document>, string>>();
// The depth bound: five segments.
const fiveDeep: DocumentPath<Player> = 'stats.skills.deep.deeper.deepest';
// @ts-expect-error six segments are past the bound
const sixDeep: DocumentPath<Player> = 'stats.skills.deep.deeper.deepest.x';
// @ts-expect-error no numeric index segments: the engines do not traverse arrays
const indexed: DocumentPath<Player> = 'tags.0';
// Below a field of type unknown, any path is accepted unchecked.
const belowUnknown: DocumentPath<Player> = 'extra.anything.at.all';

// ── Filters ──────────────────────────────────────────────────────────────────
async function filters(): Promise<void> {
  await players.find({
    where: {
      name: 'Ada',
      level: { $gte: 10, $lt: 20 },
      kind: { $in: ['hero'] },
      active: true,
      guild: null,
      'stats.hp': { $gt: 0 },
      'stats.title': { $startsWith: 'Sir', $exists: true },
      'address.city': { $ne: 'Paris' },
      'address.zip': { $eq: null },
      joined: { $gte: new Date(0) },
      lastSeen: { $eq: null },
      tags: { $contains: 'founder' },
      scores: { $contains: 10 },
      $createdAt: { $gte: new Date(0) },
      $updatedAt: { $lt: new Date() },
      $or: [{ level: 1 }, { 'stats.skills.math': { $lte: 3 } }],
      $not: { kind: 'villain' },
      $and: [{ $or: [{ guild: { $exists: false } }] }],
      extra: { $gt: 'anything', $contains: 1 },
      'extra.nested': 42,
    },
  });

  // @ts-expect-error a misspelled field
  await players.find({ where: { nme: 'Ada' } });
  // @ts-expect-error a misspelled nested field
  await players.find({ where: { 'stats.hpp': 1 } });
  // @ts-expect-error a string operand on a number
  await players.find({ where: { level: { $gte: 'x' } } });
  // @ts-expect-error a string for equality on a number
  await players.find({ where: { level: '10' } });
  // @ts-expect-error $startsWith on a number
  await players.find({ where: { level: { $startsWith: '1' } } });
  // @ts-expect-error $contains on a string (not an array)
  await players.find({ where: { name: { $contains: 'A' } } });
  // @ts-expect-error $contains with an element of the wrong type
  await players.find({ where: { tags: { $contains: 1 } } });
  // @ts-expect-error a range on a boolean
  await players.find({ where: { active: { $gt: false } } });
  // @ts-expect-error a value outside a literal union
  await players.find({ where: { kind: 'wizard' } });
  // @ts-expect-error $in with a wrong element type
  await players.find({ where: { kind: { $in: [1] } } });
  // @ts-expect-error null on a field that is never null or missing
  await players.find({ where: { name: null } });
  // @ts-expect-error a string for a Date field
  await players.find({ where: { joined: { $gte: '2024-01-01' } } });
  // @ts-expect-error metadata paths hold dates
  await players.find({ where: { $createdAt: { $gte: 0 } } });
  // @ts-expect-error a wrong path inside $or
  await players.count({ $or: [{ levl: 1 }] });
  // @ts-expect-error a wrong path inside $not
  await players.exists({ $not: { nope: 1 } });
  // @ts-expect-error a wrong path in updateMany's filter
  await players.updateMany({ nope: 1 }, { level: 1 });
  // @ts-expect-error a wrong path in deleteMany's filter
  await players.deleteMany({ nope: 1 });
}

// ── Sorting and counting ────────────────────────────────────────────────────
async function sorting(): Promise<void> {
  await players.find({ orderBy: 'name' });
  await players.find({ orderBy: { field: 'stats.hp', direction: 'desc' } });
  await players.find({ orderBy: ['$updatedAt', { field: '$createdAt' }, 'joined', 'guild'] });
  await players.findPage({ orderBy: 'address.city', limit: 10 });
  await players.findOne({ orderBy: 'level' });
  await players.countBy('kind');
  await players.countBy('address.zip', { active: true });

  // @ts-expect-error a misspelled sort field
  await players.find({ orderBy: 'nme' });
  // @ts-expect-error a misspelled sort key
  await players.find({ orderBy: { field: 'nme', direction: 'asc' } });
  // @ts-expect-error a misspelled field in a list
  await players.find({ orderBy: ['name', 'lvl'] });
  // @ts-expect-error arrays are not sortable
  await players.find({ orderBy: 'tags' });
  // @ts-expect-error objects are not sortable
  await players.find({ orderBy: 'stats' });
  // @ts-expect-error countBy on an unknown field
  await players.countBy('nope');
  // @ts-expect-error countBy on an array (scalars only)
  await players.countBy('tags');
}

// ── Updates ──────────────────────────────────────────────────────────────────
async function updates(patch: Partial<Player>): Promise<void> {
  // Partial<T> is a patch, even though `address` is an interface.
  await players.update('ada', patch);
  await players.update('ada', { address: { city: 'London' }, 'stats.hp': 3, guild: null });
  await players.update('ada', {
    $set: { 'address.city': 'Paris', 'stats.title': 'Sir', joined: new Date(), tags: ['a'] },
    $inc: { level: 1, 'stats.skills.math': -2, 'address.zip': 1 },
    $unset: ['guild', 'stats.title'],
  });
  await players.updateMany({ level: { $lt: 1 } }, { $inc: { level: 1 } });

  // @ts-expect-error a misspelled patch key
  await players.update('ada', { nme: 'Ada' });
  // @ts-expect-error a patch value of the wrong type
  await players.update('ada', { level: '2' });
  // @ts-expect-error a nested patch value of the wrong type
  await players.update('ada', { 'address.city': 5 });
  // @ts-expect-error $inc on a string
  await players.update('ada', { $inc: { name: 1 } });
  // @ts-expect-error $inc on an array of numbers
  await players.update('ada', { $inc: { scores: 1 } });
  // @ts-expect-error $set with a value of the wrong type
  await players.update('ada', { $set: { level: 'high' } });
  // @ts-expect-error $set of a nested path with a value of the wrong type
  await players.update('ada', { $set: { 'stats.skills.math': true } });
  // @ts-expect-error $set on a misspelled path
  await players.update('ada', { $set: { 'stats.hpp': 1 } });
  // @ts-expect-error $unset of an unknown path
  await players.update('ada', { $unset: ['nope'] });
}

// ── Indexes ──────────────────────────────────────────────────────────────────
const indexed1: RepositoryOptions<Player> = {
  indexes: [
    { field: 'level', type: 'number' },
    { field: 'address.city', type: 'string', unique: true },
    {
      fields: [
        { field: 'kind', type: 'string' },
        { field: 'joined', type: 'date' },
      ],
      unique: false,
      name: 'by_kind',
    },
  ],
};
// @ts-expect-error an index on an unknown field
const badIndex: IndexDefinition<Player> = { field: 'nope', type: 'string' };
const badCompound: IndexDefinition<Player> = {
  fields: [
    { field: 'kind', type: 'string' },
    // @ts-expect-error a compound index on an unknown field
    { field: 'x', type: 'date' },
  ],
};
// @ts-expect-error an index on an array
const arrayIndex: IndexDefinition<Player> = { field: 'tags', type: 'string' };

// ── Maps and index signatures ──────────────────────────────────────────────
interface Tally extends Document {
  counters: Record<string, number>;
}
declare const tallies: Repository<Tally>;
/** A document type with an index signature beside its fields is untyped. */
interface Loose extends Document {
  [field: string]: unknown;
  name: string;
}
declare const loose: Repository<Loose>;
async function maps(): Promise<void> {
  // A Record field: any key below it, with the Record's value type.
  await tallies.update('t', { $inc: { 'counters.visits': 1 } });
  await tallies.find({ where: { 'counters.visits': { $gte: 3 } }, orderBy: 'counters.visits' });
  // @ts-expect-error the Record's values are numbers
  await tallies.find({ where: { 'counters.visits': 'many' } });
  await loose.find({ where: { anything: { $contains: 1 } }, orderBy: 'any.where' });
}

// ── Interfaces, AnyDocument and Document ───────────────────────────────────
interface SessionMeta {
  model: string;
  tokens: number;
}
interface Session extends Document {
  meta: SessionMeta;
  history: SessionMeta[];
}
declare const sessions: Repository<Session>;
async function interfaces(patch: Partial<Session>, meta: SessionMeta): Promise<void> {
  await sessions.update('s', patch);
  await sessions.update('s', { meta, history: [meta] });
  await sessions.update('s', { $set: { meta }, $inc: { 'meta.tokens': 10 } });
  await sessions.find({ where: { 'meta.model': { $startsWith: 'gpt' } }, orderBy: 'meta.tokens' });
  // @ts-expect-error an interface field is still checked
  await sessions.update('s', { meta: { model: 1 } });
}

async function untypedRepositories(
  filter: Filter,
  query: Query,
  orderBy: OrderBy,
  update: Update<AnyDocument>,
): Promise<void> {
  for (const repository of [untyped, documents]) {
    await repository.find({
      where: { 'any.path': { $gte: 'x', $startsWith: 'y', $contains: 1 } },
      orderBy: 'whatever',
    });
    await repository.find(query);
    await repository.find({ where: filter, orderBy });
    await repository.countBy('anything');
    await repository.update('id', { $inc: { 'any.number': 1 }, $set: { x: 'y' }, $unset: ['z'] });
    await repository.update('id', { anything: 'at all' });
    await repository.update('id', update);
    await repository.updateMany({ x: 1 }, { y: 2 });
  }
  const options: RepositoryOptions = { indexes: [{ field: 'any.path', type: 'string' }] };
  const operators: FieldOperators = { $gte: 'x', $contains: null };
  const patch: Patch<AnyDocument> = { 'a.b': 1 };
  const operatorsOfAny: UpdateOperators = { $inc: { n: 1 } };
  void [options, operators, patch, operatorsOfAny];
}

// A typed query is an untyped one too, so code written against the untyped names accepts it.
function widen(query: Query<Player>, filter: Filter<Player>, orderBy: OrderBy<Player>): void {
  const asQuery: Query = query;
  const asFilter: Filter = filter;
  const asOrderBy: OrderBy = orderBy;
  void [asQuery, asFilter, asOrderBy];
}

void [fiveDeep, sixDeep, indexed, belowUnknown, indexed1, badIndex, badCompound, arrayIndex];
void [filters, sorting, updates, maps, interfaces, untypedRepositories, widen];
