// packages/core/src/memory-store.ts
// The reference store: every method is one synchronous step of the event loop, so each is
// atomic. For development, tests and single-process demos only — it forgets on restart and
// is not shared between processes.
import type {
  AttemptState, AuditDayCount, AuditEventRecord, BackupCodeSet, ChallengeRecord, FactorRecord, FactorStateRecord, MfaStore,
  TrustedDeviceRecord,
} from './store';

interface Expiring<T> { value: T; expiresAtMs: number }

export interface MemoryStoreOptions {
  /** Wall clock used only to drop expired entries from memory (core checks expiry itself). */
  physicalNow?: () => number;
}

// JSON copy (not structuredClone): results are plain objects of this realm, records are plain data.
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Newest first: `at` descending, then `id` descending (code-unit order). */
const newestFirst = (a: AuditEventRecord, b: AuditEventRecord): number =>
  b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** An in-memory `MfaStore`. Not for production: use `@secondfactor/knex` and `@secondfactor/redis`. */
export function memoryStore(options: MemoryStoreOptions = {}): MfaStore {
  const physicalNow = options.physicalNow ?? Date.now;
  // Each user's factors by id, and who holds each (type, lookup key): no scan of every user's
  // factors on a verification, an enrolment or an activation, however many users there are.
  const factors = new Map<string, Map<string, FactorRecord>>(); // userId -> factorId -> factor
  const lookupHolders = new Map<string, FactorRecord>(); // type \0 lookupKey -> factor
  const backupCodes = new Map<string, BackupCodeSet>();
  const devices = new Map<string, TrustedDeviceRecord>(); // key: device id
  const challenges = new Map<string, Expiring<ChallengeRecord>>();
  const factorStates = new Map<string, Expiring<FactorStateRecord>>();
  const counters = new Map<string, Expiring<number>>();
  const attempts = new Map<string, AttemptState>();
  const events = new Map<string, AuditEventRecord>(); // key: event id
  const factorOf = (userId: string, factorId: string) => factors.get(userId)?.get(factorId);
  const lkey = (type: string, lookupKey: string) => `${type}\u0000${lookupKey}`;
  /** Forgets `f`'s lookup key, if the index has it as the key's holder. */
  const unindex = (f: FactorRecord) => {
    if (f.lookupKey === null) return;
    const key = lkey(f.type, f.lookupKey);
    if (lookupHolders.get(key) === f) lookupHolders.delete(key);
  };

  function live<T>(map: Map<string, Expiring<T>>, key: string): Expiring<T> | undefined {
    const entry = map.get(key);
    if (entry && entry.expiresAtMs <= physicalNow()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  }
  /** Whether a factor other than `except` of this type holds `lookupKey` (what a SQL unique index on (type, lookup_key) refuses). */
  const lookupKeyTaken = (type: string, lookupKey: string, except?: FactorRecord): boolean => {
    const holder = lookupHolders.get(lkey(type, lookupKey));
    return holder !== undefined && holder !== except;
  };
  const expiring = <T>(value: T, ttlSeconds: number): Expiring<T> => ({ value, expiresAtMs: physicalNow() + ttlSeconds * 1000 });

  return {
    async createFactor(factor) {
      if (factorOf(factor.userId, factor.id)) throw new Error(`factor ${factor.id} already exists`);
      if (factor.lookupKey !== null && lookupKeyTaken(factor.type, factor.lookupKey)) {
        throw new Error(`a ${factor.type} factor with this lookup key already exists`);
      }
      const stored = copy(factor);
      const own = factors.get(factor.userId) ?? new Map<string, FactorRecord>();
      factors.set(factor.userId, own);
      own.set(factor.id, stored);
      if (stored.lookupKey !== null) lookupHolders.set(lkey(stored.type, stored.lookupKey), stored);
    },
    async getFactor(userId, factorId) {
      const f = factorOf(userId, factorId);
      return f ? copy(f) : null;
    },
    async listFactors(userId) {
      return [...(factors.get(userId)?.values() ?? [])]
        .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
        .map(copy);
    },
    async activateFactor(userId, factorId, activation) {
      const f = factorOf(userId, factorId);
      if (f?.status !== 'pending') return false;
      const { lookupKey } = activation;
      if (lookupKey !== undefined && lookupKeyTaken(f.type, lookupKey, f)) return false;
      f.status = 'active';
      f.confirmedAt = activation.confirmedAt;
      f.lastUsedAt = activation.confirmedAt;
      f.counter = activation.counter;
      if (activation.data !== undefined) f.data = copy(activation.data);
      if (lookupKey !== undefined) {
        unindex(f);
        f.lookupKey = lookupKey;
        lookupHolders.set(lkey(f.type, lookupKey), f);
      }
      return true;
    },
    async updateFactorSecret(userId, factorId, secret) {
      const f = factorOf(userId, factorId);
      if (f) f.secret = secret;
    },
    async touchFactor(userId, factorId, lastUsedAt) {
      const f = factorOf(userId, factorId);
      if (f) f.lastUsedAt = lastUsedAt;
    },
    async advanceFactorCounter(userId, factorId, counter, usedAt) {
      const f = factorOf(userId, factorId);
      if (!f || (f.counter !== null && f.counter >= counter)) return false;
      f.counter = counter;
      f.lastUsedAt = usedAt;
      return true;
    },
    async deleteFactor(userId, factorId) {
      const own = factors.get(userId);
      const f = own?.get(factorId);
      if (!own || !f) return false;
      unindex(f);
      own.delete(factorId);
      if (own.size === 0) factors.delete(userId);
      return true;
    },
    async deleteFactors(userId) {
      const own = factors.get(userId);
      if (!own) return 0;
      for (const f of own.values()) unindex(f);
      factors.delete(userId);
      return own.size;
    },

    async replaceBackupCodes(userId, set) {
      backupCodes.set(userId, copy(set));
    },
    async getBackupCodes(userId) {
      const set = backupCodes.get(userId);
      return set ? copy(set) : null;
    },
    async consumeBackupCode(userId, hash) {
      const set = backupCodes.get(userId);
      if (!set) return false;
      const i = set.hashes.indexOf(hash);
      if (i < 0) return false;
      set.hashes.splice(i, 1);
      return true;
    },
    async deleteBackupCodes(userId) {
      backupCodes.delete(userId);
    },

    async createTrustedDevice(device) {
      devices.set(device.id, copy(device));
    },
    async findTrustedDevice(tokenHash) {
      for (const d of devices.values()) if (d.tokenHash === tokenHash) return copy(d);
      return null;
    },
    async touchTrustedDevice(userId, deviceId, lastSeenAt) {
      const d = devices.get(deviceId);
      if (d && d.userId === userId) d.lastSeenAt = lastSeenAt;
    },
    async listTrustedDevices(userId) {
      return [...devices.values()].filter((d) => d.userId === userId).sort((a, b) => a.createdAt - b.createdAt).map(copy);
    },
    async deleteTrustedDevice(userId, deviceId) {
      const d = devices.get(deviceId);
      if (!d || d.userId !== userId) return false;
      return devices.delete(deviceId);
    },
    async deleteTrustedDevices(userId) {
      let n = 0;
      for (const [id, d] of devices) if (d.userId === userId && devices.delete(id)) n++;
      return n;
    },

    async appendEvent(event) {
      if (events.has(event.id)) throw new Error(`event ${event.id} already exists`);
      events.set(event.id, copy(event));
    },
    async listEvents(query) {
      const { userId, since, until, before, limit } = query;
      const found: AuditEventRecord[] = [];
      for (const e of events.values()) {
        if (userId !== undefined && e.userId !== userId) continue;
        if (since !== undefined && e.at < since) continue;
        if (until !== undefined && e.at >= until) continue;
        if (before !== undefined && !(e.at < before.at || (e.at === before.at && e.id < before.id))) continue;
        found.push(e);
      }
      return found.sort(newestFirst).slice(0, limit).map(copy);
    },
    async purgeEvents(before) {
      let n = 0;
      for (const [id, e] of events) if (e.at < before && events.delete(id)) n++;
      return n;
    },
    async countEventsByDay({ since, until }) {
      const groups = new Map<string, AuditDayCount>();
      for (const e of events.values()) {
        if (e.at < since || e.at >= until) continue;
        const key = JSON.stringify([e.day, e.type, e.factorType, e.outcome]);
        const group = groups.get(key);
        if (group) group.count++;
        else groups.set(key, { day: e.day, type: e.type, factorType: e.factorType, outcome: e.outcome, count: 1 });
      }
      return [...groups.values()];
    },
    async countMfaUsers() {
      const all = new Set<string>();
      const byType = new Map<string, Set<string>>();
      for (const own of factors.values()) {
        for (const f of own.values()) {
          if (f.status !== 'active') continue;
          all.add(f.userId);
          const users = byType.get(f.type) ?? new Set<string>();
          users.add(f.userId);
          byType.set(f.type, users);
        }
      }
      return {
        users: all.size,
        byType: Array.from(byType, ([type, users]) => ({ type, users: users.size })),
      };
    },

    async createChallenge(challenge, ttlSeconds) {
      challenges.set(challenge.id, expiring(copy(challenge), ttlSeconds));
    },
    async getChallenge(id) {
      const c = live(challenges, id);
      return c ? copy(c.value) : null;
    },
    async incrementChallengeAttempts(id) {
      const c = live(challenges, id);
      if (!c) return null;
      return ++c.value.attempts;
    },
    async takeChallenge(id) {
      return live(challenges, id) !== undefined && challenges.delete(id);
    },

    async putFactorState(key, state, ttlSeconds) {
      factorStates.set(key, expiring(copy(state), ttlSeconds));
    },
    async getFactorState(key) {
      const c = live(factorStates, key);
      return c ? copy(c.value) : null;
    },
    async incrementFactorStateAttempts(key) {
      const c = live(factorStates, key);
      if (!c) return null;
      return ++c.value.attempts;
    },
    async consumeFactorState(key, secret) {
      const c = live(factorStates, key);
      if (!c || c.value.secret !== secret) return false;
      return factorStates.delete(key);
    },
    async deleteFactorState(key) {
      factorStates.delete(key);
    },

    async incrementCounter(key, ttlSeconds) {
      const c = live(counters, key);
      if (!c) {
        counters.set(key, expiring(1, ttlSeconds));
        return 1;
      }
      return ++c.value;
    },
    async getCounter(key) {
      return live(counters, key)?.value ?? 0;
    },

    async getAttemptState(userId) {
      const s = attempts.get(userId);
      return s ? copy(s) : null;
    },
    async compareAndSetAttemptState(userId, expectedVersion, next) {
      const current = attempts.get(userId);
      if ((current?.version ?? null) !== expectedVersion) return false;
      attempts.set(userId, copy({ ...next, version: (expectedVersion ?? 0) + 1 }));
      return true;
    },
  };
}
