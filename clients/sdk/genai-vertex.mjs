// Drives the official @google/genai SDK in Vertex AI express mode from the
// environment only (GOOGLE_API_KEY; GOOGLE_VERTEX_BASE_URL is the SDK's
// Vertex base URL variable).
// Usage: node genai-vertex.mjs generate|generate-stream
import { GoogleGenAI } from '@google/genai';

const mode = process.argv[2] ?? 'generate';
const model = process.env.AWF_TEST_MODEL ?? 'gemini-2.5-flash';
const ai = new GoogleGenAI({ vertexai: true });
console.log(`AWF_KEY_SEEN=${ai.apiKey ?? ''}`);
console.log(`AWF_BASE_URL=${process.env.GOOGLE_VERTEX_BASE_URL ?? '(default)'}`);

const contents = 'Say hello and give the answer.';
let text = '';
let usage;
if (mode === 'generate') {
  const r = await ai.models.generateContent({ model, contents });
  text = r.text;
  usage = r.usageMetadata;
} else if (mode === 'generate-stream') {
  const stream = await ai.models.generateContentStream({ model, contents });
  for await (const c of stream) {
    text += c.text ?? '';
    if (c.usageMetadata) usage = c.usageMetadata;
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
console.log(`AWF_REPLY=${text}`);
console.log(`AWF_USAGE=${JSON.stringify(usage)}`);
