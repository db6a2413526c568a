// Regenerates the seed corpora of otlp_protobuf_fuzz, otlp_json_fuzz and gzip_fuzz: OTLP export
// requests as the official exporters send them (@opentelemetry/exporter-trace-otlp-proto and -http,
// the Langfuse JS SDK v5 span processor), captured by a local HTTP server, for the attribute sets
// of the instrumentations the mapping knows; plus hand-made edge cases (value kinds the JS API
// cannot produce, bad ids, odd JSON encodings). Run from the repository root:
//   node src/otel/fuzz_corpus/generate.mjs
// Files are written under their purpose's name; re-running replaces them.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { trace, context, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import { startActiveObservation, propagateAttributes, setLangfuseTracerProvider } from '@langfuse/tracing';

const root = path.dirname(fileURLToPath(import.meta.url));
const dirs = { pb: 'otlp_protobuf_fuzz', json: 'otlp_json_fuzz', gz: 'gzip_fuzz' };
for (const d of Object.values(dirs)) fs.mkdirSync(path.join(root, d), { recursive: true });
const write = (kind, name, body) => fs.writeFileSync(path.join(root, dirs[kind], name), body);
// gzip_fuzz inputs: two little-endian bytes of output cap, then the compressed body.
const capped = (cap, body) => Buffer.concat([Buffer.from([cap & 0xff, (cap >> 8) & 0xff]), body]);

