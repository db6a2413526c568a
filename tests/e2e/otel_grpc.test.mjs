// OpenTelemetry ingestion over OTLP/gRPC (TraceService/Export on LANGFUSE_OTLP_GRPC_PORT): the
// official @opentelemetry/exporter-trace-otlp-grpc exporter sending gen_ai.* spans with Basic
// auth metadata, read back through the public API; wrong or missing keys; malformed, oversized
// and gzip-compressed messages sent with a raw @grpc/grpc-js client.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import grpc from '@grpc/grpc-js';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ExportResultCode } from '@opentelemetry/core';
import { SpanStatusCode, trace, context } from '@opentelemetry/api';
import {
  startServer, cleanupTmp, api, pollTrace, show, withServerLogs, basicAuth, sleep,
} from './harness.mjs';
import { expectFields, isoBetween } from './expect.mjs';

let srv;
const it = withServerLogs(baseIt, () => [srv]);
const EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

before(async () => {
  srv = await startServer({ name: 'otel-grpc' });
  await srv.grpcReady();
});

after(async () => {
  if (srv) {
    await srv.stop();
    cleanupTmp(srv, it.failed);
  }
});

const byName = (t) => Object.fromEntries((t.observations || []).map((o) => [o.name, o]));
const hex = (bytes) => crypto.randomBytes(bytes).toString('hex');
const nsToMs = ([s, ns]) => s * 1000 + Math.floor(ns / 1e6);

function metadataWith(authorization) {
  const m = new grpc.Metadata();
  if (authorization !== null) m.set('authorization', authorization);
  return m;
}

function grpcExporter({ authorization = srv.auth, compression } = {}) {
  return new GrpcExporter({
    url: `http://${srv.grpcAddress}`,
    metadata: metadataWith(authorization),
    ...(compression ? { compression } : {}),
    timeoutMillis: 15_000,
  });
}

/**
 * Records a gen_ai agent run (root span, chat generation with model, usage, messages, a tool
 * call) in memory and returns the finished ReadableSpans plus what the test compares.
 */
function recordGenAiRun(label) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'genai-grpc-app', 'deployment.environment': 'grpc-env', 'service.version': '4.2' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('my.genai.instrumentation', '1.0.0');
  const root = tracer.startSpan(`invoke_agent ${label}`, {
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'user.id': `user-${label}`, 'session.id': `session-${label}` },
  });
  const ctx = trace.setSpan(context.active(), root);
  const chat = tracer.startSpan('chat gpt-4o-mini', {
    attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.temperature': 0.3, 'gen_ai.request.max_tokens': 256,
      'gen_ai.usage.input_tokens': 42, 'gen_ai.usage.output_tokens': 17,
      'gen_ai.input.messages': JSON.stringify([{ role: 'user', content: `ping ${label}` }]),
      'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', content: 'pong' }]),
      'custom.attribute': 'kept',
    },
  }, ctx);
  chat.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
  chat.end();
  const tool = tracer.startSpan('execute_tool lookup', {
    attributes: {
      'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'lookup', 'gen_ai.tool.call.id': 'call-1',
      'gen_ai.tool.call.arguments': '{"id":7}', 'gen_ai.tool.call.result': '{"found":true}',
    },
  }, ctx);
  tool.end();
  root.end();
  const spans = memory.getFinishedSpans();
  assert.equal(spans.length, 3);
  const find = (name) => spans.find((s) => s.name === name);
  return { spans, traceId: root.spanContext().traceId, root: find(`invoke_agent ${label}`), chat: find('chat gpt-4o-mini'), tool: find('execute_tool lookup') };
}

function exportSpans(exporter, spans) {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

// --- raw gRPC calls (bytes in, bytes out) ----------------------------------------------------
function rawCall(bytes, { authorization = srv.auth, method = EXPORT, gzip = false, metadata = {}, address = srv.grpcAddress } = {}) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(),
    gzip ? { 'grpc.default_compression_algorithm': 2 } : {});
  const md = metadataWith(authorization);
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, (b) => b, (b) => b, bytes, md, { deadline: Date.now() + 20_000 }, (err, response) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, response });
    });
  });
}

// A tiny protobuf writer for hand-made ExportTraceServiceRequests.
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
function pbSpan({ traceId, spanId, name, attrs = {} }) {
  const ns = BigInt(Date.now()) * 1_000_000n;
  const parts = [ld(1, Buffer.from(traceId, 'hex')), ld(2, Buffer.from(spanId, 'hex')), ld(5, Buffer.from(name)), fixed64(7, ns), fixed64(8, ns + 1_000_000n)];
  for (const [k, v] of Object.entries(attrs)) parts.push(ld(9, Buffer.concat([ld(1, Buffer.from(k)), ld(2, ld(1, Buffer.from(String(v))))])));
  return Buffer.concat(parts);
}
const pbRequest = (spans) => ld(1, ld(2, Buffer.concat(spans.map((s) => ld(2, pbSpan(s))))));

