-- GCRA in one atomic step, on the Redis server's clock so every instance shares it.
-- KEYS[1]: the bucket. ARGV[1]: replenish interval (µs). ARGV[2]: burst.
-- ARGV[3]: the cells this call takes (1..=burst; the caller refuses heavier calls).
-- Returns {allowed (1|0), remaining, wait_us, reset_us}.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

-- The theoretical arrival time: never in the past (a full bucket).
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = math.max(tonumber(stored), now)
end

-- Taking `cost` cells moves the arrival time by `cost` intervals; the call
-- passes if that leaves it no more than a whole burst ahead of now.
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end

-- The key lives exactly as long as its bucket is not full, then expires by itself.
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now + interval * burst - new_tat) / interval), 0, new_tat - now}
