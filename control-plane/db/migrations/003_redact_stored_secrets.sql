-- Stored responses written before replays were redacted (issue 12) still hold the secret they
-- showed: a new key's `secret`, a webhook endpoint's or rotation's `secret`, a job's
-- `callback_secret`. Redact them as a replay now answers (the field null, `redacted` naming it),
-- so no secret stays readable in idempotency_keys for the rest of its 24 hours. (CASE: only a
-- body that looks like a JSON object is parsed.)
UPDATE idempotency_keys
SET response_body = (response_body::jsonb || '{"secret": null, "redacted": ["secret"]}'::jsonb)::text
WHERE state = 'completed' AND method = 'POST' AND response_status IN (200, 201)
  AND (path = '/v1/keys' OR path LIKE '/v1/webhooks/endpoints%')
  AND CASE WHEN response_body LIKE '{%}' THEN jsonb_typeof(response_body::jsonb -> 'secret') = 'string' ELSE false END;

UPDATE idempotency_keys
SET response_body = (response_body::jsonb || '{"callback_secret": null, "redacted": ["callback_secret"]}'::jsonb)::text
WHERE state = 'completed' AND method = 'POST' AND response_status = 202
  AND path LIKE '/v1/links/bulk%'
  AND CASE WHEN response_body LIKE '{%}' THEN jsonb_typeof(response_body::jsonb -> 'callback_secret') = 'string' ELSE false END;