/** One span over gRPC, then waits until it is readable: everything enqueued before it is too. */
async function barrier() {
  const traceId = hex(16);
  const res = await rawCall(pbRequest([{ traceId, spanId: hex(8), name: 'barrier' }]));
  assert.equal(res.code, grpc.status.OK, res.details);
  const read = await pollTrace(srv, traceId);
  assert.equal(read.status, 200, show(read));
}

async function expectNotStored(traceId) {
  await barrier();
  const res = await api(srv, 'GET', `/api/public/traces/${traceId}`);
  assert.equal(res.status, 404, `trace ${traceId} must not exist: ${show(res)}`);
}

async function grpcCallCount(outcome) {
  const res = await api(srv, 'GET', '/metrics', { auth: null });
  const m = res.text.match(new RegExp(`^langfuse_otel_grpc_calls_total\\{outcome="${outcome}"\\} (\\d+)`, 'm'));
  return m ? Number(m[1]) : 0;
}

// ---------------------------------------------------------------------------------------------
describe('official OTLP/gRPC exporter', () => {
  for (const compression of [undefined, 'gzip']) {
    const label = compression ? 'gzip' : 'plain';
    it(`${label}: root span, generation and tool read back field by field`, async () => {
      const run = recordGenAiRun(label);
      const exporter = grpcExporter({ compression });
      const result = await exportSpans(exporter, run.spans);
      await exporter.shutdown();
      assert.equal(result.code, ExportResultCode.SUCCESS, String(result.error));

      const res = await pollTrace(srv, run.traceId, (t) => (t.observations || []).length === 3 && t.userId === `user-${label}`);
      assert.equal(res.status, 200, show(res));
      const t = res.json;
      const rootStart = nsToMs(run.root.startTime);
      expectFields(t, {
        id: run.traceId, name: `invoke_agent ${label}`, userId: `user-${label}`, sessionId: `session-${label}`,
        environment: 'grpc-env', version: '4.2', timestamp: isoBetween(rootStart - 1, rootStart + 1),
      }, 'trace');
      const o = byName(t);
      const g = o['chat gpt-4o-mini'];
      expectFields(g, {
        id: run.chat.spanContext().spanId, traceId: run.traceId, type: 'GENERATION',
        parentObservationId: run.root.spanContext().spanId, model: 'gpt-4o-mini',
        input: [{ role: 'user', content: `ping ${label}` }], output: [{ role: 'assistant', content: 'pong' }],
        level: 'ERROR', statusMessage: 'rate limited', environment: 'grpc-env',
        startTime: isoBetween(nsToMs(run.chat.startTime) - 1, nsToMs(run.chat.startTime) + 1),
        endTime: isoBetween(nsToMs(run.chat.endTime) - 1, nsToMs(run.chat.endTime) + 1),
      }, 'generation');
      assert.deepEqual({ input: g.usageDetails?.input, output: g.usageDetails?.output, total: g.usageDetails?.total },
        { input: 42, output: 17, total: 59 }, JSON.stringify(g.usageDetails));
      assert.equal(String(g.modelParameters?.temperature), '0.3', JSON.stringify(g.modelParameters));
      const attrs = typeof g.metadata?.attributes === 'string' ? JSON.parse(g.metadata.attributes) : g.metadata?.attributes;
      assert.equal(attrs?.['custom.attribute'], 'kept', JSON.stringify(g.metadata));
      expectFields(o['lookup'], {
        id: run.tool.spanContext().spanId, type: 'TOOL', parentObservationId: run.root.spanContext().spanId,
        input: { id: 7 }, output: { found: true },
      }, 'tool');
      expectFields(o[`invoke_agent ${label}`], { type: 'AGENT', parentObservationId: null }, 'root');
    });
  }

  it('wrong secret or no authorization: UNAUTHENTICATED, nothing stored', async () => {
    const refusedBefore = await grpcCallCount('unauthenticated');
    const wrong = recordGenAiRun('wrong-key');
    const wrongExporter = grpcExporter({ authorization: basicAuth(srv.publicKey, 'sk-lf-not-the-secret') });
    const r1 = await exportSpans(wrongExporter, wrong.spans);
    await wrongExporter.shutdown();
    assert.equal(r1.code, ExportResultCode.FAILED);
    assert.equal(r1.error?.code, grpc.status.UNAUTHENTICATED, String(r1.error));
    assert.match(r1.error.details, /Invalid credentials/);

    const none = recordGenAiRun('no-key');
    const noneExporter = grpcExporter({ authorization: null });
    const r2 = await exportSpans(noneExporter, none.spans);
    await noneExporter.shutdown();
    assert.equal(r2.error?.code, grpc.status.UNAUTHENTICATED, String(r2.error));
    assert.match(r2.error.details, /authorization/);

    const bearer = await rawCall(pbRequest([{ traceId: hex(16), spanId: hex(8), name: 'x' }]), { authorization: `Bearer ${srv.publicKey}` });
    assert.equal(bearer.code, grpc.status.PERMISSION_DENIED, bearer.details);

    assert.equal(await grpcCallCount('unauthenticated'), refusedBefore + 2);
    await expectNotStored(wrong.traceId);
    await expectNotStored(none.traceId);
  });
});

