// OpenTelemetry ingestion (POST /api/public/otel/v1/traces, contracts §6): the official Langfuse
// JS SDK v5 (@langfuse/tracing + @langfuse/otel), plain OpenTelemetry exporters (protobuf and
// JSON) sending gen_ai.* spans, and bad input. Spans are read back through the public API.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { SpanStatusCode } from '@opentelemetry/api';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import { startActiveObservation, propagateAttributes, setLangfuseTracerProvider } from '@langfuse/tracing';
import { startServer, cleanupTmp, api, pollTrace, show, withServerLogs } from './harness.mjs';

let srv;
const it = withServerLogs(baseIt, () => [srv]);
const TRACES = '/api/public/otel/v1/traces';

before(async () => {
  srv = await startServer({ name: 'otel' });
});

after(async () => {
  if (srv) {
    await srv.stop();
    cleanupTmp(srv, it.failed);
  }
});

const byName = (t) => Object.fromEntries((t.observations || []).map((o) => [o.name, o]));
const hex = (bytes) => crypto.randomBytes(bytes).toString('hex');

// --- a tiny protobuf writer for hand-made OTLP requests --------------------------------------
function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
const ld = (field, buf) => Buffer.concat([varint((field << 3) | 2), varint(buf.length), buf]);
const fixed64 = (field, n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return Buffer.concat([varint((field << 3) | 1), b]); };
function pbSpan({ traceId, spanId, parentSpanId, name, attrs = {} }) {
  const parts = [ld(1, Buffer.from(traceId, 'hex')), ld(2, Buffer.from(spanId, 'hex'))];
  if (parentSpanId) parts.push(ld(4, Buffer.from(parentSpanId, 'hex')));
  parts.push(ld(5, Buffer.from(name)));
  const ns = BigInt(Date.now()) * 1_000_000n;
  parts.push(fixed64(7, ns), fixed64(8, ns + 5_000_000n));
  for (const [k, v] of Object.entries(attrs)) parts.push(ld(9, Buffer.concat([ld(1, Buffer.from(k)), ld(2, ld(1, Buffer.from(String(v))))])));
  return Buffer.concat(parts);
}
const pbRequest = (spans) => ld(1, ld(2, Buffer.concat(spans.map((s) => ld(2, pbSpan(s))))));

async function postOtel(body, { contentType = 'application/x-protobuf', encoding, headers = {} } = {}) {
  const h = { 'Content-Type': contentType, ...headers };
  if (encoding) h['Content-Encoding'] = encoding;
  const res = await fetch(srv.baseUrl + TRACES, { method: 'POST', headers: { Authorization: srv.auth, ...h }, body });
  const buf = Buffer.from(await res.arrayBuffer());
  let json;
  try { json = JSON.parse(buf.toString('utf8')); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, buf, text: buf.toString('utf8'), json };
}

