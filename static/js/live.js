// Live updates for a session's reader page: a read-only websocket that applies each
// change in the session's sequence exactly once, and catches up after a drop.
// Protocol: docs/realtime.md. No dependencies; the page works without this script.
(function () {
  "use strict";

  const stream = document.querySelector("[data-live-session]");
  if (!stream || !("WebSocket" in window)) return;

  const list = document.getElementById("entries");
  const empty = document.getElementById("no-entries");
  const banner = document.getElementById("live-banner");
  const statusSlot = document.getElementById("session-status");
  const path = stream.dataset.wsPath;

  // cursor: every change up to it is applied. seen: applied changes above the cursor,
  // which arrive out of order when two bloggers commit at once.
  let cursor = parseInt(stream.dataset.lastSeq, 10) || 0;
  const seen = new Set();
  let socket = null;
  let attempt = 0;
  let retryTimer = null;
  let gapTimer = null;
  let pingTimer = null;
  let everConnected = false;

  function applied(seq) {
    return seq <= cursor || seen.has(seq);
  }

  function markApplied(seq) {
    seen.add(seq);
    while (seen.has(cursor + 1)) {
      cursor += 1;
      seen.delete(cursor);
    }
    // A hole that stays open means a change never reached us: reconnect and catch up.
    clearTimeout(gapTimer);
    if (seen.size > 0) gapTimer = setTimeout(() => socket && socket.close(4000, "gap"), 3000);
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function applyEntry(msg) {
    const existing = document.getElementById("entry-" + msg.id);
    if (existing && parseInt(existing.dataset.seq, 10) >= msg.seq) return;
    if (msg.action === "deleted") {
      if (existing) existing.remove();
    } else if (existing) {
      existing.replaceWith(fragment(msg.html));
    } else if (msg.action === "created") {
      const node = fragment(msg.html);
      node.classList.add("entry--new");
      list.prepend(node);
    }
    // An update to an entry not on this page (an older one) needs nothing here.
    empty.hidden = list.children.length > 0;
  }

  function applyStatus(msg) {
    if (statusSlot) statusSlot.innerHTML = msg.html;
  }

  function showBanner(text) {
    banner.textContent = text;
    banner.hidden = !text;
  }

  function onMessage(event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    switch (msg.type) {
      case "entry":
      case "status":
        if (applied(msg.seq)) return;
        if (msg.type === "entry") applyEntry(msg);
        else applyStatus(msg);
        markApplied(msg.seq);
        break;
      case "caught_up":
        if (msg.seq > cursor) {
          cursor = msg.seq;
          for (const seq of Array.from(seen)) if (seq <= cursor) seen.delete(seq);
          while (seen.has(cursor + 1)) seen.delete(++cursor);
        }
        break;
      case "reload":
        window.location.reload();
        break;
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + path + "?after=" + cursor);
    socket.addEventListener("open", () => {
      attempt = 0;
      if (everConnected) showBanner("Back online: you are up to date.");
      else showBanner("");
      everConnected = true;
      setTimeout(() => { if (socket && socket.readyState === 1 && banner.textContent.startsWith("Back")) showBanner(""); }, 4000);
      clearInterval(pingTimer);
      pingTimer = setInterval(() => socket.readyState === 1 && socket.send('{"type":"ping"}'), 25000);
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", (event) => {
      clearInterval(pingTimer);
      if (event.code === 4404) {
        showBanner("This session no longer exists.");
        return;
      }
      if (event.code === 4205) return; // told to reload; the page is reloading
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    showBanner("Connection lost. Reconnecting…");
    // Exponential backoff with full jitter, capped at 30 s.
    const ceiling = Math.min(30000, 500 * Math.pow(2, attempt));
    attempt += 1;
    retryTimer = setTimeout(connect, Math.random() * ceiling + 250);
  }

  window.addEventListener("online", () => {
    if (!socket || socket.readyState > 1) {
      attempt = 0;
      clearTimeout(retryTimer);
      connect();
    }
  });

  connect();
})();
