// A small OpenAPI 3.0 schema validator for the conformance tests (no dependencies).
//
// Supported keywords: $ref (local "#/..." pointers; a `nullable: true` sibling is honoured, as
// Fern-generated documents such as Langfuse's rely on it), type (string, number, integer, boolean,
// array, object), nullable, enum, required, properties, additionalProperties (false, true or a
// schema), items, allOf, oneOf, anyOf (with `discriminator` when present), format: date-time.
//
// date-time values must be exactly what a JS Date serialises to, `YYYY-MM-DDTHH:mm:ss.sssZ`,
// and a real instant (that is how Langfuse answers; see docs/openapi.yml).
//
// Other keywords (minimum, pattern, ...) are ignored. Every error names the JSON path of the value
// ($ is the body) and what was expected versus what was found.

export const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function typeOf(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function short(value) {
  let text;
  try { text = JSON.stringify(value); } catch { text = String(value); }
  if (text === undefined) text = String(value);
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

function childPath(path, key) {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function typeMatches(type, value) {
  switch (type) {
    case 'string': return typeof value === 'string';
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'boolean': return typeof value === 'boolean';
    case 'array': return Array.isArray(value);
    case 'object': return value !== null && typeof value === 'object' && !Array.isArray(value);
    default: return false;
  }
}

/** Decodes one JSON-pointer token (~1 -> /, ~0 -> ~, percent-encoding). */
function pointerToken(token) {
  return decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Resolves a local reference "#/a/b" in doc; returns undefined when it points nowhere.
 * Only local references are supported; anything else resolves to undefined.
 */
export function resolvePointer(doc, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#')) return undefined;
  if (ref === '#') return doc;
  if (!ref.startsWith('#/')) return undefined;
  let node = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = pointerToken(raw);
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** Every `$ref` in doc that does not resolve: [{at, ref}]. */
export function unresolvedRefs(doc) {
  const out = [];
  const walk = (node, at) => {
    if (Array.isArray(node)) {
      node.forEach((x, i) => walk(x, `${at}[${i}]`));
    } else if (node && typeof node === 'object') {
      if (typeof node.$ref === 'string' && resolvePointer(doc, node.$ref) === undefined) out.push({ at, ref: node.$ref });
      for (const [k, v] of Object.entries(node)) if (k !== '$ref') walk(v, `${at}/${k}`);
    }
  };
  walk(doc, '#');
  return out;
}

/**
 * Validates value against schema (a node of doc). Returns a list of error strings, empty when
 * the value conforms. opts.maxErrors bounds the list (default 50).
 */
export function validate(doc, schema, value, path = '$', opts = {}) {
  const errors = [];
  const max = opts.maxErrors || 50;
  validateInto(doc, schema, value, path, errors, new Set());
  if (errors.length > max) return [...errors.slice(0, max), `... and ${errors.length - max} more`];
  return errors;
}

function validateInto(doc, schema, value, path, errors, refStack) {
  if (schema === undefined || schema === true || schema === null) return;
  if (schema === false) {
    errors.push(`${path}: no value is allowed here, got ${short(value)}`);
    return;
  }
  if (typeof schema !== 'object') {
    errors.push(`${path}: invalid schema ${short(schema)}`);
    return;
  }

  if (value === null && schema.nullable === true) return;

  if (typeof schema.$ref === 'string') {
    const target = resolvePointer(doc, schema.$ref);
    if (target === undefined) {
      errors.push(`${path}: schema reference ${schema.$ref} does not resolve`);
      return;
    }
    // A reference cycle on the same value would never end; values are finite trees, so the
    // same (ref, path) pair twice means the schema recursed without consuming input.
    const key = `${schema.$ref}@${path}`;
    if (refStack.has(key)) return;
    refStack.add(key);
    validateInto(doc, target, value, path, errors, refStack);
    refStack.delete(key);
    // Siblings of $ref (besides nullable and annotations) are applied too.
    const { $ref, nullable, description, title, example, ...rest } = schema;
    if (Object.keys(rest).length > 0) validateInto(doc, rest, value, path, errors, refStack);
    return;
  }

  if (value === null) {
    if (schema.type !== undefined) {
      errors.push(`${path}: expected ${schema.type}, got null (the schema is not nullable)`);
      return;
    }
    if (Array.isArray(schema.enum) && !schema.enum.includes(null)) {
      errors.push(`${path}: expected one of ${short(schema.enum)}, got null`);
      return;
    }
    // No type: null still has to satisfy allOf/oneOf/anyOf below.
  }

  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, value))) {
      const got = typeOf(value);
      const detail = typeof value === 'number' && !Number.isFinite(value) ? `${value}` : short(value);
      errors.push(`${path}: expected ${types.join('|')}, got ${got} ${detail}`);
      return;
    }
  }

  if (Array.isArray(schema.enum)) {
    const ok = schema.enum.some((e) => e === value || (typeof e === 'object' && short(e) === short(value)));
    if (!ok) errors.push(`${path}: expected one of ${short(schema.enum)}, got ${short(value)}`);
  }

  if (schema.format === 'date-time' && typeof value === 'string') {
    if (!DATE_TIME_RE.test(value)) {
      errors.push(`${path}: expected a date-time as YYYY-MM-DDTHH:mm:ss.sssZ, got ${short(value)}`);
    } else if (Number.isNaN(Date.parse(value)) || new Date(value).toISOString() !== value) {
      errors.push(`${path}: ${short(value)} is not a valid instant`);
    }
  }

  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  if (isObject) {
    if (Array.isArray(schema.required)) {
      for (const name of schema.required) {
        if (!Object.prototype.hasOwnProperty.call(value, name)) errors.push(`${childPath(path, name)}: required property is missing`);
      }
    }
    const props = schema.properties && typeof schema.properties === 'object' ? schema.properties : {};
    for (const [name, sub] of Object.entries(props)) {
      if (Object.prototype.hasOwnProperty.call(value, name)) validateInto(doc, sub, value[name], childPath(path, name), errors, refStack);
    }
    const extra = schema.additionalProperties;
    if (extra !== undefined && extra !== true) {
      for (const name of Object.keys(value)) {
        if (Object.prototype.hasOwnProperty.call(props, name)) continue;
        if (extra === false) errors.push(`${childPath(path, name)}: property is not allowed by the schema (additionalProperties: false)`);
        else validateInto(doc, extra, value[name], childPath(path, name), errors, refStack);
      }
    }
  }

  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, i) => validateInto(doc, schema.items, item, `${path}[${i}]`, errors, refStack));
  }

  if (Array.isArray(schema.allOf)) {
    for (const sub of schema.allOf) validateInto(doc, sub, value, path, errors, refStack);
  }

  for (const kind of ['oneOf', 'anyOf']) {
    if (!Array.isArray(schema[kind])) continue;
    if (schema.discriminator && typeof schema.discriminator.propertyName === 'string') {
      validateDiscriminated(doc, schema, kind, value, path, errors, refStack);
      continue;
    }
    const results = schema[kind].map((sub) => {
      const sink = [];
      validateInto(doc, sub, value, path, sink, refStack);
      return sink;
    });
    const matching = results.map((r, i) => (r.length === 0 ? i : -1)).filter((i) => i >= 0);
    if (matching.length === 0) {
      // Report the branch that came closest, so the message says what is actually wrong.
      let best = 0;
      results.forEach((r, i) => { if (r.length < results[best].length) best = i; });
      errors.push(`${path}: matches none of the ${results.length} ${kind} alternatives; closest is #${best}${describeBranch(schema[kind][best])}: ${results[best].join('; ')}`);
    } else if (kind === 'oneOf' && matching.length > 1) {
      errors.push(`${path}: matches ${matching.length} oneOf alternatives (#${matching.join(', #')}), exactly one is allowed`);
    }
  }
}

