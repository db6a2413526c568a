// Input/output rendering: chat messages when the value is chat-shaped, else a collapsible JSON tree
// whose long strings are cut with "show more".
import { useState } from 'preact/hooks';

const LONG_STRING = 600;
const ARRAY_PAGE = 100;

interface ChatMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: unknown;
  [key: string]: unknown;
}

function isMessage(value: unknown): value is ChatMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as ChatMessage).role === 'string' &&
    ('content' in value || 'tool_calls' in value)
  );
}

/** The messages of a chat-shaped value ([{role, content}], {messages: [...]}, or one message), else null. */
export function chatMessages(value: unknown): ChatMessage[] | null {
  if (Array.isArray(value)) return value.length > 0 && value.every(isMessage) ? value : null;
  if (typeof value === 'object' && value !== null) {
    const messages = (value as { messages?: unknown }).messages;
    if (Array.isArray(messages) && messages.length > 0 && messages.every(isMessage)) return messages;
    if (isMessage(value)) return [value];
  }
  return null;
}

function LongText({ text }: { text: string }) {
  const [all, setAll] = useState(false);
  if (text.length <= LONG_STRING || all) return <span class="text">{text}</span>;
  return (
    <span class="text">
      {text.slice(0, LONG_STRING)}…{' '}
      <button type="button" class="link" onClick={() => setAll(true)}>
        show more ({(text.length - LONG_STRING).toLocaleString()} more characters)
      </button>
    </span>
  );
}

function MessageContent({ content }: { content: unknown }) {
  if (typeof content === 'string') return <LongText text={content} />;
  if (Array.isArray(content)) {
    return (
      <>
        {content.map((part) => {
          if (part && typeof part === 'object') {
            const p = part as { type?: string; text?: unknown; image_url?: { url?: string } | string };
            if (p.type === 'text' && typeof p.text === 'string') return <p><LongText text={p.text} /></p>;
            if (p.type === 'image_url') {
              const url = typeof p.image_url === 'string' ? p.image_url : p.image_url?.url;
              return <p class="muted">[image] {url && url.length > 200 ? `${url.slice(0, 200)}…` : url}</p>;
            }
          }
          return <JsonView value={part} />;
        })}
      </>
    );
  }
  if (content === null || content === undefined) return null;
  return <JsonView value={content} />;
}

export function ChatView({ messages }: { messages: ChatMessage[] }) {
  return (
    <div role="list" aria-label="Messages" class="messages">
      {messages.map((m) => {
        const { role, content, name, tool_calls, ...rest } = m;
        return (
          <div role="listitem">
            <article class={`message role-${role}`} aria-label={`${role} message`}>
              <header>
                {role}
                {typeof name === 'string' ? ` · ${name}` : ''}
              </header>
              <MessageContent content={content} />
              {tool_calls !== undefined && tool_calls !== null && (
                <div>
                  <span class="muted">tool calls</span>
                  <JsonView value={tool_calls} />
                </div>
              )}
              {Object.keys(rest).length > 0 && <JsonView value={rest} collapsed />}
            </article>
          </div>
        );
      })}
    </div>
  );
}

/** Input or output: chat when chat-shaped, a plain string as text, anything else as JSON. */
export function IOView({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <p class="muted">none</p>;
  const messages = chatMessages(value);
  if (messages) return <ChatView messages={messages} />;
  if (typeof value === 'string') {
    return (
      <pre class="io">
        <LongText text={value} />
      </pre>
    );
  }
  return <JsonView value={value} />;
}

export function JsonView({ value, collapsed = false }: { value: unknown; collapsed?: boolean }) {
  return (
    <div class="json">
      <JsonNode value={value} depth={collapsed ? 99 : 0} />
    </div>
  );
}

function JsonNode({ value, depth, label }: { value: unknown; depth: number; label?: string }) {
  const [open, setOpen] = useState(depth < 3);
  const [shown, setShown] = useState(ARRAY_PAGE);
  const key = label !== undefined ? <span class="key">{label}: </span> : null;
  if (value === null || typeof value !== 'object') {
    let rendered;
    if (typeof value === 'string') rendered = <span class="str">"<LongText text={value} />"</span>;
    else if (typeof value === 'number') rendered = <span class="num">{String(value)}</span>;
    else if (typeof value === 'boolean') rendered = <span class="bool">{String(value)}</span>;
    else rendered = <span class="null">null</span>;
    return (
      <div class="jline">
        {key}
        {rendered}
      </div>
    );
  }
  const isArray = Array.isArray(value);
  const entries: [string, unknown][] = isArray ? (value as unknown[]).map((v, i) => [String(i), v]) : Object.entries(value);
  const [openMark, closeMark] = isArray ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    return (
      <div class="jline">
        {key}
        {openMark}
        {closeMark}
      </div>
    );
  }
  return (
    <div class="jnode">
      <button type="button" class="jtoggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        {key}
        {openMark}
        {!open && ` ${entries.length} ${isArray ? 'items' : 'keys'} ${closeMark}`}
      </button>
      {open && (
        <div class="jchildren">
          {entries.slice(0, shown).map(([k, v]) => (
            <JsonNode value={v} depth={depth + 1} label={k} />
          ))}
          {entries.length > shown && (
            <button type="button" class="link" onClick={() => setShown(shown + ARRAY_PAGE)}>
              show more ({entries.length - shown} more)
            </button>
          )}
          <div class="jline">{closeMark}</div>
        </div>
      )}
    </div>
  );
}
