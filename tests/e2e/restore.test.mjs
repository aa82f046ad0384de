// End-to-end: reversible tokens.  The tenant's profile replaces personal
// data with per-request tokens ("[EMAIL_1]"); the mock provider quotes the
// tokens back, in deltas of three characters (x-mock-delta), so tokens are
// split across events; the application must see the original values, in
// text and in tool call arguments, streamed or not.  Run by test_sdk.py
// with ZOLL_URL, ZOLL_KEY_<TENANT>, NODE_EXTRA_CA_CERTS and ZOLL_TENANT
// (a tenant with the tokenize profile that may use both providers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const url = process.env.ZOLL_URL;
const key = process.env[`ZOLL_KEY_${process.env.ZOLL_TENANT.toUpperCase()}`];
const defaultHeaders = { 'x-mock-delta': '3' };
const openai = new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: key,
  maxRetries: 0, defaultHeaders });
const anthropic = new Anthropic({ baseURL: `${url}/anthropic`, apiKey: key,
  maxRetries: 0, defaultHeaders });

const text = (marker) =>
  `${marker}: mail lea.fischer@example.de and "tom.berg@example.org", ` +
  'IBAN DE89 3704 0044 0532 0130 00, again lea.fischer@example.de';
const said = (mock, t) => `[mock-${mock}] You said: ${t}`;
const mockOf = (s) => s.match(/^\[mock-(eu|us)\]/)[1];
const tools = [{ type: 'function', function: { name: 'send_mail',
  parameters: { type: 'object' } } }];
const claudeTools = [{ name: 'send_mail',
  input_schema: { type: 'object' } }];

test('openai: restored in a completion and in a tool call', async () => {
  const t = text('e2e-restore-openai-plain');
  const r = await openai.chat.completions.create({ model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: t }] });
  const got = r.choices[0].message.content;
  assert.equal(got, said(mockOf(got), t));

  const c = await openai.chat.completions.create({ model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: t }], tools });
  const call = c.choices[0].message.tool_calls[0];
  assert.deepEqual(JSON.parse(call.function.arguments), { text: t });
});

test('openai: restored in a stream and in a streamed tool call', async () => {
  const t = text('e2e-restore-openai-stream');
  let got = '';
  for await (const chunk of await openai.chat.completions.create({
    model: 'gpt-4o-mini', messages: [{ role: 'user', content: t }],
    stream: true })) {
    got += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(got, said(mockOf(got), t));

  const stream = openai.chat.completions.stream({ model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: t }], tools });
  const final = await stream.finalChatCompletion();
  const call = final.choices[0].message.tool_calls[0];
  assert.deepEqual(JSON.parse(call.function.arguments), { text: t });
});

test('anthropic: restored in a message, a stream and tool_use', async () => {
  for (const marker of ['e2e-restore-anthropic-plain',
                        'e2e-restore-anthropic-stream']) {
    const t = text(marker);
    const req = { model: 'claude-haiku-4-5', max_tokens: 64,
      messages: [{ role: 'user', content: t }], tools: claudeTools };
    const msg = marker.endsWith('plain')
      ? await anthropic.messages.create(req)
      : await anthropic.messages.stream(req).finalMessage();
    assert.equal(msg.content[0].text, said(mockOf(msg.content[0].text), t));
    assert.equal(msg.content[1].type, 'tool_use');
    assert.deepEqual(msg.content[1].input, { text: t });
  }
});
