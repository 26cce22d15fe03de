// The series page's combined stream: one read-only websocket per live session (the same
// protocol as a session's page, docs/realtime.md), each with its own cursor, merged into
// one list newest first. Sessions that go live later are found by asking the page's
// live.json every 30 seconds. The page reads without this script.
(function () {
  "use strict";

  const stream = document.querySelector("[data-series-stream]");
  if (!stream || !("WebSocket" in window)) return;

  const list = document.getElementById("entries");
  const empty = document.getElementById("no-entries");
  const sessionList = document.getElementById("series-sessions");
  const noLive = document.getElementById("no-live");
  const banner = document.getElementById("live-banner");
  const tag = stream.dataset.tag;
  const hasOlder = stream.dataset.hasOlder === "1";
  const tagPattern = tag
    ? new RegExp("(^|[^\\p{L}\\p{N}_&#/])#" + tag + "(?![\\p{L}\\p{N}_])", "iu")
    : null;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const feeds = new Map(); // session id -> feed

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function createdOf(item) {
    return Date.parse(item.dataset.created) || 0;
  }

  function oldestShown() {
    const items = list.querySelectorAll(".stream-item");
    return items.length ? createdOf(items[items.length - 1]) : -Infinity;
  }

  function wrap(article, feed) {
    const item = document.createElement("div");
    item.className = "stream-item";
    item.dataset.session = feed.id;
    const time = article.querySelector(".entry__time time");
    item.dataset.created = time ? time.getAttribute("datetime") : new Date().toISOString();
    const where = document.createElement("p");
    where.className = "stream-item__where";
    const link = document.createElement("a");
    link.href = feed.url;
    link.textContent = feed.label;
    where.append(link);
    item.append(where, article);
    return item;
  }

  function place(item) {
    const created = createdOf(item);
    // Older than the page's last entry with more pages behind it: it belongs there.
    if (hasOlder && created < oldestShown()) return;
    const after = Array.from(list.children).find((other) => createdOf(other) < created);
    list.insertBefore(item, after || null);
  }

  function applyEntry(feed, msg) {
    const existing = document.getElementById("entry-" + msg.id);
    const item = existing && existing.closest(".stream-item");
    if (existing && parseInt(existing.dataset.seq, 10) >= msg.seq) return;
    const node = msg.action === "deleted" ? null : fragment(msg.html);
    if (!node || (tagPattern && !tagPattern.test(node.textContent))) {
      if (item) item.remove();
    } else if (item) {
      existing.replaceWith(node);
    } else {
      place(wrap(node, feed));
    }
    empty.hidden = list.children.length > 0;
  }

  function showBanner(text) {
    banner.textContent = text;
    banner.hidden = !text;
  }

  // "live" once every session's socket has caught up (tests and styles can wait on it).
  function markConnection() {
    const all = Array.from(feeds.values());
    stream.dataset.connection = all.every((feed) => feed.live) ? "live" : "connecting";
  }

  function open(feed) {
    const path = "/ws/sessions/" + feed.id + "/?after=" + feed.cursor;
    const socket = new WebSocket(scheme + location.host + path);
    feed.socket = socket;
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "entry") {
        applyEntry(feed, msg);
        feed.seen.add(msg.seq);
        while (feed.seen.has(feed.cursor + 1)) feed.seen.delete(++feed.cursor);
      } else if (msg.type === "status") {
        feed.seen.add(msg.seq);
        while (feed.seen.has(feed.cursor + 1)) feed.seen.delete(++feed.cursor);
        if (msg.status !== "live" && feed.row) feed.row.querySelector(".status").remove();
      } else if (msg.type === "caught_up") {
        feed.cursor = Math.max(feed.cursor, msg.seq);
        feed.seen.clear();
        feed.attempt = 0;
        feed.live = true;
        showBanner("");
        markConnection();
      } else if (msg.type === "reload") {
        location.reload();
      } else if (msg.type === "busy") {
        feed.wait = msg.retry_after * 1000;
      }
    };
    socket.onclose = (event) => {
      feed.live = false;
      markConnection();
      if (feed.closed || event.code === 4404) return;
      showBanner("Reconnecting…");
      const backoff = Math.min(30000, 1000 * 2 ** feed.attempt++) * (0.5 + Math.random() / 2);
      setTimeout(() => open(feed), Math.max(backoff, feed.wait || 0));
      feed.wait = 0;
    };
  }

  function follow(id, cursor, label, url, row) {
    if (feeds.has(id)) return;
    const feed = { id, cursor, label, url, row, seen: new Set(), attempt: 0, wait: 0 };
    feeds.set(id, feed);
    open(feed);
  }

  sessionList.querySelectorAll("[data-live-session]").forEach((row) => {
    const link = row.querySelector("a");
    const label = row.textContent.replace(/^\s*Live\s*/, "").replace(/\s+/g, " ").trim();
    follow(row.dataset.liveSession, parseInt(row.dataset.lastSeq, 10) || 0, label, link.href, row);
  });

  async function discover() {
    try {
      const response = await fetch(stream.dataset.liveUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const { sessions } = await response.json();
      for (const session of sessions) {
        const id = String(session.id);
        if (feeds.has(id)) continue;
        const row = document.createElement("li");
        row.dataset.liveSession = id;
        row.innerHTML = '<span class="status status--live"><span class="status__pulse" aria-hidden="true"></span>Live</span> ';
        const link = document.createElement("a");
        link.href = session.url;
        link.textContent = session.title;
        row.append(session.city + " · ", link);
        sessionList.append(row);
        noLive.hidden = true;
        // From the start: catch-up brings every entry it already has, exactly once.
        follow(id, 0, session.city + " · " + session.title, session.url, row);
      }
    } catch (error) {
      // Offline for a moment: the next round asks again.
    }
  }
  markConnection();
  setInterval(discover, 30000);
})();
