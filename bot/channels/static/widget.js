// Storefront Assist chat widget. Add to any page:
//   <script src="https://YOUR-GATEWAY/widget.js" data-title="Your Shop" defer></script>
// The page's <html lang> (or the browser's language) is the conversation's first language.
// Plain JavaScript, no dependencies; its look is kept inside a shadow root so the shop's
// styles and the widget's don't mix.
(function () {
  "use strict";
  const script = document.currentScript;
  const base = new URL(script ? script.src : "/widget.js", window.location.href).origin;
  const storeKey = "storefront-assist:" + base;
  const customTitle = script && script.dataset.title;
  // The page's language, else the browser's: a hint until the conversation has its own.
  const hint = document.documentElement.lang || navigator.language || "";
  let ui = { language: "", direction: "ltr", text: {}, languages: [] };
  let conversationId = localStorage.getItem(storeKey);
  let source = null;
  let retryDelay = 3000;  // ms before listening again after the browser gave up
  let pending = 0;
  const seen = new Set();
  // The last message id the history or the stream delivered, in order. A new stream starts
  // after it, not after the newest reply a POST returned: the shopper's own message, stored
  // just before that reply, comes only from the stream.
  let streamed = 0;

  const host = document.createElement("div");
  host.id = "storefront-assist";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>
      :host { all: initial; }
      * { box-sizing: border-box; font-family: system-ui, "Noto Sans", "Noto Sans Hebrew",
        "Noto Sans Arabic", "Noto Sans KR", "NanumGothic", "Apple SD Gothic Neo", "Malgun Gothic",
        sans-serif; }
      .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0;
        border-radius: 999px; padding: 14px 20px; background: #1f5fbf; color: #fff; font-size: 15px;
        box-shadow: 0 4px 14px rgba(0,0,0,.25); cursor: pointer; }
      .panel { position: fixed; right: 20px; bottom: 84px; z-index: 2147483000; width: 370px;
        height: min(560px, calc(100vh - 110px)); display: flex; flex-direction: column; background: #fff;
        border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.3); overflow: hidden; color: #1d2330; }
      .panel[hidden] { display: none; }
      header { display: flex; justify-content: space-between; align-items: center; padding: 12px 14px;
        background: #1f5fbf; color: #fff; font-weight: 600; }
      header button { background: transparent; border: 0; color: #fff; font-size: 22px; cursor: pointer; line-height: 1; }
      header .tools { display: flex; align-items: center; gap: 8px; }
      header select { font-size: 12px; border-radius: 6px; border: 0; padding: 3px 4px; max-width: 110px; }
      /* Right-to-left: the panel mirrors itself (flex-start is the right side there). */
      .panel[dir="rtl"] { right: auto; left: 20px; }
      .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px;
        background: #f5f6f8; margin: 0; list-style: none; }
      .msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; line-height: 1.4; font-size: 14px;
        white-space: pre-wrap; overflow-wrap: anywhere; }
      .shopper { align-self: flex-end; background: #1f5fbf; color: #fff; }
      .shopper a { color: #fff; }
      .bot { align-self: flex-start; background: #fff; border: 1px solid #d9dde5; }
      .agent { align-self: flex-start; background: #e4f4ea; border: 1px solid #bfe3cc; }
      .who { display: block; font-size: 11px; color: #5b6475; margin-bottom: 2px; }
      .quick { align-self: flex-start; display: flex; flex-wrap: wrap; gap: 6px; }
      .quick button { border: 1px solid #1f5fbf; color: #1f5fbf; background: #fff; border-radius: 999px;
        padding: 6px 12px; font-size: 13px; cursor: pointer; }
      .quick button:disabled { opacity: .5; cursor: default; }
      .typing { align-self: flex-start; color: #5b6475; font-size: 13px; padding: 4px 2px; }
      .status { font-size: 12px; color: #a61b1b; padding: 4px 12px; background: #fff3f3; }
      .status[hidden] { display: none; }
      form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #d9dde5; background: #fff; }
      input { flex: 1; padding: 9px 10px; border: 1px solid #d9dde5; border-radius: 8px; font-size: 14px; }
      form button { border: 0; background: #1f5fbf; color: #fff; border-radius: 8px; padding: 0 14px; cursor: pointer; }
      button:focus-visible, input:focus-visible, a:focus-visible { outline: 3px solid #f0b429; outline-offset: 1px; }
      @media (max-width: 480px) {
        .panel { inset: 0; width: 100vw; height: 100vh; border-radius: 0; }
        .launcher { right: 12px; bottom: 12px; }
      }
    </style>
    <button class="launcher" type="button" aria-expanded="false" aria-controls="sa-panel"></button>
    <section class="panel" id="sa-panel" role="dialog" hidden>
      <header><span class="title" dir="auto"></span><span class="tools"><select class="language"></select><button type="button" class="close">×</button></span></header>
      <ol class="log" role="log" aria-live="polite"></ol>
      <p class="status" role="status" dir="auto" hidden></p>
      <form>
        <input name="text" autocomplete="off" maxlength="4000" dir="auto">
        <button type="submit" class="send"></button>
      </form>
    </section>`;
  document.body.appendChild(host);

  const launcher = root.querySelector(".launcher");
  const panel = root.querySelector(".panel");
  const log = root.querySelector(".log");
  const status = root.querySelector(".status");
  const form = root.querySelector("form");
  const input = root.querySelector("input");
  const languageMenu = root.querySelector(".language");
  let typing = null;

  function t(key) { return ui.text[key] || ""; }

  // Every word of the widget comes from the gateway's catalogs, in the conversation's
  // language; right-to-left languages turn the panel around.
  function applyInterface() {
    launcher.textContent = t("launcher");
    panel.setAttribute("aria-label", t("panel"));
    panel.lang = ui.language;
    panel.dir = ui.direction;
    // The shop's name (data-title) stays as the shop wrote it; "Help" is in the shopper's language.
    root.querySelector(".title").textContent = customTitle ? `${customTitle} · ${t("title")}` : t("title");
    root.querySelector(".close").setAttribute("aria-label", t("close"));
    log.setAttribute("aria-label", t("log"));
    input.setAttribute("aria-label", t("input"));
    input.placeholder = t("placeholder");
    root.querySelector(".send").textContent = t("send");
    languageMenu.setAttribute("aria-label", t("language"));
    languageMenu.replaceChildren(...ui.languages.map((l) => new Option(l.name, l.code)));
    languageMenu.value = ui.language;
    if (typing) typing.setAttribute("aria-label", t("typing"));
  }

  async function loadInterface(language) {
    if (language && language === ui.language) return;
    try {
      ui = await api(`/api/widget/text?lang=${encodeURIComponent(language || hint)}`);
      applyInterface();
    } catch (error) { /* keep the words we have */ }
  }

  function api(path, options) {
    return fetch(base + path, options).then((response) => {
      if (!response.ok) throw Object.assign(new Error("HTTP " + response.status), { status: response.status });
      return response.json();
    });
  }

  function linkify(parent, text) {
    // Links become clickable; everything else stays text (never HTML).
    const pattern = /https?:\/\/[^\s<>"')]+/g;
    let at = 0;
    for (const match of text.matchAll(pattern)) {
      parent.append(document.createTextNode(text.slice(at, match.index)));
      const link = document.createElement("a");
      link.href = match[0];
      link.textContent = match[0];
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      parent.append(link);
      at = match.index + match[0].length;
    }
    parent.append(document.createTextNode(text.slice(at)));
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function render(message) {
    if (seen.has(message.id)) return;
    seen.add(message.id);
    // A newer message makes older quick replies stale.
    root.querySelectorAll(".quick button").forEach((b) => { b.disabled = true; });
    const item = document.createElement("li");
    item.className = "msg " + message.sender;
    item.dataset.id = message.id;
    item.dir = "auto";  // each message in its own direction, whatever the panel's
    if (message.sender === "bot" && message.language) loadInterface(message.language);
    if (message.sender === "agent") {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = t("team").replace("{agent}", message.agent || t("support"));
      item.append(who);
    }
    linkify(item, message.text);
    log.insertBefore(item, typing && typing.isConnected ? typing : null);
    if (message.buttons && message.buttons.length) {
      const quick = document.createElement("li");
      quick.className = "quick";
      for (const button of message.buttons) {
        const b = document.createElement("button");
        b.type = "button";
        b.dir = "auto";
        b.textContent = button.title;
        b.addEventListener("click", () => {
          quick.querySelectorAll("button").forEach((other) => { other.disabled = true; });
          send(button.title, button.payload);
        });
        quick.append(b);
      }
      log.insertBefore(quick, typing && typing.isConnected ? typing : null);
    }
    scrollDown();
  }

  function showTyping(on) {
    if (on && !typing) {
      typing = document.createElement("li");
      typing.className = "typing";
      typing.setAttribute("aria-label", t("typing"));
      typing.textContent = "…";
      log.append(typing);
      scrollDown();
    } else if (!on && typing) {
      typing.remove();
      typing = null;
    }
  }

  function showStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  // One start at a time: opening the panel and choosing a language at once must not start two
  // conversations (the stream would listen to one while the shopper writes in the other).
  let starting = null;
  function ensureConversation() {
    if (conversationId) return Promise.resolve(conversationId);
    if (!starting) {
      starting = api("/api/conversations", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ channel: "web", language: hint }),
      }).then((started) => {
        conversationId = started.conversation_id;
        localStorage.setItem(storeKey, conversationId);
        return conversationId;
      }).finally(() => { starting = null; });
    }
    return starting;
  }

  async function loadHistory() {
    try {
      const history = await api(`/api/conversations/${conversationId}/messages?after=0`);
      await loadInterface(history.language);
      history.messages.forEach(render);
      streamed = Math.max(streamed, history.last || 0);
    } catch (error) {
      if (error.status === 404) {  // the shop cleared it: start afresh
        localStorage.removeItem(storeKey);
        conversationId = null;
        await ensureConversation();
      } else {
        throw error;
      }
    }
  }

  function listen() {
    if (source) source.close();
    source = new EventSource(`${base}/api/conversations/${conversationId}/events?after=${streamed}`);
    source.onmessage = (event) => {
      streamed = Math.max(streamed, Number(event.lastEventId) || 0);
      render(JSON.parse(event.data));
    };
    source.onopen = () => { showStatus(""); retryDelay = 3000; };
    source.onerror = () => {
      showStatus(t("reconnecting"));
      // The browser retries a dropped stream by itself; it gives up on a refusal (a 429 when
      // the conversation has too many open streams, e.g. many tabs). Then start again later,
      // less often each time (replies to what the shopper sends still come with the POST).
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(listen, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 60000);
      }
    };
  }

  async function send(text, payload) {
    text = (text || "").trim();
    if (!text) return;
    pending += 1;
    showTyping(true);
    try {
      await ensureConversation();
      const body = payload ? { text, payload, language: hint } : { text, language: hint };
      const answer = await api(`/api/conversations/${conversationId}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await loadInterface(answer.language);
      answer.messages.forEach(render);
      showStatus("");
      // The shopper is here: a stream the browser gave up on is started again at once.
      if (!source || source.readyState === EventSource.CLOSED) listen();
    } catch (error) {
      showStatus(t("not_sent"));
      input.value = input.value || text;
    } finally {
      pending -= 1;
      if (!pending) showTyping(false);
    }
  }

  let opened = false;
  async function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    input.focus();
    if (opened) return;
    opened = true;
    try {
      await ensureConversation();
      await loadHistory();
      listen();
    } catch (error) {
      opened = false;
      showStatus(t("unavailable"));
    }
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  // The shopper's own choice: the conversation answers in it from now on.
  languageMenu.addEventListener("change", async () => {
    const chosen = languageMenu.value;
    try {
      await ensureConversation();
      const answer = await api(`/api/conversations/${conversationId}/language`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ language: chosen }),
      });
      await loadInterface(answer.language);
      answer.messages.forEach(render);
    } catch (error) {
      showStatus(t("not_sent"));
    }
  });

  launcher.addEventListener("click", () => (panel.hidden ? open() : close()));
  root.querySelector(".close").addEventListener("click", close);
  panel.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    send(text);
  });
  window.addEventListener("online", () => { if (opened) listen(); });
  loadInterface(hint);
  // A returning shopper finds the conversation open where they left it.
  if (conversationId && sessionStorage.getItem(storeKey + ":open") === "1") open();
  window.addEventListener("pagehide", () => {
    sessionStorage.setItem(storeKey + ":open", panel.hidden ? "0" : "1");
  });
})();