// --- capture server ---------------------------------------------------------------------------
let captured = [];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    captured.push({ type: req.headers['content-type'] || '', encoding: req.headers['content-encoding'] || '', body: Buffer.concat(chunks) });
    const json = (req.headers['content-type'] || '').includes('json');
    res.writeHead(200, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' });
    res.end(json ? '{}' : Buffer.alloc(0));
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/api/public/otel/v1/traces`;
const take = () => { const out = captured; captured = []; return out; };
const inflate = (c) => (c.encoding === 'gzip' ? zlib.gunzipSync(c.body) : c.body);

// Runs `emit(tracer)` with one exporter of each kind and returns the captured request bodies.
async function record(scopeName, scopeVersion, resource, emit, { compression } = {}) {
  const out = {};
  for (const [kind, Exporter] of [['pb', ProtoExporter], ['json', JsonExporter]]) {
    const exporter = new Exporter({ url, ...(compression ? { compression } : {}) });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(resource), spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    emit(provider.getTracer(scopeName, scopeVersion));
    await provider.forceFlush();
    await provider.shutdown();
    out[kind] = take();
  }
  return out;
}

// One trace: a root span and children with the given attributes (and span events).
function spans(children, rootAttrs = {}) {
  return (tracer) => {
    const rootSpan = tracer.startSpan('root', { attributes: rootAttrs });
    const ctx = trace.setSpan(context.active(), rootSpan);
    for (const c of children) {
      const s = tracer.startSpan(c.name, { attributes: c.attrs || {} }, ctx);
      for (const [name, attrs] of c.events || []) s.addEvent(name, attrs);
      if (c.error) s.setStatus({ code: SpanStatusCode.ERROR, message: c.error });
      s.end();
    }
    rootSpan.end();
  };
}

const genai = spans([
  { name: 'chat gpt-4o-mini', error: 'rate limited', attrs: {
    'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.request.temperature': 0.7,
    'gen_ai.request.max_tokens': 100, 'gen_ai.usage.input_tokens': 21, 'gen_ai.usage.output_tokens': 9,
    'gen_ai.usage.cost': 0.0012, 'gen_ai.system_instructions': '[{"type":"text","content":"be brief"}]',
    'gen_ai.input.messages': JSON.stringify([{ role: 'user', content: 'ping' }]),
    'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', content: 'pong' }]),
    'gen_ai.conversation.id': 'conv-1', 'custom.unknown.attribute': 'kept' } },
  { name: 'execute_tool lookup', attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'lookup',
    'gen_ai.tool.call.id': 'call-1', 'gen_ai.tool.call.arguments': '{"id":1}', 'gen_ai.tool.call.result': '{"ok":true}' } },
  { name: 'embeddings', attrs: { 'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'text-embedding-3-small',
    'gen_ai.usage.input_tokens': 5 } },
  { name: 'chat with events', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.response.model': 'm' }, events: [
    ['gen_ai.system.message', { content: 'sys' }], ['gen_ai.user.message', { content: 'hi' }],
    ['gen_ai.choice', { index: 0, finish_reason: 'stop', message: '{"content":"yo"}' }]] },
  { name: 'inference details', attrs: { 'gen_ai.operation.name': 'chat' }, events: [
    ['gen_ai.client.inference.operation.details', { 'gen_ai.input.messages': '[{"role":"user"}]', 'gen_ai.output.messages': '[]' }]] },
  { name: 'semantic kernel', attrs: { 'gen_ai.operation.name': 'chat_completion' }, events: [
    ['gen_ai.content.prompt', { 'gen_ai.prompt': '[{"role":"user","content":"x"}]' }],
    ['gen_ai.content.completion', { 'gen_ai.completion': '[{"role":"assistant","content":"y"}]' }]] },
], { 'gen_ai.operation.name': 'invoke_agent', 'user.id': 'u-1', 'session.id': 's-1', 'tag.tags': 'a, b' });

const vercel = spans([
  { name: 'ai.generateText.doGenerate', attrs: { 'operation.name': 'ai.generateText.doGenerate', 'ai.operationId': 'ai.generateText.doGenerate',
    'ai.model.id': 'gpt-4o', 'ai.model.provider': 'openai.chat', 'ai.prompt.messages': '[{"role":"user","content":[{"type":"text","text":"hi"}]}]',
    'ai.response.text': 'hello', 'ai.response.msToFirstChunk': 12.5, 'ai.usage.promptTokens': 3, 'gen_ai.usage.input_tokens': 3,
    'gen_ai.usage.output_tokens': 2, 'ai.usage.tokens': 5, 'ai.usage.cachedInputTokens': 1, 'ai.settings.maxRetries': 2,
    'ai.telemetry.functionId': 'fn', 'ai.telemetry.metadata.userId': 'vu', 'ai.telemetry.metadata.sessionId': 'vs',
    'ai.telemetry.metadata.tags': ['x', 'y'], 'ai.telemetry.metadata.langfusePrompt': '{"name":"p","version":2}',
    'ai.response.providerMetadata': '{"openai":{"cachedPromptTokens":1,"reasoningTokens":4},"anthropic":{"usage":{"cache_creation_input_tokens":3,"cache_creation":{"ephemeral_5m_input_tokens":1}}}}',
    'gen_ai.response.finish_reasons': ['stop'] } },
  { name: 'ai.toolCall', attrs: { 'operation.name': 'ai.toolCall', 'ai.operationId': 'ai.toolCall', 'ai.toolCall.name': 'weather',
    'ai.toolCall.args': '{"city":"Paris"}', 'ai.toolCall.result': '{"temp":20}' } },
  { name: 'ai.embed.doEmbed', attrs: { 'operation.name': 'ai.embed.doEmbed', 'ai.model.id': 'emb', 'ai.usage.tokens': 4 } },
  { name: 'ai.streamText.doStream', attrs: { 'operation.name': 'ai.streamText.doStream', 'ai.model.id': 'claude',
    'ai.response.toolCalls': '[{"toolName":"x"}]', 'ai.stream.msToFirstChunk': 99, 'gen_ai.operation.name': 'agent_step' } },
], { 'operation.name': 'ai.generateText', 'ai.operationId': 'ai.generateText', 'ai.prompt': '{"prompt":"hi"}', 'ai.result.text': 'hello' });

const openinference = spans([
  { name: 'ChatCompletion', attrs: { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o',
    'llm.invocation_parameters': '{"temperature":0.1,"stop":["x"],"nested":{"a":1}}',
    'llm.input_messages.0.message.role': 'system', 'llm.input_messages.0.message.content': 'be nice',
    'llm.input_messages.1.message.role': 'user', 'llm.input_messages.1.message.content': 'hi',
    'llm.output_messages.0.message.role': 'assistant', 'llm.output_messages.0.message.content': 'hello',
    'llm.token_count.prompt': 10, 'llm.token_count.completion': 3, 'llm.token_count.total': 13, 'llm.cost.total': '0.5' } },
  { name: 'retrieve', attrs: { 'openinference.span.kind': 'RETRIEVER', 'input.value': 'query', 'output.value': '{"docs":[1,2]}' } },
  { name: 'guard', attrs: { 'openinference.span.kind': 'GUARDRAIL', 'input.value': 'x' } },
], { 'openinference.span.kind': 'CHAIN', 'input.value': '{"question":"q"}', 'output.value': 'a' });

const openllmetry = spans([
  { name: 'openai.chat', attrs: { 'llm.request.type': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4',
    'gen_ai.prompt.0.role': 'user', 'gen_ai.prompt.0.content': 'hi', 'gen_ai.prompt.1.role': 'assistant',
    'gen_ai.prompt.1.content': 'yo', 'gen_ai.completion.0.role': 'assistant', 'gen_ai.completion.0.content': 'hello',
    'gen_ai.completion.0.finish_reason': 'stop', 'gen_ai.usage.prompt_tokens': 4, 'gen_ai.usage.completion_tokens': 2,
    'gen_ai.usage.cache_read.input_tokens': 1, 'llm.usage.total_tokens': 6, 'gen_ai.prompt.0.content.__proto__': 'x' } },
  { name: 'task', attrs: { 'traceloop.entity.input': '{"inputs":{"a":1}}', 'traceloop.entity.output': '{"outputs":2}',
    'traceloop.association.properties.x': 'y' } },
], { 'traceloop.entity.name': 'workflow' });

const others = spans([
  { name: 'logfire', attrs: { 'logfire.msg': 'Chat Completion with gpt-4', prompt: 'p', all_messages_events: '[{"role":"user"}]',
    events: '[{"event.name":"gen_ai.user.message","content":"hi"},{"event.name":"gen_ai.choice","message":{"content":"x"}}]' } },
  { name: 'agent_turn', attrs: { 'lk.input_text': 'hello', 'lk.response.text': 'hi there' } },
  { name: 'mlflow', attrs: { 'mlflow.spanInputs': '{"x":1}', 'mlflow.spanOutputs': '2' } },
  { name: 'adk', attrs: { 'gcp.vertex.agent.llm_request': '{"contents":[]}', 'gcp.vertex.agent.llm_response': '{}',
    'gcp.vertex.agent.tool_call_args': '{"a":1}' } },
  { name: 'pydantic', attrs: { input: 'i', output: 'o', model: 'claude', model_config: '{"max_tokens":5}' } },
  { name: 'genkit', attrs: { 'genkit:name': 'gemini', 'genkit:metadata:subtype': 'model', 'genkit:input': '{}' } },
  { name: 'flue', attrs: { 'flue.task.id': 't', 'flue.task.agent': 'a', 'flue.tool.name': 'x' } },
], { 'deployment.environment.name': 'Langfuse-Staging' });

const langfuseAttrs = spans([
  { name: 'gen', attrs: { 'langfuse.observation.type': 'generation', 'langfuse.observation.model.name': 'gpt-4o',
    'langfuse.observation.model.parameters': '{"temperature":0.2,"stop":["x"],"n":{"deep":[1]}}',
    'langfuse.observation.usage_details': '{"input":10,"output":5}', 'langfuse.observation.cost_details': '{"total":0.01}',
    'langfuse.observation.prompt.name': 'p', 'langfuse.observation.prompt.version': 3,
    'langfuse.observation.completion_start_time': '"2024-01-02T03:04:05.123456"', 'langfuse.observation.metadata.k': 'v',
    'langfuse.observation.level': 'WARNING', 'langfuse.observation.status_message': 'slow',
    'langfuse.observation.input': '{"q":1}', 'langfuse.observation.output': '"done"' } },
  { name: 'kinds', attrs: { 'langfuse.observation.type': 'agent', 'langfuse.trace.name': 'renamed',
    'langfuse.trace.tags': '["x","y"]', 'langfuse.trace.metadata': '{"a":{"b":1}}', 'langfuse.internal.as_root': 'true' } },
  { name: 'evt', attrs: { 'langfuse.observation.type': 'event', 'langfuse.observation.level': 'ERROR' } },
  { name: 'more', attrs: { 'langfuse.observation.type': 'embedding' } },
], { 'langfuse.trace.name': 't', 'langfuse.user.id': 'u', 'langfuse.session.id': 's', 'langfuse.trace.public': true,
  'langfuse.trace.input': '{"question":"hi"}', 'langfuse.trace.output': 'bye', 'langfuse.trace.metadata.team': 'core',
  'langfuse.environment': 'prod', 'langfuse.release': 'r', 'langfuse.version': 'v', 'langfuse.trace.tags': ['a', 'b'] });

const sets = {
  genai: ['my.genai.instrumentation', '1.0.0', { 'service.name': 'genai-app', 'deployment.environment': 'qa', 'service.version': '3.1' }, genai],
  vercel: ['ai', '', { 'service.name': 'next-app' }, vercel],
  openinference: ['openinference.instrumentation.openai', '0.1.0', { 'service.name': 'py', 'telemetry.sdk.language': 'python' }, openinference],
  openllmetry: ['opentelemetry.instrumentation.openai.v1', '0.30.0', { 'service.name': 'tl' }, openllmetry],
  others: ['pydantic-ai', '', { 'service.name': 'misc' }, others],
  'langfuse-attrs': ['langfuse-sdk', '3.2.0', { 'service.name': 'lf', 'telemetry.sdk.language': 'python' }, langfuseAttrs],
  livekit: ['livekit-agents', '1', {}, spans([{ name: 'function_tool', attrs: { 'lk.function_tool.output': 'x' } }, { name: 'start_agent_activity' }])],
};
for (const [name, [scope, version, resource, emit]] of Object.entries(sets)) {
  const got = await record(scope, version, resource, emit);
  write('pb', `exporter-${name}.pb`, got.pb[0].body);
  write('json', `exporter-${name}.json`, got.json[0].body);
}
// gzip bodies as the exporters send them with compression: 'gzip'.
const gz = await record('my.genai.instrumentation', '1.0.0', { 'service.name': 'gz' }, genai, { compression: 'gzip' });
write('gz', 'exporter-proto-gzip', capped(65535, gz.pb[0].body));
write('gz', 'exporter-json-gzip', capped(65535, gz.json[0].body));
write('gz', 'exporter-json-gzip-cap-too-small', capped(100, gz.json[0].body));
write('gz', 'exporter-json-gzip-cap-exact', capped(inflate(gz.json[0]).length, gz.json[0].body));
write('gz', 'exporter-json-gzip-cap-one-less', capped(inflate(gz.json[0]).length - 1, gz.json[0].body));

// The Langfuse JS SDK v5 (its span processor exports OTLP/JSON; with a protobuf exporter too).
for (const [kind, exporterOf] of [['json', () => undefined], ['pb', () => new ProtoExporter({ url })]]) {
  const processor = new LangfuseSpanProcessor({ publicKey: 'pk-lf-fuzz', secretKey: 'sk-lf-fuzz', baseUrl: url.replace(/\/api.*$/, ''),
    environment: 'fuzz-env', release: 'rel-42', exportMode: 'batched', exporter: exporterOf() });
  const provider = new NodeTracerProvider({ spanProcessors: [processor] });
  setLangfuseTracerProvider(provider);
  await propagateAttributes(
    { userId: 'user-1', sessionId: 'sess-1', tags: ['t2', 't1'], traceName: 'sdk-trace', metadata: { team: 'core' }, version: 'v9' },
    () => startActiveObservation('root-request', async (r) => {
      r.update({ input: { question: 'what?' } });
      await startActiveObservation('agent-step', async (agent) => {
        agent.update({ input: { task: 'answer' } });
        await startActiveObservation('llm-call', async (g) => {
          g.update({ model: 'gpt-4o', input: [{ role: 'user', content: 'hi' }], modelParameters: { temperature: 0.2 },
            usageDetails: { input: 10, output: 5 }, costDetails: { total: 0.1 }, completionStartTime: new Date() });
          g.update({ output: { role: 'assistant', content: 'hello' }, level: 'WARNING', statusMessage: 'slow' });
        }, { asType: 'generation' });
        await startActiveObservation('search-tool', async (tool) => tool.update({ input: { q: 'x' }, output: { hits: 3 } }), { asType: 'tool' });
        for (const asType of ['chain', 'retriever', 'evaluator', 'embedding', 'guardrail']) {
          await startActiveObservation(`${asType}-obs`, async (o) => o.update({ metadata: { kind: asType } }), { asType });
        }
        agent.update({ output: 'done' });
      }, { asType: 'agent' });
      r.update({ output: { answer: 42 } });
    }),
  );
  await processor.forceFlush();
  await provider.shutdown();
  const got = take();
  write(kind, `langfuse-sdk-v5.${kind === 'pb' ? 'pb' : 'json'}`, inflate(got[0]));
}
server.close();

// --- hand-made protobuf ---------------------------------------------------------------------
function varint(n) {
  const out = [];
  let v = BigInt.asUintN(64, BigInt(n));
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
const ld = (field, buf) => Buffer.concat([varint((field << 3) | 2), varint(buf.length), Buffer.from(buf)]);
const vi = (field, n) => Buffer.concat([varint(field << 3), varint(n)]);
const f64 = (field, n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(n))); return Buffer.concat([varint((field << 3) | 1), b]); };
const dbl = (field, d) => { const b = Buffer.alloc(8); b.writeDoubleLE(d); return Buffer.concat([varint((field << 3) | 1), b]); };
// AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes.
const any = {
  str: (s) => ld(1, Buffer.from(s)), bool: (b) => vi(2, b ? 1 : 0), int: (n) => vi(3, n), dbl: (d) => dbl(4, d),
  arr: (...vals) => ld(5, Buffer.concat(vals.map((v) => ld(1, v)))),
  kv: (obj) => ld(6, Buffer.concat(Object.entries(obj).map(([k, v]) => ld(1, kvPair(k, v))))),
  bytes: (b) => ld(7, b),
};
const kvPair = (k, v) => Buffer.concat([ld(1, Buffer.from(k)), ld(2, v)]);
const attrs = (field, obj) => Buffer.concat(Object.entries(obj).map(([k, v]) => ld(field, kvPair(k, v))));
const hex = (h) => Buffer.from(h, 'hex');
const T = '0af7651916cd43dd8448eb211c80319c';
const S = 'b7ad6b7169203331';
const C = '00f067aa0ba902b7';
// Span: 1 trace_id, 2 span_id, 3 trace_state, 4 parent, 5 name, 6 kind, 7 start, 8 end, 9 attrs,
// 11 events (1 time, 2 name, 3 attrs), 15 status (2 message, 3 code).
function pbSpan({ traceId = T, spanId = S, parent, name = 'span', start = 1700000000123456789n, end = 1700000001000000000n,
  attributes = {}, events = [], status, extra = Buffer.alloc(0) }) {
  const parts = [ld(1, hex(traceId)), ld(2, hex(spanId))];
  if (parent !== undefined) parts.push(ld(4, hex(parent)));
  parts.push(ld(5, Buffer.from(name)), vi(6, 1));
  if (start !== undefined) parts.push(f64(7, start));
  if (end !== undefined) parts.push(f64(8, end));
  parts.push(attrs(9, attributes));
  for (const e of events) parts.push(ld(11, Buffer.concat([f64(1, e.time ?? 1n), ld(2, Buffer.from(e.name)), attrs(3, e.attributes || {})])));
  if (status) parts.push(ld(15, Buffer.concat([ld(2, Buffer.from(status.message || '')), vi(3, status.code)])));
  parts.push(extra);
  return Buffer.concat(parts);
}
function pbRequest(spanList, { resource = {}, scope = 'hand', scopeVersion = '', scopeAttrs = {} } = {}) {
  const scopeMsg = Buffer.concat([ld(1, Buffer.from(scope)), ld(2, Buffer.from(scopeVersion)), attrs(3, scopeAttrs)]);
  const scopeSpans = Buffer.concat([ld(1, scopeMsg), ...spanList.map((s) => ld(2, pbSpan(s)))]);
  return ld(1, Buffer.concat([ld(1, attrs(1, resource)), ld(2, scopeSpans)]));
}
const nestedKv = (depth) => (depth === 0 ? any.str('leaf') : any.kv({ k: nestedKv(depth - 1) }));
const nestedArr = (depth) => (depth === 0 ? any.int(1) : any.arr(nestedArr(depth - 1)));

write('pb', 'empty-request.pb', Buffer.alloc(0));
write('pb', 'empty-resource-spans.pb', Buffer.concat([ld(1, Buffer.alloc(0)), ld(1, ld(2, Buffer.alloc(0)))]));
write('pb', 'value-kinds.pb', pbRequest([{ attributes: {
  s: any.str('text'), b: any.bool(true), i: any.int(9007199254740993n), neg: any.int(-5n), d: any.dbl(0.25),
  nan: any.dbl(NaN), inf: any.dbl(Infinity), ninf: any.dbl(-Infinity), arr: any.arr(any.str('x'), any.int(2), any.dbl(1.5)),
  kv: any.kv({ a: any.str('b'), n: any.int(1) }), bytes: any.bytes(Buffer.from([0, 1, 2, 255])), empty: Buffer.alloc(0),
  'langfuse.observation.input': any.kv({ q: any.str('hi') }), 'langfuse.trace.tags': any.arr(any.str('a'), any.int(1)),
} }], { resource: { 'service.name': any.str('svc'), 'telemetry.sdk.language': any.str('python') } }));
write('pb', 'nested-values.pb', pbRequest([{ attributes: { kv: nestedKv(40), arr: nestedArr(40) } }]));
write('pb', 'bad-ids.pb', pbRequest([
  { traceId: '0a0b', spanId: S }, { traceId: T, spanId: '0102' }, { traceId: '00'.repeat(16), spanId: S },
  { traceId: T, spanId: '00'.repeat(8) }, { traceId: T, spanId: C, parent: '01' }, { traceId: T.repeat(2), spanId: S + S },
  { traceId: '', spanId: '' }, { traceId: T, spanId: C, parent: S },
]));
write('pb', 'times.pb', pbRequest([
  { spanId: S, start: 0n, end: 0n }, { spanId: C, parent: S, start: 0xffffffffffffffffn, end: 1n },
  { spanId: '1111111111111111', start: 1n, end: undefined }, { spanId: '2222222222222222', start: undefined, end: 1700000000000000000n },
]));
write('pb', 'status-and-events.pb', pbRequest([{ status: { code: 2, message: 'boom' }, events: [
  { name: 'gen_ai.user.message', attributes: { content: any.str('hello') } },
  { name: 'gen_ai.choice', time: 0xffffffffffffffffn, attributes: { message: any.kv({ content: any.str('x') }) } },
  { name: 'exception', attributes: { 'exception.message': any.str('oops') } },
] }, { spanId: C, parent: S, status: { code: 7 } }]));
write('pb', 'unknown-fields.pb', Buffer.concat([pbRequest([{ extra: Buffer.concat([vi(99, 1), ld(100, Buffer.from('x')), f64(101, 5n)]) }]), vi(50, 3)]));
write('pb', 'python-sdk-old-generation.pb', pbRequest([{ attributes: {
  'langfuse.observation.type': any.str('span'), 'langfuse.observation.model.name': any.str('gpt'),
  'langfuse.observation.usage_details': any.str('{"input":1}') } }], { scope: 'langfuse-sdk', scopeVersion: '3.1.9',
  resource: { 'telemetry.sdk.language': any.str('python') } }));
write('pb', 'many-spans.pb', pbRequest(Array.from({ length: 20 }, (_, i) => ({ spanId: (i + 1).toString(16).padStart(16, '0'),
  parent: i ? '0000000000000001' : undefined, attributes: { 'gen_ai.operation.name': any.str(i % 2 ? 'chat' : 'execute_tool') } }))));
write('pb', 'truncated.pb', pbRequest([{ attributes: { s: any.str('text') } }]).subarray(0, 40));
write('pb', 'grpc-framed.pb', Buffer.concat([Buffer.from([0, 0, 0, 0, 30]), pbRequest([{}]).subarray(0, 30)]));

// --- hand-made OTLP/JSON ---------------------------------------------------------------------
const j = (o) => JSON.stringify(o);
const jspan = (o) => ({ traceId: T, spanId: S, name: 'span', startTimeUnixNano: '1700000000123456789', endTimeUnixNano: '1700000001000000000', ...o });
const jreq = (spanList, extra = {}) => j({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
  scopeSpans: [{ scope: { name: 'hand', version: '1' }, spans: spanList }], ...extra }] });
write('json', 'empty-object.json', '{}');
write('json', 'resource-spans-not-array.json', '{"resourceSpans":{}}');
write('json', 'not-json.json', '{"resourceSpans":[');
write('json', 'value-kinds.json', jreq([jspan({ attributes: [
  { key: 's', value: { stringValue: 'x' } }, { key: 'b', value: { boolValue: true } }, { key: 'i', value: { intValue: '9007199254740993' } },
  { key: 'in', value: { intValue: 5 } }, { key: 'ibig', value: { intValue: 18446744073709551615 } }, { key: 'd', value: { doubleValue: 0.5 } },
  { key: 'dnan', value: { doubleValue: 'NaN' } }, { key: 'dinf', value: { doubleValue: 'Infinity' } }, { key: 'dstr', value: { doubleValue: '1.5' } },
  { key: 'arr', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '2' }, { arrayValue: { values: [] } }] } } },
  { key: 'kv', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } } },
  { key: 'bytes', value: { bytesValue: 'AAEC/w==' } }, { key: 'nullv', value: null }, { key: 'emptyv', value: {} },
  { key: 'raw', value: 42 }, { key: 'strnum', value: { stringValue: 5 } }, { noKey: 1 }, 'not-an-object',
] })]));
write('json', 'snake-case.json', j({ resource_spans: [{ scope_spans: [{ scope: { name: 'ai' }, spans: [{ trace_id: T, span_id: S,
  parent_span_id: C, start_time_unix_nano: 1700000000123456789, end_time_unix_nano: '0',
  attributes: [{ key: 'ai.operationId', value: { string_value: 'ai.toolCall' } }, { key: 'operation.name', value: { string_value: 'ai.toolCall' } },
    { key: 'ai.toolCall.name', value: { string_value: 'x' } }], status: { code: 'STATUS_CODE_ERROR', message: 'bad' } }] }] }] }));
write('json', 'base64-and-long-ids.json', jreq([
  jspan({ traceId: 'CvdlGRbNQ92ESOshHIAxnA==', spanId: 't61rcWkgMzE=', startTimeUnixNano: { high: 395812442, low: 123456789 } }),
  jspan({ traceId: T.toUpperCase(), spanId: C, parentSpanId: 't61rcWkgMzE', startTimeUnixNano: -1, endTimeUnixNano: 1.7e18 }),
  jspan({ traceId: 'zz', spanId: S }), jspan({ traceId: T, spanId: 'b7ad6b71692033' }), 5, null, [],
]));
write('json', 'events-and-status.json', jreq([jspan({ events: [
  { name: 'gen_ai.user.message', timeUnixNano: '5', attributes: [{ key: 'content', value: { stringValue: 'hi' } }] },
  { name: 'gen_ai.choice', time_unix_nano: 6, attributes: [{ key: 'message', value: { stringValue: '{"content":"yo"}' } }] }, 'x',
], status: { code: 2 } }), jspan({ spanId: C, parentSpanId: S, status: { code: 'STATUS_CODE_OK' }, events: {} })]));
write('json', 'nulls.json', j({ resourceSpans: [null, { resource: null, scopeSpans: null }, { scopeSpans: [null, { scope: null, spans: null }] },
  { scopeSpans: [{ spans: [jspan({ attributes: null, events: null, status: null, name: null, parentSpanId: null })] }] }] }));
write('json', 'deep-attribute-value.json', jreq([jspan({ attributes: [
  { key: 'langfuse.observation.model.parameters', value: { stringValue: '{"a":' + '['.repeat(300) + ']'.repeat(300) + '}' } },
  { key: 'gen_ai.input.messages', value: { stringValue: '[' + '{"a":'.repeat(200) + '1' + '}'.repeat(200) + ']' } },
  { key: 'gen_ai.system_instructions', value: { stringValue: '[{"content":[1,[2]]},"x",3]' } },
] })]));
write('json', 'keypath-nesting.json', jreq([jspan({ attributes: [
  { key: 'gen_ai.prompt.0.role', value: { stringValue: 'user' } }, { key: 'gen_ai.prompt.3.content', value: { stringValue: 'gap' } },
  { key: 'gen_ai.prompt.99999.content', value: { stringValue: 'far' } }, { key: 'gen_ai.prompt.x.y', value: { stringValue: 'obj' } },
  { key: 'gen_ai.prompt.0.content.0', value: { stringValue: 'conflict' } }, { key: 'gen_ai.prompt..', value: { stringValue: 'empty' } },
  { key: 'gen_ai.completion.0.constructor', value: { stringValue: 'no' } },
] })]));
write('json', 'numbers-as-strings.json', jreq([jspan({ attributes: [
  { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }, { key: 'gen_ai.request.model', value: { stringValue: 'm' } },
  { key: 'gen_ai.usage.input_tokens', value: { stringValue: '1e400' } }, { key: 'gen_ai.usage.output_tokens', value: { stringValue: '-5' } },
  { key: 'gen_ai.usage.cost', value: { stringValue: 'abc' } }, { key: 'langfuse.observation.prompt.version', value: { stringValue: '2.5' } },
  { key: 'langfuse.observation.prompt.name', value: { stringValue: 'p' } }, { key: 'ai.response.msToFirstChunk', value: { stringValue: '1e3' } },
  { key: 'langfuse.observation.completion_start_time', value: { stringValue: 'yesterday' } },
] })]));

// --- gzip edge cases -------------------------------------------------------------------------
const sample = Buffer.from(j({ resourceSpans: [] }));
write('gz', 'gzip-small', capped(1024, zlib.gzipSync(sample)));
write('gz', 'zlib-small', capped(1024, zlib.deflateSync(sample)));
write('gz', 'raw-deflate', capped(1024, zlib.deflateRawSync(sample)));
write('gz', 'gzip-empty-output', capped(0, zlib.gzipSync(Buffer.alloc(0))));
write('gz', 'gzip-cap-zero', capped(0, zlib.gzipSync(sample)));
write('gz', 'gzip-bomb', capped(65535, zlib.gzipSync(Buffer.alloc(1 << 20), { level: 9 })));
write('gz', 'gzip-exact-cap', capped(4096, zlib.gzipSync(Buffer.alloc(4096, 'a'))));
write('gz', 'gzip-truncated', capped(1024, zlib.gzipSync(sample).subarray(0, 15)));
write('gz', 'gzip-bad-crc', capped(1024, (() => { const b = Buffer.from(zlib.gzipSync(sample)); b[b.length - 6] ^= 0xff; return b; })()));
write('gz', 'gzip-two-members', capped(1024, Buffer.concat([zlib.gzipSync(sample), zlib.gzipSync(sample)])));
write('gz', 'gzip-trailing-garbage', capped(1024, Buffer.concat([zlib.gzipSync(sample), Buffer.from('garbage')])));
write('gz', 'gzip-header-fields', capped(1024, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3, 3, 0, 0xab, 0xcd]),
  Buffer.from('name\0comment\0'), zlib.gzipSync(sample).subarray(10)])));
write('gz', 'zlib-preset-dictionary', capped(1024, zlib.deflateSync(sample, { dictionary: Buffer.from('resourceSpans') })));
write('gz', 'not-compressed', capped(1024, sample));
write('gz', 'empty-body', capped(1024, Buffer.alloc(0)));
for (const d of Object.values(dirs)) console.log(`${d}: ${fs.readdirSync(path.join(root, d)).length} files`);
