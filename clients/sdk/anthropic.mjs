// Drives the official @anthropic-ai/sdk from the environment only
// (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN).
// Usage: node anthropic.mjs messages|messages-stream|count-tokens
import Anthropic from '@anthropic-ai/sdk';

const mode = process.argv[2] ?? 'messages';
const model = process.env.AWF_TEST_MODEL ?? 'claude-sonnet-4-5';
const client = new Anthropic();
console.log(`AWF_KEY_SEEN=${client.apiKey ?? ''}${client.authToken ?? ''}`);
console.log(`AWF_BASE_URL=${client.baseURL}`);

const messages = [{ role: 'user', content: 'Say hello and give the answer.' }];
let text = '';
let usage;
switch (mode) {
  case 'messages': {
    const r = await client.messages.create({ model, max_tokens: 256, messages });
    text = r.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    usage = r.usage;
    break;
  }
  case 'messages-stream': {
    const stream = client.messages.stream({ model, max_tokens: 256, messages });
    stream.on('text', (t) => { text += t; });
    const final = await stream.finalMessage();
    usage = final.usage;
    break;
  }
  case 'count-tokens': {
    const r = await client.messages.countTokens({ model, messages });
    usage = r;
    const m = await client.messages.create({ model, max_tokens: 256, messages });
    text = m.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
console.log(`AWF_REPLY=${text}`);
console.log(`AWF_USAGE=${JSON.stringify(usage)}`);
