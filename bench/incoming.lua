-- wrk script: incoming WhatsApp messages from 500 senders in turn (the
-- first message of each creates its contact), each with its own external_id.
-- The path is set by bench/run (/api/v1/inboxes/ID/messages).
-- wrk.format would replace the -H headers (the token) if given its own.
wrk.headers["Content-Type"] = "application/json"
counter = 0
thread_id = 0
setup = function(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end
request = function()
  counter = counter + 1
  local sender = 1000000 + (counter * 7 + thread_id) % 500
  local body = string.format(
    '{"source_id":"+60111%07d","name":"Bench %d","body":"Hello, message %d","external_id":"bench-%d-%d"}',
    sender, sender, counter, thread_id, counter)
  return wrk.format("POST", nil, nil, body)
end
