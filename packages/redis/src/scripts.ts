// packages/redis/src/scripts.ts
// The Lua scripts behind every read-modify-write of the store, as constants. Each touches exactly one
// key (KEYS[1]), so it runs on one Cluster node, and Redis runs it atomically. Scripts return integers
// only (never nil or booleans), so replies look the same under RESP2 and RESP3.
//
// Hash fields hold JSON-encoded values (see hash-codec.ts): integers are plain digits, so HINCRBY works
// on them, and a string field holds `"..."` with its quotes, so callers pass JSON-encoded arguments.
// No script decodes or re-encodes JSON (cjson would round numbers to 14 significant digits).
//
// No script deletes a key and then writes it again. While a Cluster slot is being migrated, a key
// that no longer exists on the source node cannot be written there: Redis aborts the script with
// "Script attempted to access a non local key", after the DEL already took effect (scripts are not
// rolled back). Replacing a hash is therefore HSET of the new fields, then HDEL of the old ones
// (REPLACE_FIELDS below), so the key exists from the script's first write to its last.

/** Lua helper: after `HSET key <ARGV from index first>`, removes every field the new record does not have. */
const REPLACE_FIELDS = `
local function replace_fields(key, first)
  redis.call('HSET', key, unpack(ARGV, first))
  local keep = {}
  for i = first, #ARGV, 2 do
    keep[ARGV[i]] = true
  end
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if not keep[field] then
      redis.call('HDEL', key, field)
    end
  end
end
`;

/**
 * Replaces a hash and sets its TTL in one step: a challenge or factor state.
 * KEYS[1] = the hash; ARGV[1] = TTL in milliseconds; ARGV[2..] = field, value, field, value...
 * Returns 1.
 */
export const PUT_HASH_WITH_TTL = `${REPLACE_FIELDS}
replace_fields(KEYS[1], 2)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

/**
 * Adds one to the hash field `attempts`, only if the hash exists (a challenge or factor state):
 * a plain HINCRBY would resurrect an expired or taken record as a TTL-less hash holding only `attempts`.
 * KEYS[1] = the hash. Returns the new count, or -1 when the hash does not exist.
 */
export const INCREMENT_ATTEMPTS_IF_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)
`;

/**
 * Deletes factor state only if its stored `secret` field equals ARGV[1] (JSON-encoded).
 * KEYS[1] = the hash. Returns 1 for the one caller that deleted it, else 0.
 */
export const CONSUME_IF_SECRET = `
if redis.call('HGET', KEYS[1], 'secret') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * INCR and, when the key has no TTL (it was just created), PEXPIRE, in one step: a crash between the
 * two can never leave a counter that lives forever, and later increments never extend the window.
 * KEYS[1] = the counter; ARGV[1] = TTL in milliseconds. Returns the new value.
 */
export const INCREMENT_COUNTER = `
local value = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return value
`;

/** Reads a counter (KEYS[1]): its value, or 0 when absent. A script, so the client needs no GET. */
export const GET_COUNTER = `
return tonumber(redis.call('GET', KEYS[1]) or '0')
`;

/**
 * Compare-and-set of a user's attempt state (a hash without TTL: failures never reset by time).
 * KEYS[1] = the hash; ARGV[1] = the expected `version` field as stored (JSON digits), or '' for
 * "create only if absent"; ARGV[2..] = field, value... of the whole new state, `version` included.
 * Returns 1 when written, 0 when the stored version differs (or the state exists, for '').
 */
export const COMPARE_AND_SET_HASH = `${REPLACE_FIELDS}
if ARGV[1] == '' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
  end
elseif redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
  return 0
end
replace_fields(KEYS[1], 2)
return 1
`;