// ---------------------------------------------------------------------------------------------
describe('Langfuse JS SDK v5 (@langfuse/tracing + @langfuse/otel)', () => {
  it('nested span, agent, generation and tool with trace attributes read back field by field', async () => {
    const processor = new LangfuseSpanProcessor({
      publicKey: srv.publicKey, secretKey: srv.secretKey, baseUrl: srv.baseUrl,
      environment: 'e2e-env', release: 'rel-42', exportMode: 'immediate',
    });
    const provider = new NodeTracerProvider({ spanProcessors: [processor] });
    provider.register();
    setLangfuseTracerProvider(provider);
    let traceId;
    let ids = {};
    const t0 = Date.now();
    await propagateAttributes(
      { userId: 'user-e2e', sessionId: 'sess-e2e', tags: ['t2', 't1'], traceName: 'otel-e2e-trace', metadata: { team: 'core' }, version: 'v9' },
      () => startActiveObservation('root-request', async (root) => {
        traceId = root.traceId;
        ids.root = root.id;
        root.update({ input: { question: 'what?' } });
        await startActiveObservation('agent-step', async (agent) => {
          ids.agent = agent.id;
          agent.update({ input: { task: 'answer' } });
          await startActiveObservation('llm-call', async (gen) => {
            ids.gen = gen.id;
            gen.update({
              model: 'gpt-4o', input: [{ role: 'user', content: 'hi' }], modelParameters: { temperature: 0.2 },
              usageDetails: { input: 10, output: 5 },
            });
            gen.update({ output: { role: 'assistant', content: 'hello' } });
          }, { asType: 'generation' });
          await startActiveObservation('search-tool', async (tool) => {
            ids.tool = tool.id;
            tool.update({ input: { q: 'x' }, output: { hits: 3 } });
          }, { asType: 'tool' });
          agent.update({ output: 'done' });
        }, { asType: 'agent' });
        root.update({ output: { answer: 42 } });
      }),
    );
    await processor.forceFlush();
    await provider.shutdown();
    const t1 = Date.now();

    const res = await pollTrace(srv, traceId, (t) => (t.observations || []).length === 4 && t.name === 'otel-e2e-trace');
    assert.equal(res.status, 200, show(res));
    const t = res.json;
    assert.equal(t.id, traceId);
    assert.equal(t.name, 'otel-e2e-trace');
    assert.equal(t.userId, 'user-e2e');
    assert.equal(t.sessionId, 'sess-e2e');
    assert.deepEqual([...t.tags].sort(), ['t1', 't2']);
    assert.equal(t.environment, 'e2e-env');
    assert.equal(t.release, 'rel-42');
    assert.equal(t.version, 'v9');
    assert.deepEqual(t.input, { question: 'what?' });
    assert.deepEqual(t.output, { answer: 42 });
    assert.equal(t.metadata?.team, 'core', JSON.stringify(t.metadata));
    assert.ok(Date.parse(t.timestamp) >= t0 - 1000 && Date.parse(t.timestamp) <= t1, t.timestamp);

    const o = byName(t);
    assert.equal(o['root-request'].type, 'SPAN');
    assert.equal(o['root-request'].id, ids.root);
    assert.equal(o['root-request'].parentObservationId, null);
    assert.equal(o['agent-step'].type, 'AGENT');
    assert.equal(o['agent-step'].parentObservationId, ids.root);
    assert.deepEqual(o['agent-step'].input, { task: 'answer' });
    assert.equal(o['agent-step'].output, 'done');
    const g = o['llm-call'];
    assert.equal(g.type, 'GENERATION');
    assert.equal(g.id, ids.gen);
    assert.equal(g.parentObservationId, ids.agent);
    assert.equal(g.model, 'gpt-4o');
    assert.deepEqual(g.input, [{ role: 'user', content: 'hi' }]);
    assert.deepEqual(g.output, { role: 'assistant', content: 'hello' });
    assert.equal(g.usageDetails?.input, 10, JSON.stringify(g));
    assert.equal(g.usageDetails?.output, 5);
    assert.equal(g.usageDetails?.total, 15);
    assert.equal(String(g.modelParameters?.temperature), '0.2');
    assert.equal(g.environment, 'e2e-env');
    assert.equal(g.level, 'DEFAULT');
    assert.equal(o['search-tool'].type, 'TOOL');
    assert.equal(o['search-tool'].parentObservationId, ids.agent);
    assert.deepEqual(o['search-tool'].output, { hits: 3 });
    for (const ob of t.observations) {
      assert.equal(ob.traceId, traceId);
      assert.ok(ob.endTime && Date.parse(ob.endTime) >= Date.parse(ob.startTime), JSON.stringify(ob));
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('plain OpenTelemetry exporters with gen_ai.* spans', () => {
  for (const [label, Exporter] of [['protobuf', ProtoExporter], ['json', JsonExporter]]) {
    it(`${label} exporter`, async () => {
      const exporter = new Exporter({ url: srv.baseUrl + TRACES, headers: { Authorization: srv.auth } });
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': 'genai-app', 'deployment.environment': 'qa', 'service.version': '3.1' }),
        spanProcessors: [new SimpleSpanProcessor(exporter)],
      });
      const tracer = provider.getTracer('my.genai.instrumentation', '1.0.0');
      const root = tracer.startSpan('invoke_agent planner', { attributes: { 'gen_ai.operation.name': 'invoke_agent', 'user.id': `u-${label}` } });
      const traceId = root.spanContext().traceId;
      const { trace, context } = await import('@opentelemetry/api');
      const ctx = trace.setSpan(context.active(), root);
      const chat = tracer.startSpan('chat gpt-4o-mini', {
        attributes: {
          'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.request.temperature': 0.7,
          'gen_ai.usage.input_tokens': 21, 'gen_ai.usage.output_tokens': 9,
          'gen_ai.input.messages': JSON.stringify([{ role: 'user', content: 'ping' }]),
          'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', content: 'pong' }]),
          'custom.unknown.attribute': 'kept',
        },
      }, ctx);
      chat.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
      chat.end();
      const tool = tracer.startSpan('execute_tool lookup', {
        attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'lookup', 'gen_ai.tool.call.arguments': '{"id":1}' },
      }, ctx);
      tool.end();
      root.end();
      await provider.forceFlush();
      await provider.shutdown();

      const res = await pollTrace(srv, traceId, (t) => (t.observations || []).length === 3 && t.userId === `u-${label}`);
      assert.equal(res.status, 200, show(res));
      const t = res.json;
      assert.equal(t.name, 'invoke_agent planner');
      assert.equal(t.environment, 'qa');
      assert.equal(t.version, '3.1');
      const o = byName(t);
      const chatObs = o['chat gpt-4o-mini'];
      assert.equal(chatObs.type, 'GENERATION');
      assert.equal(chatObs.model, 'gpt-4o-mini');
      assert.equal(chatObs.level, 'ERROR');
      assert.equal(chatObs.statusMessage, 'rate limited');
      assert.equal(chatObs.usageDetails?.input, 21);
      assert.equal(chatObs.usageDetails?.output, 9);
      assert.deepEqual(chatObs.input, [{ role: 'user', content: 'ping' }]);
      assert.deepEqual(chatObs.output, [{ role: 'assistant', content: 'pong' }]);
      const attrs = typeof chatObs.metadata?.attributes === 'string' ? JSON.parse(chatObs.metadata.attributes) : chatObs.metadata?.attributes;
      assert.equal(attrs?.['custom.unknown.attribute'], 'kept', JSON.stringify(chatObs.metadata));
      const resAttrs = typeof chatObs.metadata?.resourceAttributes === 'string' ? JSON.parse(chatObs.metadata.resourceAttributes) : chatObs.metadata?.resourceAttributes;
      assert.equal(resAttrs?.['service.name'], 'genai-app');
      assert.equal(o['lookup'].type, 'TOOL');
      assert.deepEqual(o['lookup'].input, { id: 1 });
      assert.equal(o['invoke_agent planner'].type, 'AGENT');
    });
  }
});

