// Regenerates the seed corpus of event_parser_fuzz: POST /api/public/ingestion bodies as the
// official `langfuse` JS SDK sends them (captured by a local HTTP server), one small batch per
// event type, and edge cases. Run from the repository root: node src/ingest/fuzz_corpus/generate.mjs
// Files are written under their purpose's name; re-running replaces them.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Langfuse } from 'langfuse';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'event_parser_fuzz');
fs.mkdirSync(dir, { recursive: true });
const write = (name, body) => fs.writeFileSync(path.join(dir, name), body);

// --- bodies the SDK sends -------------------------------------------------------------------
const captured = [];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url.startsWith('/api/public/ingestion')) captured.push(Buffer.concat(chunks));
    res.writeHead(207, { 'Content-Type': 'application/json' });
    res.end('{"successes":[],"errors":[]}');
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const baseUrl = `http://127.0.0.1:${server.address().port}`;
const lf = new Langfuse({
  publicKey: 'pk-lf-fuzz', secretKey: 'sk-lf-fuzz', baseUrl, flushAt: 1000, flushInterval: 0, fetchRetryCount: 0,
  environment: 'fuzz', release: 'rel-1',
});
const t = (s) => new Date(Date.UTC(2024, 0, 2, 3, 4, 5) + s * 1000);

// 1: a trace with nested spans, an event and generations.
const tr = lf.trace({
  id: 'trace-1', name: 'chat', userId: 'user-1', sessionId: 'sess-1', tags: ['b', 'a'], public: true,
  metadata: { app: { region: 'eu' }, flag: true }, version: 'v1', input: 'What is 2+2?', timestamp: t(0),
});
const root = tr.span({ id: 'span-1', name: 'root', startTime: t(0), input: { q: 1 }, metadata: { step: 'root' } });
root.event({ id: 'event-1', name: 'cache', startTime: t(1), level: 'DEBUG', input: { key: 'k' } });
const gen = root.generation({
  id: 'gen-1', name: 'llm', startTime: t(2), completionStartTime: t(3), model: 'gpt-4o-mini',
  modelParameters: { temperature: 0.2, maxTokens: 256, stream: false, stop: ['\n'] },
  input: [{ role: 'system', content: 'terse' }, { role: 'user', content: 'hi' }],
  usageDetails: { input: 100, output: 20, input_cached_tokens: 30 }, costDetails: { input: 0.001, output: 0.002 },
});
root.generation({
  id: 'gen-2', name: 'llm-legacy-usage', startTime: t(4), endTime: t(5), model: 'm',
  usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 }, promptName: 'p', promptVersion: 3,
});
await lf.flushAsync();
// 2: updates and scores of every data type.
root.update({ endTime: t(6), output: { docs: 2 }, level: 'WARNING', statusMessage: 'slow' });
gen.update({ metadata: { cached: false } });
tr.update({ output: { answer: 4 }, tags: ['c'] });
tr.score({ id: 'score-1', name: 'quality', value: 0.87, comment: 'ok' });
tr.score({ id: 'score-2', name: 'sentiment', value: 'positive', dataType: 'CATEGORICAL' });
gen.score({ id: 'score-3', name: 'correct', value: 1, dataType: 'BOOLEAN' });
lf.score({ id: 'score-4', traceId: 'trace-1', name: 'note', value: 'fine', dataType: 'TEXT' });
gen.end({ output: { role: 'assistant', content: '4' }, usage: { input: 12, output: 34, total: 46, unit: 'TOKENS' } });
root.end({ output: 'done' });
await lf.flushAsync();
await lf.shutdownAsync();
server.close();
captured.forEach((body, i) => write(`sdk-batch-${i + 1}.json`, body));

// --- one event per type ---------------------------------------------------------------------
const ts = '2024-01-02T03:04:05.678Z';
const envelope = (type, body, id = `ev-${type}`) => ({ id, timestamp: ts, type, body });
const batch = (...events) => JSON.stringify({ batch: events });
const obs = { traceId: 'trace-1', name: 'n', startTime: ts, endTime: '2024-01-02T03:04:06Z', metadata: { k: 'v' },
  input: { a: [1, 2] }, output: 'text', level: 'DEFAULT', environment: 'production' };
const genFields = { ...obs, model: 'gpt-4o', modelParameters: { temperature: 0.5, n: 'x' },
  usageDetails: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15,
    prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 1 } },
  costDetails: { total: 0.5 }, completionStartTime: '2024-01-02T03:04:05.9+01:00' };
write('trace-create.json', batch(envelope('trace-create', { id: 't', timestamp: ts, name: 'n', userId: 'u',
  sessionId: 's', release: 'r', version: 'v', environment: 'Langfuse-Prod', public: false, tags: ['x'],
  metadata: { nested: { a: 1 } }, input: { q: 'hi' }, output: null })));
write('span-create.json', batch(envelope('span-create', { id: 's', ...obs, parentObservationId: 'p' })));
write('span-update.json', batch(envelope('span-update', { id: 's', endTime: ts, output: { done: true } })));
write('generation-create.json', batch(envelope('generation-create', { id: 'g', ...genFields, promptName: 'p', promptVersion: 1 })));
write('generation-update.json', batch(envelope('generation-update', { id: 'g', usage: { input: 1, output: 2, unit: 'CHARACTERS', inputCost: 0.1 } })));
write('event-create.json', batch(envelope('event-create', { id: 'e', ...obs, level: 'ERROR', statusMessage: 'boom' })));
for (const type of ['agent', 'tool', 'chain', 'retriever', 'evaluator', 'embedding', 'guardrail']) {
  write(`${type}-create.json`, batch(envelope(`${type}-create`, { id: type, ...genFields })));
}
write('observation-create.json', batch(envelope('observation-create', { id: 'o', type: 'GENERATION', ...genFields })));
write('observation-update.json', batch(envelope('observation-update', { id: 'o', type: 'SPAN', endTime: ts })));
write('score-create.json', batch(envelope('score-create', { id: 'sc', name: 'q', value: 0.5, traceId: 't',
  observationId: 'o', sessionId: 's', datasetRunId: 'd', source: 'EVAL', comment: 'c', metadata: [1, 2],
  environment: 'dev', timestamp: ts })));
