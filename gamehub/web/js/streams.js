// Server-Sent Event streams with single-use tickets. EventSource cannot send headers, so each
// (re)connection first gets a ticket; and a new EventSource would not send Last-Event-ID by
// itself, so on an error the source is closed and reopened here with `?last_event_id=`.
import { ApiError, post, signedOut } from "./api.js";
import { emit } from "./bus.js";

const open = new Set();

function broadcast() {
  const states = [...open].map((stream) => stream.state);
  let overall = "offline";
  if (states.length) {
    overall = states.every((state) => state === "connected") ? "connected" : "reconnecting";
  }
  emit("connection", { overall, streams: [...open].map((s) => ({ name: s.name, state: s.state })) });
}

export class Stream {
  /**
   * @param {string} name shown in the connection status
   * @param {string} path e.g. "/events"
   * @param {string[]} types the event types to listen to
   * @param {(type: string, data: object, id: number|null) => void} onEvent gets the id as a
   *   number where it is one (a room's seq); other streams' ids are opaque (`<epoch>-<offset>`)
   */
  constructor(name, path, types, onEvent, { from = null, onState = () => {} } = {}) {
    this.name = name;
    this.path = path;
    this.types = types;
    this.onEvent = onEvent;
    this.onState = onState;
    // null: start with a snapshot; an id (kept as the server sent it): everything after it
    this.lastId = from === null ? null : String(from);
    this.state = "connecting";
    this.source = null;
    this.timer = null;
    this.failures = 0;
    this.closed = false;
  }

  start() {
    open.add(this);
    this.connect();
    return this;
  }

  setState(state) {
    this.state = state;
    this.onState(state);
    broadcast();
  }

  async connect() {
    if (this.closed) return;
    this.setState(this.failures ? "reconnecting" : "connecting");
    let ticket;
    try {
      ticket = (await post("/auth/stream-ticket")).ticket;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        signedOut();
        return;
      }
      this.retry();
      return;
    }
    if (this.closed) return;
    const params = new URLSearchParams({ ticket });
    if (this.lastId !== null) params.set("last_event_id", this.lastId);
    const source = new EventSource(`${this.path}?${params}`);
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.setState("connected");
    };
    source.onerror = () => {
      source.close();
      if (this.source === source) this.retry();
    };
    for (const type of this.types) {
      source.addEventListener(type, (message) => {
        if (message.lastEventId !== "") this.lastId = message.lastEventId;
        const id = /^[0-9]+$/.test(message.lastEventId) ? Number(message.lastEventId) : null;
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        this.onEvent(type, data, id);
      });
    }
  }

  retry() {
    if (this.closed) return;
    this.source = null;
    this.failures += 1;
    this.setState("reconnecting");
    // Back off 0.5 s, 1 s, 2 s … up to 10 s, with jitter so a restarted server is not stampeded.
    const delay = Math.min(10000, 500 * 2 ** Math.min(this.failures - 1, 5));
    this.timer = setTimeout(() => this.connect(), delay * (0.75 + Math.random() * 0.5));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
    open.delete(this);
    this.setState("closed");
  }
}

export function closeAll() {
  for (const stream of [...open]) stream.close();
}

export function showState(node, state) {
  const label = { connected: "live", connecting: "connecting…", reconnecting: "reconnecting…" };
  node.dataset.state = state;
  node.textContent = label[state] || "offline";
}
