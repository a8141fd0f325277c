/**
 * Upstream responses, router vs node:http (llhttp): a corpus of crafted responses (every case of
 * issue 16 and the RFC 9112 framing rules) and a seeded generator of mutated ones. The test fails
 * wherever node:http refuses or would close and the router's upstream client forwards, reuses or
 * throws. The router's answer to its client over real sockets is in upstream-faults.test.ts.
 *
 * `FUZZ_CASES` (default 100,000) and `FUZZ_SEED` (default 16) choose the run; a longer profile:
 * `FUZZ_CASES=2000000 FUZZ_SEED=$RANDOM npx vitest run test/differential.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { type Case, mutations, type Outcome, reference, router, verdict } from './differential.ts';

const raw = (text: string) => Buffer.from(text, 'latin1');
const ok = (head: string, body = 'hello') => `HTTP/1.1 200 OK\r\n${head}\r\n${body}`;

/** [name, response, method?]: the cases first, then RFC 9112 framing. */
export const CORPUS: [string, string, ('GET' | 'HEAD')?][] = [
  // Issue 16, item 1: bytes in header values that made res.writeHead throw.
  ['NUL in a value', ok('X-A: a\x00b\r\nContent-Length: 5\r\n')],
  ['lone CR in a value', ok('X-A: a\rb\r\nContent-Length: 5\r\n')],
  ['lone LF in a value', ok('X-A: a\nb\r\nContent-Length: 5\r\n')],
  ['0x01 in a value', ok('X-A: a\x01b\r\nContent-Length: 5\r\n')],
  ['0x7f in a value', ok('X-A: a\x7fb\r\nContent-Length: 5\r\n')],
  // Item 2: Content-Length with Transfer-Encoding.
  [
    'CL 5 + chunked carrying a second response',
    ok(
      'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n',
      '2d\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled\r\n0\r\n\r\n',
    ),
  ],
  [
    'CL 200 + chunked of 5 bytes',
    ok('Content-Length: 200\r\nTransfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\r\n'),
  ],
  ['chunked then CL', ok('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '5\r\nhello\r\n0\r\n\r\n')],
  // Item 3: two Transfer-Encoding headers, chunked not last.
  [
    'TE chunked then TE gzip, with bytes after the last chunk',
    ok(
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n',
      '5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled',
    ),
  ],
  ['TE chunked, gzip', ok('Transfer-Encoding: chunked, gzip\r\n', '5\r\nhello\r\n0\r\n\r\n')],
  ['TE gzip, chunked', ok('Transfer-Encoding: gzip, chunked\r\n', '5\r\nhello\r\n0\r\n\r\n')],
  ['TE gzip alone (until close)', ok('Transfer-Encoding: gzip\r\n', 'hello')],
  ['TE identity', ok('Transfer-Encoding: identity\r\n', 'hello')],
  ['TE xchunked', ok('Transfer-Encoding: xchunked\r\n', '5\r\nhello\r\n0\r\n\r\n')],
  ['TE CHUNKED in capitals', ok('Transfer-Encoding: CHUNKED\r\n', '5\r\nhello\r\n0\r\n\r\n')],
  // Item 4: lenient cases.
  ['CL padded with \\xa0', ok('Content-Length: 5\xa0\r\n')],
  ['CL padded with \\x0b', ok('Content-Length: \x0b5\r\n')],
  ['two identical CL', ok('Content-Length: 5\r\nContent-Length: 5\r\n')],
  ['two different CL', ok('Content-Length: 5\r\nContent-Length: 6\r\n')],
  ['CL list "5, 5"', ok('Content-Length: 5, 5\r\n')],
  ['CL +5', ok('Content-Length: +5\r\n')],
  ['CL -1', ok('Content-Length: -1\r\n')],
  ['CL with leading zeros', ok('Content-Length: 005\r\n')],
  ['CL huge', ok('Content-Length: 99999999999999999999\r\n')],
  ['chunk size " 5 "', ok('Transfer-Encoding: chunked\r\n', ' 5 \r\nhello\r\n0\r\n\r\n')],
  ['chunk size "5 "', ok('Transfer-Encoding: chunked\r\n', '5 \r\nhello\r\n0\r\n\r\n')],
  ['chunk size +5', ok('Transfer-Encoding: chunked\r\n', '+5\r\nhello\r\n0\r\n\r\n')],
  ['chunk size 0x5', ok('Transfer-Encoding: chunked\r\n', '0x5\r\nhello\r\n0\r\n\r\n')],
  ['chunk size overflow', ok('Transfer-Encoding: chunked\r\n', 'ffffffffffffffffff\r\nhello\r\n0\r\n\r\n')],
  [
    'control byte in a chunk extension',
    ok('Transfer-Encoding: chunked\r\n', '5;a=\x01\r\nhello\r\n0\r\n\r\n'),
  ],
  ['quoted chunk extension', ok('Transfer-Encoding: chunked\r\n', '5;a="b c"\r\nhello\r\n0\r\n\r\n')],
  ['chunk extension without a name', ok('Transfer-Encoding: chunked\r\n', '5;\r\nhello\r\n0\r\n\r\n')],
  ['chunk data longer than its size', ok('Transfer-Encoding: chunked\r\n', '3\r\nhello\r\n0\r\n\r\n')],
  ['chunk without CRLF after data', ok('Transfer-Encoding: chunked\r\n', '5\r\nhelloX0\r\n\r\n')],
  ['chunk size line with LF only', ok('Transfer-Encoding: chunked\r\n', '5\nhello\r\n0\r\n\r\n')],
  ['junk trailer line', ok('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\njunk\r\n\r\n')],
  ['a valid trailer', ok('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n')],
  ['folded trailer', ok('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n')],
  ['status 000', 'HTTP/1.1 000 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['status 099', 'HTTP/1.1 099 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['status 1000', 'HTTP/1.1 1000 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['status 99', 'HTTP/1.1 99 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['a 60 KB head', ok(`X-Big: ${'a'.repeat(60_000)}\r\nContent-Length: 5\r\n`)],
  ['a 17 KB head', ok(`X-Big: ${'a'.repeat(17_000)}\r\nContent-Length: 5\r\n`)],
  ['200 header fields', ok(`${'X-N: 1\r\n'.repeat(200)}Content-Length: 5\r\n`)],
  // Obs-fold and bad bytes in names.
  ['obs-fold in a value', ok('X-A: a\r\n b\r\nContent-Length: 5\r\n')],
  ['obs-fold with a tab', ok('X-A: a\r\n\tb\r\nContent-Length: 5\r\n')],
  ['space before the colon', ok('Content-Length : 5\r\n')],
  ['space inside a name', ok('X A: b\r\nContent-Length: 5\r\n')],
  ['NUL in a name', ok('X\x00A: b\r\nContent-Length: 5\r\n')],
  ['empty name', ok(': b\r\nContent-Length: 5\r\n')],
  ['line without a colon', ok('NoColon\r\nContent-Length: 5\r\n')],
  ['obs-text in a value', ok('X-A: caf\xe9\r\nContent-Length: 5\r\n')],
  ['tab in a value', ok('X-A: a\tb\r\nContent-Length: 5\r\n')],
  [
    'upstream x-farm hint (forwarded by llhttp; stripped by the proxy)',
    ok('X-Farm-Ttl: 9999\r\nContent-Length: 5\r\n'),
  ],
  // 1xx, 101, 204, 304, HEAD.
  ['100 then 200', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  [
    '103 with headers then 200',
    'HTTP/1.1 103 Early\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  ],
  [
    '100 with a body length',
    'HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  ],
  [
    '101 switching protocols',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nhello',
  ],
  [
    '200 with Upgrade and Connection: upgrade',
    ok('Upgrade: websocket\r\nConnection: upgrade\r\nContent-Length: 5\r\n'),
  ],
  ['204 with a body', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello'],
  ['204 plain', 'HTTP/1.1 204 No Content\r\n\r\n'],
  ['304 with a length and no body', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n'],
  ['304 with a body', 'HTTP/1.1 304 Not Modified\r\n\r\nhello'],
  ['HEAD answered with a length', ok('Content-Length: 5\r\n', ''), 'HEAD'],
  ['HEAD answered with a body anyway', ok('Content-Length: 5\r\n'), 'HEAD'],
  ['HEAD answered chunked', ok('Transfer-Encoding: chunked\r\n', ''), 'HEAD'],
  // Early close, lengths, versions, status lines.
  ['close before the head ends', 'HTTP/1.1 200 OK\r\nContent-Le'],
  ['close mid-body', ok('Content-Length: 50\r\n')],
  ['close mid-chunk', ok('Transfer-Encoding: chunked\r\n', '10\r\nhel')],
  ['close before the last chunk', ok('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n')],
  ['body until close', ok('', 'until close')],
  ['HTTP/1.0 without keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['HTTP/1.0 with keep-alive', 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello'],
  ['Connection: close', ok('Connection: close\r\nContent-Length: 5\r\n')],
  ['Connection: keep-alive, close', ok('Connection: keep-alive, close\r\nContent-Length: 5\r\n')],
  ['HTTP/2.0 status line', 'HTTP/2.0 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['HTTP/1.2 status line', 'HTTP/1.2 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['HTTP/0.9 status line', 'HTTP/0.9 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['lower-case http', 'http/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['no reason phrase', 'HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello'],
  ['no space after the status', 'HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello'],
  ['two spaces before the status', 'HTTP/1.1  200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['LF-only line ends', 'HTTP/1.1 200 OK\nContent-Length: 5\n\nhello'],
  ['not HTTP at all', 'SMTP ready\r\n\r\n'],
  ['leading CRLF before the status line', '\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  // Bytes after the end on a kept-alive connection.
  [
    'a second response right after',
    `${ok('Content-Length: 5\r\n')}HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled`,
  ],
  ['one stray byte after', `${ok('Content-Length: 5\r\n')}x`],
  ['CRLF after', `${ok('Content-Length: 5\r\n')}\r\n`],
  [
    'bytes after a chunked body',
    `${ok('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\r\n')}HTTP/1.1 200 OK\r\n`,
  ],
];

const corpusCases: Case[] = CORPUS.map(([name, text, method]) => ({ name, bytes: raw(text), method }));

async function compare(c: Case): Promise<{ ref: Outcome; got: Outcome; why: string | undefined }> {
  const ref = await reference(c);
  const got = await router(c);
  return { ref, got, why: verdict(ref, got) };
}

describe('upstream responses: the router never forwards, keeps or throws where node:http would not', () => {
  it.each(corpusCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    // Whole, and cut into one-byte reads.
    for (const split of [[], Array.from({ length: c.bytes.length }, (_, i) => i)]) {
      const { ref, got, why } = await compare({ ...c, splits: split });
      expect(why, `${JSON.stringify({ ref, got })}`).toBeUndefined();
    }
  });

  it('agrees with node:http wherever node:http accepts a corpus response cleanly (not merely stricter)', async () => {
    const disagreements: string[] = [];
    for (const c of corpusCases) {
      const { ref, got } = await compare(c);
      if (ref.kind === 'ok' && got.kind !== 'ok' && !/x-farm/i.test(c.name))
        disagreements.push(`${c.name}: ${got.detail}`);
    }
    // What the router refuses although llhttp takes it, on purpose (see router-upstream-client.md).
    expect(disagreements.sort()).toEqual(
      [
        'status 000: UPSTREAM_BAD_RESPONSE',
        'status 099: UPSTREAM_BAD_RESPONSE',
        'HTTP/0.9 status line: UPSTREAM_BAD_RESPONSE',
        'HTTP/2.0 status line: UPSTREAM_BAD_RESPONSE',
      ].sort(),
    );
  });

  const count = Number(process.env.FUZZ_CASES ?? 100_000);
  const seed = Number(process.env.FUZZ_SEED ?? 16);
  it(`${count} mutated responses (seed ${seed}) through both clients`, { timeout: 600_000 }, async () => {
    const failures: string[] = [];
    const tally = { refOk: 0, routerOk: 0, routerStricter: 0, kept: 0 };
    const batch: Case[] = [];
    const run = async () => {
      const results = await Promise.all(batch.map(compare));
      results.forEach(({ ref, got, why }, i) => {
        if (ref.kind === 'ok') tally.refOk++;
        if (got.kind === 'ok') tally.routerOk++;
        if (ref.kind === 'ok' && got.kind !== 'ok') tally.routerStricter++;
        if (got.kept) tally.kept++;
        if (why && failures.length < 20)
          failures.push(`${batch[i]!.name} ${JSON.stringify(batch[i]!.bytes.toString('latin1'))}: ${why}`);
      });
      batch.length = 0;
    };
    for (const c of mutations(seed, count)) {
      batch.push(c);
      if (batch.length === 250) await run();
    }
    await run();
    console.log(`differential fuzz seed ${seed}: ${count} cases`, tally);
    expect(failures).toEqual([]);
    // A generator that only made garbage would prove nothing: a good share must be accepted by both.
    expect(tally.routerOk).toBeGreaterThan(count * 0.2);
  });
});