function describeBranch(sub) {
  if (sub && typeof sub.$ref === 'string') return ` (${sub.$ref})`;
  return '';
}

function validateDiscriminated(doc, schema, kind, value, path, errors, refStack) {
  const prop = schema.discriminator.propertyName;
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!isObject) {
    errors.push(`${path}: expected an object with discriminator ${prop}, got ${short(value)}`);
    return;
  }
  const tag = value[prop];
  if (typeof tag !== 'string') {
    errors.push(`${childPath(path, prop)}: discriminator must be a string, got ${short(tag)}`);
    return;
  }
  let target;
  const mapping = schema.discriminator.mapping || {};
  if (Object.prototype.hasOwnProperty.call(mapping, tag)) {
    const ref = mapping[tag].startsWith('#') ? mapping[tag] : `#/components/schemas/${mapping[tag]}`;
    target = { $ref: ref };
  } else {
    target = schema[kind].find((sub) => typeof sub.$ref === 'string' && sub.$ref.split('/').pop() === tag);
  }
  if (!target) {
    const known = [...Object.keys(mapping), ...schema[kind].filter((s) => s.$ref).map((s) => s.$ref.split('/').pop())];
    errors.push(`${childPath(path, prop)}: discriminator value ${short(tag)} is not one of ${short([...new Set(known)])}`);
    return;
  }
  validateInto(doc, target, value, path, errors, refStack);
}