// ---------------------------------------------------------------------------------------------
describe('raw gRPC calls', () => {
  it('malformed bytes: INVALID_ARGUMENT, nothing stored, server keeps serving', async () => {
    const garbage = await rawCall(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]));
    assert.equal(garbage.code, grpc.status.INVALID_ARGUMENT, garbage.details);
    assert.ok(garbage.details.length > 0);

    const traceId = hex(16);
    const good = pbRequest([{ traceId, spanId: hex(8), name: 'trunc' }]);
    const truncated = await rawCall(good.subarray(0, good.length - 5));
    assert.equal(truncated.code, grpc.status.INVALID_ARGUMENT, truncated.details);

    const version = await rawCall(good, { metadata: { 'x-langfuse-ingestion-version': '5' } });
    assert.equal(version.code, grpc.status.INVALID_ARGUMENT);
    assert.match(version.details, /Maximum supported/);

    const other = await rawCall(Buffer.alloc(0), { method: '/opentelemetry.proto.collector.logs.v1.LogsService/Export' });
    assert.equal(other.code, grpc.status.UNIMPLEMENTED);

    await expectNotStored(traceId);
  });

  it('partial success: invalid ids rejected per span, the rest stored', async () => {
    const traceId = hex(16);
    const res = await rawCall(pbRequest([{ traceId, spanId: hex(8), name: 'good' }, { traceId: 'abcd', spanId: hex(8), name: 'bad' }]));
    assert.equal(res.code, grpc.status.OK, res.details);
    // ExportTraceServiceResponse{partial_success(1){rejected_spans(1)=1, error_message(2)}}
    assert.equal(res.response[0], 0x0a);
    assert.equal(res.response[2], 0x08);
    assert.equal(res.response[3], 1);
    assert.ok(res.response.length > 6, 'error_message present');
    const read = await pollTrace(srv, traceId, (t) => (t.observations || []).length === 1);
    assert.equal(read.status, 200, show(read));
    assert.equal(read.json.observations[0].name, 'good');
  });

  it('gzip-compressed message is accepted', async () => {
    const traceId = hex(16);
    const res = await rawCall(pbRequest([{ traceId, spanId: hex(8), name: 'gz', attrs: { 'input.value': 'y'.repeat(50_000) } }]), { gzip: true });
    assert.equal(res.code, grpc.status.OK, res.details);
    const read = await pollTrace(srv, traceId, (t) => (t.observations || []).length === 1);
    assert.equal(read.status, 200, show(read));
    assert.equal(read.json.input, 'y'.repeat(50_000));
  });

  it('messages above 20 MiB (also once inflated): RESOURCE_EXHAUSTED', async () => {
    const traceId = hex(16);
    const big = pbRequest([{ traceId, spanId: hex(8), name: 'big', attrs: { 'input.value': 'z'.repeat(21 * 1024 * 1024) } }]);
    const plain = await rawCall(big);
    assert.equal(plain.code, grpc.status.RESOURCE_EXHAUSTED, plain.details);
    const bomb = await rawCall(big, { gzip: true });
    assert.equal(bomb.code, grpc.status.RESOURCE_EXHAUSTED, bomb.details);
    assert.ok(zlib.gzipSync(big).length < 1024 * 1024, 'the compressed message itself is small');
    await expectNotStored(traceId);
  });
});

// ---------------------------------------------------------------------------------------------
describe('LANGFUSE_OTLP_GRPC_PORT', () => {
  it('0 picks a free port and logs it', async () => {
    let other;
    try {
      other = await startServer({ name: 'otel-grpc-port0', env: { LANGFUSE_OTLP_GRPC_PORT: '0' } });
      let port = null;
      for (let i = 0; i < 100 && port === null; i++) {
        const m = fs.readFileSync(other.logPath, 'utf8').match(/OTLP\/gRPC trace receiver listening on 127\.0\.0\.1:(\d+)/);
        if (m) port = Number(m[1]);
        else await sleep(50);
      }
      assert.ok(port > 0, other.logTail());
      const traceId = hex(16);
      const res = await rawCall(pbRequest([{ traceId, spanId: hex(8), name: 'port0' }]), { address: `127.0.0.1:${port}`, authorization: other.auth });
      assert.equal(res.code, grpc.status.OK, res.details);
      const read = await pollTrace(other, traceId);
      assert.equal(read.status, 200, show(read));
    } finally {
      if (other) {
        await other.stop();
        cleanupTmp(other, it.failed);
      }
    }
  });
});