// ---------------------------------------------------------------------------------------------
describe('transport and bad input', () => {
  it('protobuf answer is an ExportTraceServiceResponse; gzip works', async () => {
    const traceId = hex(16);
    const body = pbRequest([{ traceId, spanId: hex(8), name: 'gz-root' }]);
    const res = await postOtel(zlib.gzipSync(body), { encoding: 'gzip' });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type'), /application\/x-protobuf/);
    assert.equal(res.buf.length, 0, 'no partial_success when every span was accepted');
    const read = await pollTrace(srv, traceId, (t) => (t.observations || []).length === 1);
    assert.equal(read.status, 200, show(read));
    assert.equal(read.json.name, 'gz-root');
  });

  it('JSON with charset and empty resourceSpans', async () => {
    const res = await postOtel(JSON.stringify({ resourceSpans: [] }), { contentType: 'application/json; charset=utf-8' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {});
  });

  it('invalid ids are rejected per span (partial success), the rest accepted', async () => {
    const traceId = hex(16);
    const good = { traceId, spanId: hex(8), name: 'good' };
    const bad = { traceId: 'abcd', spanId: hex(8), name: 'bad' };
    const res = await postOtel(pbRequest([good, bad]));
    assert.equal(res.status, 200, res.text);
    // ExportTraceServiceResponse{partial_success(1){rejected_spans(1)=1, error_message(2)}}
    assert.equal(res.buf[0], 0x0a);
    assert.equal(res.buf[2], 0x08);
    assert.equal(res.buf[3], 1);
    const jsonRes = await postOtel(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'not-hex', spanId: 'zz', name: 'x' }] }] }] }), { contentType: 'application/json' });
    assert.equal(jsonRes.status, 200);
    assert.equal(String(jsonRes.json?.partialSuccess?.rejectedSpans), '1', jsonRes.text);
    const read = await pollTrace(srv, traceId, (t) => (t.observations || []).length === 1);
    assert.equal(read.status, 200, show(read));
  });

  it('span whose parent is not in the batch still creates its trace', async () => {
    const traceId = hex(16);
    const parent = hex(8);
    const res = await postOtel(pbRequest([{ traceId, spanId: hex(8), parentSpanId: parent, name: 'orphan', attrs: { 'weird.attr': 'x' } }]));
    assert.equal(res.status, 200, res.text);
    const read = await pollTrace(srv, traceId, (t) => (t.observations || []).length === 1);
    assert.equal(read.status, 200, show(read));
    assert.equal(read.json.observations[0].parentObservationId, parent);
  });

  it('refuses bad bodies with a JSON error and stays healthy', async () => {
    const body = pbRequest([{ traceId: hex(16), spanId: hex(8), name: 'trunc' }]);
    const truncated = await postOtel(body.subarray(0, body.length - 5));
    assert.equal(truncated.status, 400, truncated.text);
    assert.ok(truncated.json?.error, truncated.text);

    const wrongType = await postOtel('hello', { contentType: 'text/plain' });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.json?.error, 'Invalid content type');

    const badJson = await postOtel('{not json', { contentType: 'application/json' });
    assert.equal(badJson.status, 400);

    const badGzip = await postOtel(Buffer.from('not gzip'), { encoding: 'gzip' });
    assert.equal(badGzip.status, 400);

    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const bombRes = await postOtel(bomb, { encoding: 'gzip' });
    assert.equal(bombRes.status, 413, bombRes.text);
    assert.ok(bombRes.json?.error);

    const version = await postOtel(body, { headers: { 'x-langfuse-ingestion-version': '5' } });
    assert.equal(version.status, 400);

    const noAuth = await fetch(srv.baseUrl + TRACES, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(noAuth.status, 401);

    const metrics = await api(srv, 'POST', '/api/public/otel/v1/metrics', { body: { resourceMetrics: [] } });
    assert.equal(metrics.status, 200);

    const health = await api(srv, 'GET', '/api/public/health');
    assert.equal(health.status, 200);
    const traceId = hex(16);
    const ok = await postOtel(pbRequest([{ traceId, spanId: hex(8), name: 'after-bad' }]));
    assert.equal(ok.status, 200);
    const read = await pollTrace(srv, traceId);
    assert.equal(read.status, 200, show(read));
  });
});
