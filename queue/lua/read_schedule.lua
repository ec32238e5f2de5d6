-- read_schedule: a schedule's state and the time on its node, in one round trip (each
-- schedule's due ticks are decided at its own node's time, the one clock its scripts use).
-- KEYS[1] state HASH. Returns { now (epoch ms), field, value, ... }: just { now } when the
-- schedule does not exist.
local clock = redis.call('TIME')
local reply = redis.call('HGETALL', KEYS[1])
table.insert(reply, 1, string.format('%d', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)))
return reply
