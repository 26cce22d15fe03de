// The console follows its session's stream, as readers do (the same websocket and
// protocol: docs/realtime.md), so co-authors see each other's entries arrive, change and
// go. An entry this blogger may change (their own, or any for an organiser) is fetched
// with its controls from the server, which checks; anyone else's is shown as readers see
// it. Changes made here come back too and are applied once (by their sequence number).
(function () {
  "use strict";

  const list = document.querySelector("[data-console-live]");
  if (!list || !("WebSocket" in window)) return;

  const me = list.dataset.user;
  const organiser = list.hasAttribute("data-organiser");
  let cursor = parseInt(list.dataset.lastSeq, 10) || 0;
  const seen = new Set();
  let attempt = 0;
  let socket = null;
  const readersNow = document.getElementById("readers-now");

  const createdSeq = (node) => {
    const article = node.matches("article") ? node : node.querySelector("article");
    return article ? parseInt(article.dataset.createdSeq, 10) || 0 : Infinity;
  };

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function applied(seq) {
    return seq <= cursor || seen.has(seq);
  }

  function markApplied(seq) {
    seen.add(seq);
    while (seen.has(cursor + 1)) seen.delete(++cursor);
  }

  function place(node) {
    const mine = createdSeq(node);
    for (const other of list.children) {
      if (createdSeq(other) < mine) return list.insertBefore(node, other);
    }
    list.appendChild(node);
    const empty = document.getElementById("console-empty");
    if (empty) empty.remove();
  }

  function shown(id) {
    return document.getElementById("console-entry-" + id);
  }

  async function withControls(id) {
    try {
      const response = await fetch("/entries/" + id + "/console/", { credentials: "same-origin", headers: { "HX-Request": "true" } });
      if (!response.ok) return null;
      return fragment(await response.text());
    } catch (e) {
      return null;
    }
  }

  async function applyEntry(msg) {
    const current = shown(msg.id);
    if (msg.action === "deleted") {
      // This blogger's own deletion shows its "restore" note: leave it. So does one whose
      // request from here is still on its way (its answer swaps in that note; the socket
      // may bring the change first, and htmx drops an answer for an element removed).
      const pending = current && (current.matches(".htmx-request") || current.querySelector(".htmx-request"));
      if (current && !pending && !current.classList.contains("console-entry--deleted")) current.remove();
      return;
    }
    const existingArticle = current && current.querySelector("article");
    if (existingArticle && parseInt(existingArticle.dataset.seq, 10) >= msg.seq) return;
    // A post from this console's outbox may arrive here first: the outbox's answer then
    // replaces this node and removes its placeholder.
    const article = fragment(msg.html);
    const editable = organiser || article.dataset.author === me;
    let node = editable ? await withControls(msg.id) : null;
    if (!node) {
      node = document.createElement("div");
      node.id = "console-entry-" + msg.id;
      node.className = "console-entry console-entry--coauthor";
      node.appendChild(article);
    }
    const now = shown(msg.id);
    if (now && now.matches(".edit-form")) return; // being edited here: the editor wins
    if (now) now.replaceWith(node);
    else place(node);
    if (window.htmx) htmx.process(node);
  }

  function onMessage(event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (msg.type === "entry") {
      if (applied(msg.seq)) return;
      markApplied(msg.seq);
      applyEntry(msg);
    } else if (msg.type === "status") {
      markApplied(msg.seq);
    } else if (msg.type === "caught_up") {
      if (msg.seq > cursor) cursor = msg.seq;
      attempt = 0;
    } else if (msg.type === "reload") {
      window.location.reload();
    } else if (msg.type === "readers" && readersNow && typeof msg.count === "number") {
      // The audience (this console is not counted: docs/realtime.md).
      readersNow.textContent = msg.count === 0 ? "no one reading yet" : msg.count + " reading";
      readersNow.hidden = false;
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + window.location.host + list.dataset.wsPath + "?console=1&after=" + cursor);
    socket = ws;
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", (event) => {
      if (socket !== ws || event.code === 4404 || event.code === 4400 || event.code === 4205) return;
      attempt += 1;
      setTimeout(connect, Math.random() * Math.min(30000, 500 * Math.pow(2, attempt)) + 250);
    });
  }

  window.addEventListener("online", () => {
    if (!socket || socket.readyState > 1) connect();
  });
  connect();
})();
