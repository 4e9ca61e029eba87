import { describe, expect, it } from 'vitest';
import { checkSlackSignature, slackSignature } from './slack-signature.js';

// the worked example of Slack's "Verifying requests from Slack" guide
const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const TS = '1531420618';
const BODY = Buffer.from('token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c');
const SIG = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

describe('Slack v0 request signature', () => {
  it("reproduces Slack's documented example", () => {
    expect(slackSignature(SECRET, TS, BODY)).toBe(SIG);
  });

  it('accepts within the replay window and refuses everything else, by reason', () => {
    const now = Number(TS);
    const check = (h: { signature?: string; timestamp?: string }, body = BODY, at = now) =>
      checkSlackSignature(SECRET, { signature: h.signature, timestamp: h.timestamp }, body, at);
    expect(check({ signature: SIG, timestamp: TS })).toBeNull();
    expect(check({ signature: SIG, timestamp: TS }, BODY, now + 300)).toBeNull();
    expect(check({ signature: SIG, timestamp: TS }, BODY, now - 300)).toBeNull();
    expect(check({ signature: SIG, timestamp: TS }, BODY, now + 301)).toBe('stale_timestamp');
    expect(check({ signature: SIG, timestamp: TS }, BODY, now - 301)).toBe('stale_timestamp');
    expect(check({ signature: SIG, timestamp: TS }, Buffer.from(BODY.toString().replace('text=', 'text=x')))).toBe('bad_signature');
    expect(check({ signature: SIG.replace('v0=', 'v1='), timestamp: TS })).toBe('bad_signature');
    expect(check({ signature: SIG.slice(0, -1), timestamp: TS })).toBe('bad_signature');
    expect(check({ signature: SIG, timestamp: String(now + 1) })).toBe('bad_signature');
    expect(check({ signature: SIG })).toBe('missing_headers');
    expect(check({ timestamp: TS })).toBe('missing_headers');
    expect(check({ signature: SIG, timestamp: '1531420618.5' })).toBe('missing_headers');
  });
});
