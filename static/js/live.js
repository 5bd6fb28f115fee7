// A live event stream over a WebSocket: reconnects with backoff and resumes where it left
// off, so the page sees every event once, in order, across network drops and restarts.
//
//   const live = new LiveStream("/ws/dashboard/", { after: 42, onEvent, onStatus });
//   live.start();

const NO_RETRY = new Set([4401, 4403]); // not signed in, not allowed: retrying cannot help
const RELOAD = new Set([4409]); // access changed: the page itself must be fetched again

export class LiveStream {
  constructor(path, { after = 0, onEvent, onPresence, onError, onStatus } = {}) {
    this.path = path;
    this.after = Number(after) || 0;
    this.onEvent = onEvent || (() => {});
    this.onPresence = onPresence || (() => {});
    this.onError = onError || (() => {});
    this.onStatus = onStatus || (() => {});
    this.delay = 1000;
    this.socket = null;
    this.stopped = false;
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${this.path}`;
  }

  start() {
    this.stopped = false;
    this.onStatus("connecting");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("message", (message) => this.receive(message));
    socket.addEventListener("close", (close) => this.closed(close));
  }

  stop() {
    this.stopped = true;
    if (this.socket) this.socket.close();
  }

  receive(message) {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      return;
    }
    if (frame.type === "hello") {
      this.delay = 1000;
      this.onStatus("connected");
      this.send({ type: "resume", after: this.after });
    } else if (frame.type === "event") {
      if (frame.id <= this.after) return;
      this.after = frame.id;
      this.onEvent(frame);
    } else if (frame.type === "presence") {
      this.onPresence(frame.members);
    } else if (frame.type === "error") {
      this.onError(frame);
    }
  }

  closed(close) {
    this.socket = null;
    if (this.stopped) return;
    if (RELOAD.has(close.code)) {
      window.location.reload();
      return;
    }
    if (NO_RETRY.has(close.code)) {
      this.onStatus("offline");
      return;
    }
    this.onStatus("reconnecting");
    const wait = this.delay * (0.75 + Math.random() / 2);
    this.delay = Math.min(this.delay * 2, 15000);
    window.setTimeout(() => this.start(), wait);
  }

  send(frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }
}

export function labels() {
  const node = document.getElementById("live-labels");
  return node ? JSON.parse(node.textContent) : { events: {}, status: {}, kinds: {} };
}

export function showStatus(state, text) {
  const node = document.getElementById("live-status");
  if (!node) return;
  node.dataset.state = state;
  node.textContent = text[state] || state;
}

// Times in the page are ISO 8601 with the hub's offset (+08:00): show them as written.
export function clock(iso) {
  return typeof iso === "string" && iso.length >= 16 ? iso.slice(11, 16) : "";
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== "") {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

// Elapsed times ("2:05") tick every 30 seconds without asking the server.
export function tickElapsed() {
  const render = () => {
    for (const node of document.querySelectorAll(".elapsed[data-since]")) {
      const since = Date.parse(node.dataset.since);
      const until = node.dataset.until ? Date.parse(node.dataset.until) : Date.now();
      if (Number.isNaN(since)) continue;
      const minutes = Math.max(0, Math.floor((until - since) / 60000));
      node.textContent =
        minutes >= 1440
          ? `${Math.floor(minutes / 1440)} d ${Math.floor((minutes % 1440) / 60)} h`
          : `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
    }
  };
  render();
  window.setInterval(render, 30000);
}

// A feed of events, newest first, at most `length` items; its "nothing yet" line goes.
export function prependEvent(feed, item, length) {
  const empty = feed.querySelector(".empty");
  if (empty) empty.remove();
  feed.prepend(item);
  while (feed.children.length > length) feed.lastElementChild.remove();
}

// Fetch the panels at `selector` again (htmx "hub-refresh") a moment after events stop
// arriving, so that a burst of events costs one request.
export function refresher(selector, waitMs = 1500) {
  let timer = null;
  return () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      if (window.htmx) window.htmx.trigger(selector, "hub-refresh");
    }, waitMs + Math.random() * 500);
  };
}
