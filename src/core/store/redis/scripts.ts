/**
 * The Lua scripts: each is one atomic step on the server, over the keys of one partition (one
 * hash slot), so they run unchanged on a single server, under Sentinel and on a Cluster.
 */

/**
 * Appends one journal entry to a partition's stream, if and only if the writer still holds the
 * partition's lease epoch (fencing) and the twin's version is the one the entry follows.
 * KEYS: epoch, ver, log. ARGV: epoch, twin id, check, new version, entry JSON, writer id, and the
 * id of the submitted request the change answers (optional: field q, so it is never applied twice).
 * check: "new" (the twin must not exist), "next" (stored version = new version - 1),
 * "exists" (any stored version; the version is left alone), "delete" (exists; removed).
 * Returns the stream id; errors start with FENCED or VERSION.
 */
export const APPEND = `
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then
  return redis.error_reply('FENCED epoch ' .. tostring(epoch) .. ' is not ' .. ARGV[1])
end
local current = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
local check = ARGV[3]
local nextv = tonumber(ARGV[4])
if check == 'new' then
  if current ~= 0 then return redis.error_reply('VERSION ' .. ARGV[2] .. ' exists at ' .. current) end
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
elseif check == 'next' then
  if current ~= nextv - 1 then return redis.error_reply('VERSION ' .. ARGV[2] .. ' is at ' .. current .. ', not ' .. (nextv - 1)) end
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
elseif check == 'delete' then
  if current == 0 then return redis.error_reply('VERSION ' .. ARGV[2] .. ' does not exist') end
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  if current == 0 then return redis.error_reply('VERSION ' .. ARGV[2] .. ' does not exist') end
end
if ARGV[7] and ARGV[7] ~= '' then
  return redis.call('XADD', KEYS[3], '*', 'e', ARGV[5], 'w', ARGV[6], 'q', ARGV[7])
end
return redis.call('XADD', KEYS[3], '*', 'e', ARGV[5], 'w', ARGV[6])
`;

/**
 * Takes or keeps a partition's lease. KEYS: lease, epoch. ARGV: instance, ttl ms.
 * Returns the epoch when the caller holds the lease now (a new holder increments it), else nil.
 */
export const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
if holder then return nil end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('INCR', KEYS[2])
`;

/**
 * One heartbeat on the server's clock: the instance is alive until now + ttl, instances whose
 * time is up are removed, and the live ones are returned. KEYS: instances. ARGV: instance, ttl ms.
 * On the server's clock, not each instance's: instances on machines whose clocks disagree by more
 * than a TTL would otherwise remove one another's heartbeats (the one ahead sees the rest as gone
 * and takes every partition in turn). Redis 6.2 and later replicate a script's effects, so TIME
 * may come before a write.
 */
export const BEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/** Gives a lease up, if still held by the caller. KEYS: lease. ARGV: instance. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Writes a partition's snapshot and trims the stream it covers, under the same fencing as an
 * append. KEYS: epoch, snap, log. ARGV: epoch, stream id covered, data, MINID to trim to.
 */
export const SNAPSHOT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED snapshot') end
redis.call('HSET', KEYS[2], 'id', ARGV[2], 'data', ARGV[3])
return redis.call('XTRIM', KEYS[3], 'MINID', ARGV[4])
`;

/**
 * A partition as it stands, in one atomic read: its snapshot and every stream entry after it.
 * KEYS: snap, log. Returns [covered id or false, data or false, [[id, fields], ...]].
 */
export const LOAD = `
local s = redis.call('HMGET', KEYS[1], 'id', 'data')
local from = '-'
if s[1] then from = '(' .. s[1] end
return {s[1] or false, s[2] or false, redis.call('XRANGE', KEYS[2], from, '+')}
`;
