// Drives the official openai SDK from the environment only (OPENAI_API_KEY,
// OPENAI_BASE_URL), as an agent would: no sandbox-specific code.
// Usage: node openai.mjs chat|chat-stream|responses|responses-stream|responses-ws
import OpenAI from 'openai';

const mode = process.argv[2] ?? 'chat';
const model = process.env.AWF_TEST_MODEL ?? 'gpt-5-mini';
const client = new OpenAI();
console.log(`AWF_KEY_SEEN=${client.apiKey}`);
console.log(`AWF_BASE_URL=${client.baseURL}`);

const messages = [{ role: 'user', content: 'Say hello and give the answer.' }];
let text = '';
let usage;
switch (mode) {
  case 'chat': {
    const r = await client.chat.completions.create({ model, messages });
    text = r.choices[0].message.content;
    usage = r.usage;
    break;
  }
  case 'chat-stream': {
    const stream = await client.chat.completions.create({
      model, messages, stream: true, stream_options: { include_usage: true },
    });
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) usage = c.usage;
    }
    break;
  }
  case 'responses': {
    const r = await client.responses.create({ model, input: messages[0].content });
    text = r.output_text;
    usage = r.usage;
    break;
  }
  case 'responses-stream': {
    const stream = await client.responses.create({ model, input: messages[0].content, stream: true });
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') usage = ev.response.usage;
    }
    break;
  }
  case 'responses-ws': {
    // The Responses API WebSocket mode (the SDK's beta ResponsesWS client).
    const { ResponsesWS } = await import('openai/resources/beta/responses/ws');
    const rws = new ResponsesWS(client);
    await new Promise((resolve, reject) => {
      rws.on('response.output_text.delta', (ev) => { text += ev.delta; });
      rws.on('response.completed', (ev) => { usage = ev.response.usage; resolve(); });
      rws.on('error', reject);
      rws.send({ type: 'response.create', model, input: messages[0].content });
    });
    rws.close();
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
console.log(`AWF_REPLY=${text}`);
console.log(`AWF_USAGE=${JSON.stringify(usage)}`);