/**
 * The response schema of an operation: {op, response, schema, status} or {missing: reason}.
 * Status lookup: the exact code, then "4XX"-style ranges, then "default".
 */
export function responseSchema(doc, path, method, status, contentType = 'application/json') {
  const item = doc?.paths?.[path];
  if (!item) return { missing: `path ${path} is not in the document` };
  const op = item[method.toLowerCase()];
  if (!op) return { missing: `${method.toUpperCase()} ${path} is not in the document (it has ${HTTP_METHODS.filter((m) => item[m]).map((m) => m.toUpperCase()).join(', ') || 'no operations'})` };
  const responses = op.responses || {};
  const code = String(status);
  const key = [code, `${code[0]}XX`, `${code[0]}xx`, 'default'].find((k) => Object.prototype.hasOwnProperty.call(responses, k));
  if (!key) return { op, missing: `status ${status} is not a documented response of ${method.toUpperCase()} ${path} (documented: ${Object.keys(responses).join(', ')})` };
  let response = responses[key];
  if (response && typeof response.$ref === 'string') response = resolvePointer(doc, response.$ref);
  const content = response?.content || {};
  const media = content[contentType] || Object.entries(content).find(([k]) => k.split(';')[0].trim() === contentType)?.[1];
  return { op, response, status: key, media, schema: media ? media.schema : undefined, hasContent: Object.keys(content).length > 0 };
}

/**
 * Structural checks of an OpenAPI 3.0 document (not a full meta-schema): version, info, paths
 * with operations that have responses, unique operationIds, declared path parameters, local
 * $refs that resolve. Returns a list of problems.
 */
export function checkOpenApiDocument(doc) {
  const problems = [];
  if (!doc || typeof doc !== 'object') return ['document is not an object'];
  if (typeof doc.openapi !== 'string' || !/^3\.0\.\d+$/.test(doc.openapi)) problems.push(`openapi must be "3.0.x", got ${short(doc.openapi)}`);
  if (!doc.info || typeof doc.info.title !== 'string' || typeof doc.info.version !== 'string') problems.push('info.title and info.version must be strings');
  if (!doc.paths || typeof doc.paths !== 'object') problems.push('paths must be an object');
  const operationIds = new Map();
  for (const [p, item] of Object.entries(doc.paths || {})) {
    if (!p.startsWith('/')) problems.push(`path ${p} must start with /`);
    const templated = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    const shared = (item.parameters || []).map((x) => (x.$ref ? resolvePointer(doc, x.$ref) : x));
    for (const m of HTTP_METHODS) {
      const op = item[m];
      if (!op) continue;
      const where = `${m.toUpperCase()} ${p}`;
      if (!op.responses || Object.keys(op.responses).length === 0) problems.push(`${where}: no responses`);
      for (const [code, r] of Object.entries(op.responses || {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(code)) problems.push(`${where}: bad response key ${code}`);
        const resolved = r && r.$ref ? resolvePointer(doc, r.$ref) : r;
        if (!resolved || typeof resolved.description !== 'string') problems.push(`${where} ${code}: a response needs a description`);
      }
      if (op.operationId) {
        if (operationIds.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} is also used by ${operationIds.get(op.operationId)}`);
        operationIds.set(op.operationId, where);
      }
      const params = [...shared, ...(op.parameters || []).map((x) => (x.$ref ? resolvePointer(doc, x.$ref) : x))];
      for (const prm of params) {
        if (!prm || typeof prm.name !== 'string' || !['query', 'header', 'path', 'cookie'].includes(prm.in)) {
          problems.push(`${where}: malformed parameter ${short(prm)}`);
          continue;
        }
        if (prm.in === 'path' && prm.required !== true) problems.push(`${where}: path parameter ${prm.name} must be required`);
        if (prm.in === 'path' && !templated.includes(prm.name)) problems.push(`${where}: path parameter ${prm.name} is not in the path`);
        if (!prm.schema && !prm.content) problems.push(`${where}: parameter ${prm.name} has no schema`);
      }
      for (const name of templated) {
        if (!params.some((x) => x && x.in === 'path' && x.name === name)) problems.push(`${where}: path parameter {${name}} is not declared`);
      }
    }
  }
  for (const { at, ref } of unresolvedRefs(doc)) problems.push(`${at}: $ref ${ref} does not resolve`);
  return problems;
}
