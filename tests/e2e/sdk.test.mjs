// End-to-end: the official OpenAI and Anthropic SDKs, unchanged but for the
// base URL and the Zoll-issued key, talk to the gateway.  Run by
// test_sdk.py, which starts the gateway and passes:
//   ZOLL_URL, ZOLL_KEY_<TENANT>, NODE_EXTRA_CA_CERTS (the test CA)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const url = process.env.ZOLL_URL;
const openai = (tenant) => new OpenAI({
  baseURL: `${url}/openai/v1`,
  apiKey: process.env[`ZOLL_KEY_${tenant.toUpperCase()}`],
  maxRetries: 0,
});
const anthropic = (tenant) => new Anthropic({
  baseURL: `${url}/anthropic`,
  apiKey: process.env[`ZOLL_KEY_${tenant.toUpperCase()}`],
  maxRetries: 0,
});
const ask = (text) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: text }],
});

test('openai chat completion, EEA tenant, served by the EU endpoint', async () => {
  const r = await openai('acme_eu').chat.completions.create(
    ask('e2e-openai-plain: Grüße aus Köln'));
  assert.equal(r.choices[0].message.content,
    '[mock-eu] You said: e2e-openai-plain: Grüße aus Köln');
});

test('openai chat completion streamed, any tenant, served by the US endpoint', async () => {
  const stream = await openai('globex_any').chat.completions.create({
    ...ask('e2e-openai-stream: hello'), stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let chunks = 0;
  let usage = null;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? '';
    usage = chunk.usage ?? usage;
  }
  assert.equal(text, '[mock-us] You said: e2e-openai-stream: hello');
  assert.ok(chunks > 3, `expected several SSE chunks, got ${chunks}`);
  assert.ok(usage && usage.total_tokens > 0);
});

test('openai SDK raises its own error classes for Zoll refusals', async () => {
  const bad = new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: 'zk_wrong',
    maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create(ask('e2e-refused')),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401
      && e.code === 'invalid_api_key');
});

test('anthropic message, any tenant, plain and streamed', async () => {
  const client = anthropic('globex_any');
  const msg = await client.messages.create({
    model: 'claude-haiku-4-5', max_tokens: 64,
    messages: [{ role: 'user', content: 'e2e-anthropic-plain' }],
  });
  assert.equal(msg.content[0].text, '[mock-us] You said: e2e-anthropic-plain');

  const stream = client.messages.stream({
    model: 'claude-haiku-4-5', max_tokens: 64,
    messages: [{ role: 'user', content: 'e2e-anthropic-stream' }],
  });
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text,
    '[mock-us] You said: e2e-anthropic-stream');
});

test('anthropic SDK sees a 451 when no lawful route exists', async () => {
  await assert.rejects(anthropic('acme_eu').messages.create({
    model: 'claude-haiku-4-5', max_tokens: 64,
    messages: [{ role: 'user', content: 'e2e-anthropic-451' }],
  }), (e) => e instanceof Anthropic.APIError && e.status === 451
      && e.error?.error?.code === 'no_lawful_route');
});
