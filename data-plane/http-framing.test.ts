import { describe, expect, it } from 'vitest';
import { framingProblem, seen, type FramingProblem, type HeaderSource } from './http-framing.js';

const headers = (...pairs: [string, string][]): HeaderSource => ({ forEach: (cb) => pairs.forEach(([k, v]) => cb(k, v)) });

describe('framingProblem', () => {
  const cases: [name: string, source: HeaderSource, expected: FramingProblem | null][] = [
    ['one host', headers(['host', 'a'], ['user-agent', 'x']), null],
    ['no headers at all', headers(), null],
    ['two hosts', headers(['host', 'a'], ['host', 'b']), 'duplicate_host'],
    ['two identical hosts', headers(['host', 'a'], ['accept', '*/*'], ['host', 'a']), 'duplicate_host'],
    ['one content-length', headers(['host', 'a'], ['content-length', '12']), null],
    ['identical content-lengths', headers(['content-length', '0'], ['content-length', '0']), null],
    ['different content-lengths', headers(['content-length', '0'], ['content-length', '5']), 'conflicting_content_length'],
    ['content-length list', headers(['content-length', '0, 0']), 'invalid_content_length'],
    ['signed content-length', headers(['content-length', '+3']), 'invalid_content_length'],
    ['empty content-length', headers(['content-length', '']), 'invalid_content_length'],
    ['chunked', headers(['transfer-encoding', 'chunked']), null],
    ['Chunked', headers(['transfer-encoding', 'CHUNKED']), null],
    ['gzip', headers(['transfer-encoding', 'gzip']), 'transfer_encoding'],
    ['gzip, chunked', headers(['transfer-encoding', 'gzip, chunked']), 'transfer_encoding'],
    ['chunked with spaces', headers(['transfer-encoding', ' chunked']), 'transfer_encoding'],
    ['two chunked', headers(['transfer-encoding', 'chunked'], ['transfer-encoding', 'chunked']), 'transfer_encoding'],
    ['chunked + content-length', headers(['content-length', '5'], ['transfer-encoding', 'chunked']), 'transfer_encoding_with_content_length'],
    ['look-alike names are other headers', headers(['hostx', 'a'], ['hos', 'b'], ['x-content-length', '5'], ['content-length', '5'], ['x-transfer-encodin', 'gzip']), null],
  ];
  for (const [name, source, expected] of cases) it(name, () => expect(framingProblem(source)).toBe(expected));

  it('keeps the first value of the headers the redirect path reads', () => {
    framingProblem(headers(['host', 'go.example.com'], ['user-agent', 'UA'], ['referer', 'R'], ['accept-language', 'de'], ['x-forwarded-for', '1.1.1.1'], ['x-forwarded-for', '2.2.2.2'], ['user-agent', 'UA2'], ['x-request-id', 'r1'], ['x-request-id', 'r2']));
    expect(seen).toEqual({ host: 'go.example.com', userAgent: 'UA', referer: 'R', acceptLanguage: 'de', forwardedFor: '1.1.1.1', requestId: 'r1' });
    framingProblem(headers(['host', 'b.example']));
    expect(seen).toEqual({ host: 'b.example', userAgent: '', referer: '', acceptLanguage: '', forwardedFor: '', requestId: '' });
  });

  it('keeps no state from one request to the next', () => {
    expect(framingProblem(headers(['host', 'a'], ['host', 'b']))).toBe('duplicate_host');
    expect(framingProblem(headers(['host', 'a'], ['content-length', '1']))).toBe(null);
    expect(framingProblem(headers(['content-length', '2']))).toBe(null);
  });
});
