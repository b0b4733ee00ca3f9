// Drives the official @google/genai SDK from the environment only
// (GEMINI_API_KEY; GOOGLE_GEMINI_BASE_URL is the SDK's base URL variable).
// Usage: node genai.mjs generate|generate-stream|count-tokens
import { GoogleGenAI } from '@google/genai';

const mode = process.argv[2] ?? 'generate';
const model = process.env.AWF_TEST_MODEL ?? 'gemini-2.5-flash';
const ai = new GoogleGenAI({});
console.log(`AWF_KEY_SEEN=${ai.apiKey ?? ''}`);
console.log(`AWF_BASE_URL=${process.env.GOOGLE_GEMINI_BASE_URL ?? '(default)'}`);

const contents = 'Say hello and give the answer.';
let text = '';
let usage;
switch (mode) {
  case 'generate': {
    const r = await ai.models.generateContent({ model, contents });
    text = r.text;
    usage = r.usageMetadata;
    break;
  }
  case 'generate-stream': {
    const stream = await ai.models.generateContentStream({ model, contents });
    for await (const c of stream) {
      text += c.text ?? '';
      if (c.usageMetadata) usage = c.usageMetadata;
    }
    break;
  }
  case 'count-tokens': {
    usage = await ai.models.countTokens({ model, contents });
    const r = await ai.models.generateContent({ model, contents });
    text = r.text;
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
console.log(`AWF_REPLY=${text}`);
console.log(`AWF_USAGE=${JSON.stringify(usage)}`);
