// Live updates for a session's reader page: a read-only websocket that applies each
// change in the session's sequence exactly once, and catches up after a drop.
// Protocol: docs/realtime.md. No dependencies; the page works without this script,
// which adds what only makes sense live: arrivals, the "new updates" button, relative
// times, share buttons and the key-moments strip kept current.
(function () {
  "use strict";

  const stream = document.querySelector("[data-live-session]");
  if (!stream || !("WebSocket" in window)) return;

  const $ = (id) => document.getElementById(id);
  const list = $("entries");
  const empty = $("no-entries");
  const banner = $("live-banner");
  const announcer = $("live-announcer");
  const moreButton = $("new-updates");
  const statusSlot = $("session-status");
  const moments = $("key-moments");
  const pinSlot = $("pinned-entry"); // the pinned entry, above the stream (one at most)
  const readersNow = $("readers-now");
  const loadOlder = document.querySelector(".load-older");
  const momentsNav = moments && moments.closest("nav");
  const path = stream.dataset.wsPath;
  const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  // cursor: every change up to it is applied. seen: applied changes above the cursor,
  // which arrive out of order when two bloggers commit at once.
  let cursor = parseInt(stream.dataset.lastSeq, 10) || 0;
  const seen = new Set();
  // New entries that arrived while the reader was further down the page, by entry id.
  const held = new Map();
  let socket = null;
  let attempt = 0;
  let retryTimer = null;
  let busyUntil = 0; // a busy server asked us not to connect again before this time
  let gapTimer = null;
  let pingTimer = null;
  let lostTimer = null;
  let everConnected = false;
  let lostShown = false;
  let arrivedWhileLost = 0;

  const createdSeq = (node) => parseInt(node.dataset.createdSeq, 10) || 0;

  // ---- Sequence bookkeeping ----------------------------------------------------------

  function applied(seq) {
    return seq <= cursor || seen.has(seq);
  }

  function markApplied(seq) {
    seen.add(seq);
    while (seen.has(cursor + 1)) {
      cursor += 1;
      seen.delete(cursor);
    }
    watchForHole();
  }

  // A hole that stays open 3 s means a change never reached us: reconnect and catch up.
  // The wait runs from when the hole opened: changes arriving after it (a blogger posting
  // every second or two) must not put it off for ever.
  function watchForHole() {
    if (seen.size === 0) {
      clearTimeout(gapTimer);
      gapTimer = null;
    } else if (gapTimer === null) {
      gapTimer = setTimeout(() => {
        gapTimer = null;
        if (socket) socket.close(4000, "gap");
      }, 3000);
    }
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // ---- Announcements: the page's one polite live region -------------------------------

  let pending = [];
  let announceTimer = null;

  function say(text) {
    // Clearing first makes a repeated message ("Link copied") count as a change.
    announcer.textContent = "";
    setTimeout(() => (announcer.textContent = text), 50);
  }

  function excerpt(node, length) {
    const body = node.querySelector(".quote__body, .entry__body") || node;
    const text = body.textContent.replace(/\s+/g, " ").trim();
    return text.length > length ? text.slice(0, length - 1) + "…" : text;
  }

  function announceArrival(node) {
    // Arrivals are gathered briefly, so a catch-up of ten is one announcement, not ten.
    pending.push(node);
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => {
      const first = pending[0];
      const where = held.size ? " Use the new updates button at the top to read them." : "";
      say(
        pending.length === 1
          ? (first.classList.contains("entry--quote") ? "New quote: " : "New update: ") +
              excerpt(first, 140) + where
          : pending.length + " new updates." + where
      );
      pending = [];
    }, 800);
  }

  // ---- Times: relative on screen, absolute in the event's time zone for hover and AT ----

  let absoluteFormat;
  try {
    absoluteFormat = new Intl.DateTimeFormat("en-GB", {
      weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
      timeZone: stream.dataset.timeZone || undefined, timeZoneName: "short",
    });
  } catch (e) {
    absoluteFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
  }

  function relative(date) {
    const minutes = Math.floor((Date.now() - date.getTime()) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return minutes + " min ago";
    if (minutes < 24 * 60) return Math.floor(minutes / 60) + " h ago";
    return null; // a day or more: the absolute time says more
  }

  function refreshTime(time) {
    const date = new Date(time.getAttribute("datetime"));
    if (isNaN(date)) return;
    const absolute = absoluteFormat.format(date);
    const shown = relative(date) || absolute;
    time.textContent = shown;
    time.title = absolute;
    const link = time.closest("a");
    if (link) link.setAttribute("aria-label", shown === absolute ? absolute + ", permalink" : shown + ", " + absolute + ", permalink");
  }

  function refreshTimes() {
    list.querySelectorAll(".entry__time time").forEach(refreshTime);
    if (pinSlot) pinSlot.querySelectorAll(".entry__time time").forEach(refreshTime);
    held.forEach((node) => node.querySelectorAll(".entry__time time").forEach(refreshTime));
  }

  // ---- Share: the Web Share API where there is one, the clipboard otherwise -------------

  function permalink(article) {
    const link = article.querySelector(".entry__time");
    return link ? link.href : window.location.href.split("#")[0] + "#" + article.id;
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain http on a venue's network: the old way still works from a click.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function confirmShare(button, text) {
    button.textContent = text;
    button.classList.add("entry__share--done");
    say(text);
    clearTimeout(button.resetTimer);
    button.resetTimer = setTimeout(() => {
      button.textContent = "Share";
      button.classList.remove("entry__share--done");
    }, 3000);
  }

  function share(button) {
    const article = button.closest("article");
    const url = permalink(article);
    if (navigator.share) {
      navigator.share({ title: document.title, text: excerpt(article, 200), url: url }).catch((error) => {
        if (error && error.name === "AbortError") return; // the reader closed the sheet
        copy(url).then(() => confirmShare(button, "Link copied"), () => confirmShare(button, "Could not share: " + url));
      });
      return;
    }
    copy(url).then(
      () => confirmShare(button, "Link copied"),
      () => confirmShare(button, "Copy this link: " + url)
    );
  }

  function enhance(article) {
    const meta = article.querySelector(".entry__meta");
    if (meta && !meta.querySelector(".entry__share")) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "entry__share";
      button.textContent = "Share";
      button.setAttribute("aria-describedby", article.id + "-time");
      meta.appendChild(button);
    }
    const time = article.querySelector(".entry__time time");
    if (time) {
      time.id = article.id + "-time";
      refreshTime(time);
    }
    return article;
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest(".entry__share");
    if (button) share(button);
  });
  if (pinSlot) {
    pinSlot.addEventListener("click", (event) => {
      const button = event.target.closest(".entry__share");
      if (button) share(button);
    });
  }

  // ---- Where entries go: in order, or held behind the "new updates" button ----------

  function readerIsAtTop() {
    return list.getBoundingClientRect().top > -24;
  }

  function belongsOnPage(node) {
    // Within the stretch of the stream this page shows: newer than its oldest entry, or
    // any entry at all on the page that shows the start of the stream.
    const oldest = list.lastElementChild;
    return !oldest || !loadOlder || createdSeq(node) > createdSeq(oldest);
  }

  function place(node) {
    // Newest first by creation order, which concurrent posts may deliver out of turn.
    const mine = createdSeq(node);
    for (const other of list.children) {
      if (createdSeq(other) < mine) return list.insertBefore(node, other);
    }
    list.appendChild(node);
  }

  function updateMoreButton() {
    const count = held.size;
    moreButton.hidden = count === 0;
    moreButton.textContent = count === 1 ? "1 new update" : count + " new updates";
  }

  function showHeld(byButton) {
    if (!held.size) return;
    const nodes = Array.from(held.values()).sort((a, b) => createdSeq(a) - createdSeq(b));
    held.clear();
    for (const node of nodes) place(node);
    updateMoreButton();
    showEmpty();
    if (byButton) {
      const newest = list.firstElementChild;
      list.scrollIntoView({ block: "start", behavior: reduceMotion.matches ? "auto" : "smooth" });
      // Focus follows the reader to what they asked to see (the button has gone).
      newest.setAttribute("tabindex", "-1");
      newest.focus({ preventScroll: true });
    }
  }

  moreButton.addEventListener("click", () => showHeld(true));
  let scrollQueued = false;
  window.addEventListener("scroll", () => {
    if (scrollQueued || !held.size) return;
    scrollQueued = true;
    requestAnimationFrame(() => {
      scrollQueued = false;
      if (readerIsAtTop()) showHeld(false);
    });
  }, { passive: true });

  // ---- Key moments: the strip follows the entries' key_moment flag --------------------

  function momentItem(node, id, onPage) {
    const item = document.createElement("li");
    item.dataset.entry = id;
    item.dataset.createdSeq = node.dataset.createdSeq;
    const link = document.createElement("a");
    link.href = onPage ? "#entry-" + id : permalink(node);
    const time = node.querySelector(".entry__time time");
    if (time) link.appendChild(time.cloneNode(true)).removeAttribute("id");
    link.append(" " + excerpt(node, 80));
    item.appendChild(link);
    return item;
  }

  function syncMoment(msg, node, onPage) {
    if (!moments) return;
    const current = moments.querySelector('[data-entry="' + msg.id + '"]');
    if (msg.action === "deleted" || !msg.key_moment) {
      if (current) current.remove();
    } else {
      const item = momentItem(node, msg.id, onPage);
      if (current) {
        current.replaceWith(item);
      } else {
        const after = Array.from(moments.children).find((li) => createdSeq(li) > createdSeq(item));
        moments.insertBefore(item, after || null);
        item.classList.add("key-moments__new");
      }
    }
    momentsNav.hidden = moments.children.length === 0;
  }

  if (moments) {
    // A moment whose entry is still held: show the held entries, then follow the link.
    moments.addEventListener("click", (event) => {
      const link = event.target.closest("a");
      if (link && held.has(parseInt(link.closest("li").dataset.entry, 10))) showHeld(false);
    });
  }

  // ---- Applying changes ----------------------------------------------------------------

  // ---- The pinned entry: moved into the slot above the stream, and back when unpinned ----

  function showEmpty() {
    empty.hidden = list.children.length > 0 || Boolean(pinSlot && pinSlot.children.length);
  }

  function unpinOthers(id) {
    // At most one is pinned: another one still in the slot was unpinned by a change that
    // has not reached us yet (it will, and update it in place).
    for (const other of Array.from(pinSlot.children)) {
      if (other.id === "entry-" + id) continue;
      other.remove();
      if (belongsOnPage(other)) place(other);
    }
  }

  function applyPin(msg, existing, node) {
    // True if the change was applied here: the entry is, or was, the pinned one.
    if (!pinSlot) return false;
    const inSlot = Boolean(existing) && existing.parentNode === pinSlot;
    const pin = msg.action !== "deleted" && msg.pinned;
    if (!pin && !inSlot) return false;
    if (pin) {
      unpinOthers(msg.id);
      enhance(node);
      if (held.delete(msg.id)) updateMoreButton();
      else if (existing) existing.remove();
      pinSlot.appendChild(node);
      if (msg.action === "created") announceArrival(node);
    } else {
      existing.remove();
      if (node) {
        enhance(node);
        if (belongsOnPage(node)) place(node);
      }
    }
    pinSlot.hidden = pinSlot.children.length === 0;
    showEmpty();
    return true;
  }

  function applyEntry(msg) {
    const existing = document.getElementById("entry-" + msg.id) || held.get(msg.id);
    if (existing && parseInt(existing.dataset.seq, 10) >= msg.seq) return;
    // Parse before enhancing: the strip shows the time as the server wrote it.
    const node = msg.action === "deleted" ? null : fragment(msg.html);
    // A new entry is shown or held; an update's entry is here only if it already was.
    syncMoment(msg, node, Boolean(existing) || msg.action === "created");
    if (applyPin(msg, existing, node)) return;
    if (msg.action === "deleted") {
      if (held.delete(msg.id)) updateMoreButton();
      else if (existing) existing.remove();
    } else if (existing) {
      enhance(node);
      if (held.has(msg.id)) {
        held.set(msg.id, node);
      } else {
        const hadFocus = existing.contains(document.activeElement);
        existing.replaceWith(node);
        if (hadFocus) node.querySelector(".entry__share").focus();
      }
    } else if (msg.action === "created") {
      enhance(node);
      node.classList.add("entry--new");
      if (held.size || !readerIsAtTop()) {
        held.set(msg.id, node);
        updateMoreButton();
      } else {
        place(node);
      }
      if (lostShown) arrivedWhileLost += 1;
      announceArrival(node);
    } else if (belongsOnPage(node)) {
      // Restored, or (in a catch-up) updated after it was hidden here: back in its place.
      enhance(node);
      place(node);
    }
    // An update to an entry older than this page shows needs nothing here.
    showEmpty();
  }

  function applyStatus(msg) {
    if (statusSlot) statusSlot.innerHTML = msg.html;
    if (msg.status !== "upcoming" && !list.children.length) empty.textContent = "No updates yet.";
    if (msg.status === "live") say("The session is live now.");
    else if (msg.status === "ended") say("The session has ended.");
  }

  // ---- Connection state and its discreet banner -------------------------------------

  const OFFLINE = "You are offline. Updates will follow.";
  const LOST = "Connection lost. Reconnecting…";
  const BUSY = "Many readers are joining at once. Connecting in a moment…";
  let bannerTimer = null;

  function showBanner(text, tone) {
    clearTimeout(bannerTimer);
    banner.textContent = text;
    banner.dataset.tone = tone || "";
    banner.hidden = !text;
  }

  function connectionLost(message) {
    stream.dataset.connection = "lost";
    if (lostShown) return;
    clearTimeout(lostTimer);
    // A blip that heals within a couple of seconds is not worth a banner.
    lostTimer = setTimeout(() => {
      lostShown = true;
      arrivedWhileLost = 0;
      showBanner(message, "lost");
      say(message);
    }, message === OFFLINE ? 0 : 2000);
  }

  function caughtUp() {
    stream.dataset.connection = "live";
    clearTimeout(lostTimer);
    if (!lostShown) return;
    lostShown = false;
    const news = arrivedWhileLost === 1 ? " 1 new update." : arrivedWhileLost > 1 ? " " + arrivedWhileLost + " new updates." : "";
    const text = "Back online: up to date." + news;
    showBanner(text, "back");
    // One announcement for the return, counting what arrived, rather than two.
    clearTimeout(announceTimer);
    pending = [];
    say(text);
    bannerTimer = setTimeout(() => showBanner(""), 5000);
  }

  // How many follow the session now (this reader included), sent when it changes. Not a
  // live region: a figure that moves every few seconds would talk over the entries.
  function showReaders(count) {
    if (!readersNow || typeof count !== "number" || count < 0) return;
    readersNow.textContent = count === 0 ? "no one reading" : count + " reading";
    readersNow.hidden = false;
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
        watchForHole();
        attempt = 0; // only a socket that got this far resets the backoff
        caughtUp();
        break;
      case "head":
        // A change up to here was committed but never reached this socket (the server's
        // layer lost it): catch up now rather than wait for a later change to show the hole.
        if (msg.seq > cursor && socket) socket.close(4000, "gap");
        break;
      case "reload":
        window.location.reload();
        break;
      case "busy":
        busyUntil = Date.now() + (Number(msg.retry_after) || 0) * 1000;
        break;
      case "readers":
        showReaders(msg.count);
        break;
      // Any other type is for a newer page: ignore it.
    }
  }

  function connect() {
    clearTimeout(retryTimer);
    stream.dataset.connection = everConnected ? "reconnecting" : "connecting";
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + window.location.host + path + "?after=" + cursor);
    socket = ws;
    ws.addEventListener("open", () => {
      everConnected = true;
      clearInterval(pingTimer);
      pingTimer = setInterval(() => ws.readyState === 1 && ws.send('{"type":"ping"}'), 25000);
    });
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", (event) => {
      clearInterval(pingTimer);
      if (socket !== ws) return; // replaced by a newer socket already
      clearTimeout(gapTimer); // the next socket's catch-up fills any hole
      gapTimer = null;
      if (event.code === 4404 || event.code === 4400) {
        // Gone, or a request the server will always refuse: retrying would not help.
        const text = event.code === 4404 ? "This session no longer exists." : "Live updates stopped. Reload the page to resume.";
        stream.dataset.connection = "gone";
        showBanner(text, "lost");
        say(text);
        return;
      }
      if (event.code === 4205) return; // told to reload; the page is reloading
      if (event.code === 4401) {
        // Signed out (in another tab of this browser): reconnect at once, as who we are now.
        attempt = 0;
        connect();
        return;
      }
      connectionLost(event.code === 4429 ? BUSY : navigator.onLine === false ? OFFLINE : LOST);
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    // Exponential backoff with full jitter, capped at 30 s; no sooner than a busy server
    // asked. Turned-away sockets did open, so the backoff keeps growing until one catches up.
    const ceiling = Math.min(30000, 500 * Math.pow(2, attempt));
    const floor = Math.max(0, busyUntil - Date.now());
    attempt += 1;
    retryTimer = setTimeout(connect, floor + Math.random() * Math.max(ceiling, floor / 2) + 250);
  }

  function reconnectNow() {
    if ((socket && socket.readyState <= 1) || stream.dataset.connection === "gone") return;
    if (Date.now() < busyUntil) return; // the retry already scheduled keeps the server's wait
    attempt = 0;
    connect();
  }

  window.addEventListener("offline", () => {
    connectionLost(OFFLINE);
    if (socket) socket.close(4001, "offline");
  });
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    refreshTimes();
    reconnectNow(); // a phone's browser may have dropped the socket while asleep
  });

  list.querySelectorAll("article.entry").forEach(enhance);
  if (pinSlot) pinSlot.querySelectorAll("article.entry").forEach(enhance);
  setInterval(refreshTimes, 30000);
  connect();
})();
