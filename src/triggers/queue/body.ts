const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A broker payload as a record body: text when it is UTF-8, else base64 (SQS bodies are text). */
export function decodeBody(data: Uint8Array): { body: string; encoding?: 'base64' } {
  try {
    return { body: utf8.decode(data) };
  } catch {
    return { body: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'), encoding: 'base64' };
  }
}
