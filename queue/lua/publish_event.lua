-- publish_event: append a custom event (a kind with a dot, e.g. "sync.completed") to the
-- queue's event stream, stamped with Redis's time like the engine's own events.
-- KEYS: events
-- ARGV[3] kind, ARGV[4] job id ("" for none), then pairs of field name and value.
-- Returns the event's stream position.
local kind = text_arg(3, 'kind')
if #ARGV % 2 == 1 then bad_arg('fields', #ARGV) end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
return emit(kind, ARGV[4] or '', unpack(fields))