write('sdk-log.json', batch(envelope('sdk-log', { log: { message: 'hello' } })));
write('dataset-run-item-create.json', batch(envelope('dataset-run-item-create', { id: 'd', runName: 'r' })));

// --- edge cases -----------------------------------------------------------------------------
write('empty-batch.json', '{"batch":[]}');
write('batch-not-array.json', '{"batch":{"id":"x"}}');
write('no-batch.json', '{"metadata":{"sdk_name":"x"}}');
write('not-json.json', '{"batch":[');
write('wrong-types.json', batch(
  envelope('trace-create', { id: 't', name: 5, tags: 'x' }, 'w1'),
  envelope('span-create', { id: 's', startTime: '2024-01-02T03:04:05' }, 'w2'),
  envelope('generation-create', { id: 'g', usage: { input: 'many' }, promptVersion: -1 }, 'w3'),
  envelope('score-create', { id: 'sc', name: 'q', value: 'x', dataType: 'NUMERIC' }, 'w4'),
  envelope('score-create', { id: 'sc2', name: 'q', value: 2, dataType: 'BOOLEAN' }, 'w5'),
  envelope('span-create', { id: 'a'.repeat(801) }, 'w6'),
  envelope('unknown-create', { id: 'u' }, 'w7'),
  { id: 'no-body', timestamp: ts, type: 'span-create' },
  { timestamp: ts, type: 'span-create', body: {} },
  42, null, [],
));
write('nulls.json', batch(envelope('generation-update', { id: 'g', name: null, metadata: null, usage: null,
  usageDetails: null, costDetails: null, promptName: null, promptVersion: null, modelParameters: null,
  level: null, endTime: null })));
write('no-body-id.json', batch(envelope('trace-create', { name: 'anonymous' }), envelope('score-create', { name: 'q', value: 1 })));
write('same-entity.json', batch(
  envelope('span-update', { id: 's', startTime: '2024-01-02T03:04:07Z', endTime: '2024-01-02T03:04:06Z' }, 'u1'),
  envelope('span-create', { id: 's', traceId: 't', startTime: ts, metadata: { a: { x: 1 } } }, 'c1'),
  envelope('span-create', { id: 's', metadata: { a: { y: 2 } }, level: null }, 'c2'),
  envelope('trace-create', { id: 't', tags: ['b', 'a'] }, 't1'),
  envelope('trace-create', { id: 't', tags: ['a', 'c'], metadata: '{"not":"merged"}' }, 't2'),
  envelope('score-create', { id: 'sc', name: 'q', value: 1 }, 's1'),
  envelope('score-create', { id: 'sc', name: 'q', value: 'y', traceId: 't2' }, 's2'),
));
write('timestamps.json', batch(
  envelope('trace-create', { id: 't1', timestamp: '0000-01-01T00:00:00Z' }, 'd1'),
  envelope('trace-create', { id: 't2', timestamp: '9999-12-31T23:59:60.999999999-23:59' }, 'd2'),
  envelope('trace-create', { id: 't3', timestamp: '2024-02-29T00:00:00+0530' }, 'd3'),
  envelope('trace-create', { id: 't4', timestamp: '2023-02-29T00:00:00Z' }, 'd4'),
  { id: 'd5', timestamp: '2024-01-02T03:04:05.1z', type: 'trace-create', body: { id: 't5' } },
));
write('usage-shapes.json', batch(
  envelope('generation-create', { id: 'g1', usageDetails: { input_tokens: 9, output_tokens: '3',
    input_tokens_details: { cached_tokens: 20 }, output_tokens_details: { reasoning_tokens: 'x' } } }, 'u1'),
  envelope('generation-create', { id: 'g2', usageDetails: { a: 1, b: 1.5, c: -1, d: '7', e: 9.1e15 },
    costDetails: { total: -1, x: 1e308 } }, 'u2'),
  envelope('generation-create', { id: 'g3', usage: { input: 1e20, output: 0.5, total: null, unit: 'BANANAS' } }, 'u3'),
));
write('unicode.json', batch(envelope('trace-create', { id: 'tr\u00e9', name: '\u{1F600} \u0000 \ud7ff',
  input: 'line\nbreak "quoted" \\', metadata: { '': '', '\u2028': 'sep' }, environment: 'LANGFUSE_' })));
write('deep.json', `{"batch":[{"id":"d","timestamp":"${ts}","type":"trace-create","body":{"id":"t","input":${'['.repeat(200)}${']'.repeat(200)},"metadata":{"m":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}}}]}`);
write('scores-only-mix.json', batch(
  envelope('score-create', { id: 'sc', name: 'q', value: 1, dataType: 'NUMERIC' }, 'a'),
  envelope('trace-create', { id: 't' }, 'b'),
  envelope('sdk-log', {}, 'c'),
));
console.log(`wrote ${fs.readdirSync(dir).length} files to ${dir}`);
