// The console's outbox: what a blogger posts is kept in localStorage with an
// Idempotency-Key and sent, in order, until the server acknowledges it. A dropped
// connection, a reload or a crash loses nothing, and a retry never makes a duplicate.
// The draft being typed is kept too. A photo's bytes are kept in IndexedDB (too big for
// localStorage) beside its item. Without JavaScript the forms post normally.
(function () {
  "use strict";

  const form = document.querySelector("form[data-outbox]");
  const list = document.getElementById("console-entries");
  if (!form || !list || !window.localStorage || !window.fetch) return;

  const sessionId = form.dataset.outbox;
  const OUTBOX = "liveblog:outbox:" + sessionId;
  const DRAFT = "liveblog:draft:" + sessionId;
  const note = form.querySelector("[data-outbox-note]");
  const photoForm = document.querySelector("form[data-photo-outbox]");
  let sending = false;
  let retryTimer = null;
  let attempt = 0;

  const load = (key, fallback) => {
    try {
      return JSON.parse(localStorage.getItem(key)) || fallback;
    } catch (e) {
      return fallback;
    }
  };
  const save = (key, value) => localStorage.setItem(key, JSON.stringify(value));
  const items = () => load(OUTBOX, []);
  const update = (key, change) => save(OUTBOX, items().map((item) => (item.key === key ? Object.assign(item, change) : item)));
  const removeItem = (key) => save(OUTBOX, items().filter((item) => item.key !== key));

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function fieldsOf(theForm) {
    return Array.from(new FormData(theForm).entries()).filter(([name]) => name !== "csrfmiddlewaretoken");
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // --- Photos' bytes, in IndexedDB ----------------------------------------------------

  let database = null;
  function photoStore(mode) {
    if (!window.indexedDB) return Promise.reject(new Error("no IndexedDB"));
    if (!database) {
      database = new Promise((resolve, reject) => {
        const request = indexedDB.open("liveblog-outbox", 1);
        request.onupgradeneeded = () => request.result.createObjectStore("photos");
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return database.then((db) => db.transaction("photos", mode).objectStore("photos"));
  }
  const idb = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const putPhoto = (key, blob) => photoStore("readwrite").then((store) => idb(store.put(blob, key)));
  const getPhoto = (key) => photoStore("readonly").then((store) => idb(store.get(key)));
  const deletePhoto = (key) => photoStore("readwrite").then((store) => idb(store.delete(key))).catch(() => {});

  // --- Drafts -----------------------------------------------------------------

  function saveDraft() {
    save(DRAFT, fieldsOf(form));
  }

  function restoreFields(fields) {
    const values = new Map(fields);
    for (const element of form.elements) {
      if (!element.name || element.name === "csrfmiddlewaretoken") continue;
      if (element.type === "radio") element.checked = values.get(element.name) === element.value;
      else if (element.type === "checkbox") element.checked = values.has(element.name);
      else if (values.has(element.name)) element.value = values.get(element.name);
    }
    form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);
  const draft = load(DRAFT, null);
  if (draft) restoreFields(draft);

  // --- Rendering ----------------------------------------------------------------

  function placeholder(item) {
    let node = document.getElementById("outbox-" + item.key);
    if (!node) {
      node = document.createElement("div");
      node.id = "outbox-" + item.key;
      node.className = "console-entry console-entry--pending";
      const article = document.createElement("article");
      article.className = "entry";
      const meta = document.createElement("p");
      meta.className = "entry__meta outbox-state";
      meta.setAttribute("role", "status");
      const body = document.createElement("div");
      body.className = "entry__body prose";
      const fields = new Map(item.fields);
      body.textContent = item.photo ? "Photo: " + (fields.get("alt") || "") : fields.get("body") || "";
      article.append(meta, body);
      const actions = document.createElement("div");
      actions.className = "console-entry__actions";
      node.append(article, actions);
      list.prepend(node);
      const empty = document.getElementById("console-empty");
      if (empty) empty.remove();
    }
    const meta = node.querySelector(".outbox-state");
    const actions = node.querySelector(".console-entry__actions");
    actions.replaceChildren();
    node.classList.toggle("console-entry--failed", item.state === "failed");
    if (item.state === "failed") {
      meta.textContent = "Not posted: " + item.error;
      actions.append(button("Edit and resend", () => editItem(item)), button("Discard", () => discard(item), true));
    } else if (item.state === "waiting") {
      meta.textContent = (item.reason === "server" ? "Waiting for the server" : "Waiting for the network") + "… it will be sent automatically.";
      actions.append(button("Retry now", () => kick(true)));
    } else {
      meta.textContent = "Sending…";
    }
    return node;
  }

  function button(label, onClick, danger) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link-button" + (danger ? " link-button--danger" : "");
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function editItem(item) {
    if (item.photo) {
      editPhoto(item);
      return;
    }
    restoreFields(item.fields);
    discard(item);
    form.querySelector("textarea").focus();
  }

  async function editPhoto(item) {
    const values = new Map(item.fields);
    const blob = await getPhoto(item.key).catch(() => null);
    photoForm.elements.alt.value = values.get("alt") || "";
    photoForm.elements.caption.value = values.get("caption") || "";
    photoForm.elements.key_moment.checked = values.has("key_moment");
    if (blob && window.DataTransfer) {
      const transfer = new DataTransfer();
      transfer.items.add(new File([blob], item.name || "photo", { type: blob.type }));
      photoForm.elements.image.files = transfer.files;
      photoForm.elements.image.dispatchEvent(new Event("change"));
    }
    discard(item);
    photoForm.elements.alt.focus();
  }

  function discard(item) {
    removeItem(item.key);
    if (item.photo) deletePhoto(item.key);
    const node = document.getElementById("outbox-" + item.key);
    if (node) node.remove();
    refreshNote();
  }

  function refreshNote() {
    const held = items().filter((item) => item.state !== "failed");
    const waiting = held.length;
    const posts = waiting === 1 ? "1 post" : waiting + " posts";
    // Why they wait, when the last try said: the server (restarting, busy) or the network.
    const reason = held.length && held[0].state === "waiting" ? held[0].reason : null;
    note.hidden = waiting === 0;
    if (!waiting) note.textContent = "";
    else if (reason === "server") note.textContent = "Waiting for the server: " + posts + " held, sent in order when it answers. Nothing is lost.";
    else if (reason === "network") note.textContent = "Waiting for the network: " + posts + " held, sent in order when it is back. Nothing is lost.";
    else note.textContent = posts + " waiting to be sent. Keep this page open or come back later: nothing is lost.";
  }

  // --- Sending --------------------------------------------------------------------

  function errorText(status, html, type) {
    // The server answers the outbox in plain text: the reason, for the blogger.
    if (type.startsWith("text/plain") && html) return html;
    if (status === 403) return "refused (403). If you logged in again elsewhere, reload the page and resend.";
    if (status === 413) return "too large.";
    return "the server answered " + status + ".";
  }

  async function photoBody(item) {
    const blob = await getPhoto(item.key).catch(() => null);
    if (!blob) return null;
    const body = new FormData();
    for (const [name, value] of item.fields) body.append(name, value);
    body.append("image", blob, item.name || "photo");
    return body;
  }

  async function sendOne(item) {
    placeholder(Object.assign({}, item, { state: "sending" }));
    let response;
    const body = item.photo ? await photoBody(item) : new URLSearchParams(item.fields);
    if (!body) {
      const error = "the photo is no longer kept in this browser: choose it again.";
      update(item.key, { state: "failed", error: error });
      placeholder(Object.assign(item, { state: "failed", error: error }));
      return "failed";
    }
    try {
      response = await fetch(item.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Idempotency-Key": item.key, "X-Liveblog-Outbox": "1", "X-CSRFToken": csrfToken() },
        body: body,
      });
    } catch (e) {
      return { reason: "network", after: 0 };
    }
    if (response.status === 429 || response.status >= 500) {
      // 503 while the database restarts, 429 when posting too fast: the server says when.
      const after = parseInt(response.headers.get("Retry-After") || "0", 10);
      return { reason: "server", after: Number.isFinite(after) ? Math.min(after, 60) : 0 };
    }
    const text = await response.text();
    if (!response.ok) {
      const error = errorText(response.status, text, response.headers.get("Content-Type") || "");
      update(item.key, { state: "failed", error: error });
      placeholder(Object.assign(item, { state: "failed", error: error }));
      return "failed";
    }
    const template = document.createElement("template");
    template.innerHTML = text;
    const entry = template.content.querySelector(".console-entry");
    const node = document.getElementById("outbox-" + item.key);
    const existing = entry && document.getElementById(entry.id);
    if (entry) {
      entry.classList.add("console-entry--sent");
      const sent = document.createElement("span");
      sent.className = "outbox-sent";
      sent.setAttribute("role", "status");
      sent.textContent = "Sent";
      const actions = entry.querySelector(".console-entry__actions");
      if (actions) actions.prepend(sent);
      setTimeout(() => sent.remove(), 5000);
      if (existing) {
        existing.replaceWith(entry);
        if (node) node.remove();
      } else if (node) {
        node.replaceWith(entry);
      } else {
        list.prepend(entry);
      }
      if (window.htmx) htmx.process(entry);
    }
    removeItem(item.key);
    if (item.photo) deletePhoto(item.key);
    return "sent";
  }

  async function drain() {
    if (sending) return;
    sending = true;
    clearTimeout(retryTimer);
    try {
      for (;;) {
        const next = items().find((item) => item.state !== "failed");
        if (!next) break;
        const result = await sendOne(next);
        if (result && result.reason) {
          // Everything behind it waits too, and says why: they go in order, after it.
          const waiting = { state: "waiting", reason: result.reason };
          save(OUTBOX, items().map((item) => (item.state === "failed" ? item : Object.assign(item, waiting))));
          items().forEach((item) => item.state !== "failed" && placeholder(item));
          attempt += 1;
          const backoff = Math.min(30000, 1000 * Math.pow(2, attempt - 1)) * (0.5 + Math.random() / 2);
          retryTimer = setTimeout(drain, Math.max(backoff, result.after * 1000));
          break;
        }
        attempt = 0;
      }
    } finally {
      sending = false;
      refreshNote();
    }
  }

  function kick(now) {
    if (now) attempt = 0;
    drain();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = form.querySelector("textarea[name=body]");
    if (!body.value.trim()) {
      body.focus();
      return;
    }
    const item = { key: newKey(), url: form.action, fields: fieldsOf(form), state: "pending" };
    save(OUTBOX, items().concat([item]));
    localStorage.removeItem(DRAFT);
    form.reset();
    form.dispatchEvent(new Event("change", { bubbles: true }));
    localStorage.removeItem(DRAFT);
    body.focus();
    placeholder(item);
    refreshNote();
    kick(true);
  });

  if (photoForm && window.indexedDB) {
    photoForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = photoForm.elements.image.files[0];
      const alt = photoForm.elements.alt;
      if (!file) return photoForm.elements.image.focus();
      if (!alt.value.trim()) return alt.focus();
      const fields = fieldsOf(photoForm).filter(([name]) => name !== "image");
      const item = { key: newKey(), url: photoForm.action, fields: fields, photo: true, name: file.name, state: "pending" };
      try {
        await putPhoto(item.key, file);
      } catch (e) {
        photoForm.submit(); // no room to keep it: post it the plain way, now
        return;
      }
      save(OUTBOX, items().concat([item]));
      photoForm.reset();
      placeholder(item);
      refreshNote();
      kick(true);
    });
  }

  window.addEventListener("online", () => kick(true));
  items().slice().reverse().forEach((item) => placeholder(item));
  refreshNote();
  kick(true);
})();
