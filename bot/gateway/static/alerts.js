// Live alerts for staff (bot/gateway/alerts.py, GET /console/events): a new ticket, or a shopper
// writing on a ticket of mine, shows at once on every console page: a banner, a browser
// notification (once allowed) and a short beep (the "Alert sound" switch, remembered in this
// browser). On the queue, the list refreshes in place.
(function () {
  "use strict";
  const header = document.querySelector("header.top");
  const main = document.querySelector("main");
  if (!header || !main || !window.EventSource) return;
  const SOUND_KEY = "sa-alert-sound";
  const LAST_KEY = "sa-alert-last";

  function stored(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (e) {
      return null; // storage blocked: defaults
    }
  }

  function store(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (e) {
      /* storage blocked: not remembered */
    }
  }

  // --- controls: the sound switch, and asking for notifications -------------------------
  const controls = document.createElement("div");
  controls.className = "alert-controls";
  const soundLabel = document.createElement("label");
  const sound = document.createElement("input");
  sound.type = "checkbox";
  sound.id = "alert-sound";
  sound.checked = stored(SOUND_KEY) !== "off";
  sound.addEventListener("change", () => store(SOUND_KEY, sound.checked ? "on" : "off"));
  soundLabel.append(sound, "Alert sound");
  controls.append(soundLabel);
  if ("Notification" in window && Notification.permission === "default") {
    const ask = document.createElement("button");
    ask.type = "button";
    ask.textContent = "Turn on notifications";
    ask.addEventListener("click", async () => {
      const answer = await Notification.requestPermission();
      if (answer !== "default") ask.remove();
    });
    controls.append(ask);
  }
  const logout = header.querySelector("form.logout");
  if (logout) logout.before(controls);
  else header.append(controls);

  // --- the banner: works without notification permission -------------------------------
  const banner = document.createElement("div");
  banner.id = "alert-banner";
  banner.className = "alert-banner";
  banner.setAttribute("role", "status");
  banner.setAttribute("aria-live", "polite");
  banner.hidden = true;
  main.prepend(banner);

  function show(text, href) {
    const item = document.createElement("p");
    const link = document.createElement("a");
    link.href = href;
    link.textContent = text;
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "alert-dismiss";
    dismiss.textContent = "Dismiss";
    dismiss.setAttribute("aria-label", "Dismiss: " + text);
    dismiss.addEventListener("click", () => {
      item.remove();
      banner.hidden = banner.children.length === 0;
    });
    item.append(link, dismiss);
    banner.prepend(item);
    while (banner.children.length > 5) banner.lastElementChild.remove();
    banner.hidden = false;
  }

  // --- sound: a WebAudio beep, no audio file --------------------------------------------
  const AudioContextClass = window.AudioContext || window.webkitAudioContext;
  let audio = null;
  let lastBeep = 0;

  function beep() {
    if (!sound.checked || !AudioContextClass || Date.now() - lastBeep < 2000) return;
    lastBeep = Date.now();
    try {
      audio = audio || new AudioContextClass();
      if (audio.state === "suspended") audio.resume();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      const start = audio.currentTime;
      tone.type = "sine";
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.3);
      tone.connect(gain).connect(audio.destination);
      tone.start(start);
      tone.stop(start + 0.35);
    } catch (e) {
      /* no sound on this browser */
    }
  }

  // Browsers let a page make sound only after someone used it: get ready on the first click.
  function unlock() {
    if (!sound.checked || !AudioContextClass) return;
    try {
      audio = audio || new AudioContextClass();
      if (audio.state === "suspended") audio.resume();
    } catch (e) {
      /* no sound on this browser */
    }
    document.removeEventListener("pointerdown", unlock);
    document.removeEventListener("keydown", unlock);
  }
  document.addEventListener("pointerdown", unlock);
  document.addEventListener("keydown", unlock);

  // --- browser notifications -------------------------------------------------------------
  function notify(title, body, href, tag) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const note = new Notification(title, { body: body, tag: tag });
      note.onclick = () => {
        window.focus();
        window.location.href = href;
        note.close();
      };
    } catch (e) {
      /* some browsers show notifications only from a service worker */
    }
  }

  // One beep and notification per event, however many console tabs are open.
  function firstTab(eventId) {
    if (!eventId) return true;
    if (stored(LAST_KEY) === eventId) return false;
    store(LAST_KEY, eventId);
    return true;
  }

  // --- the queue: refreshed in place from the server's own page --------------------------
  async function refreshQueue(ticket) {
    try {
      const response = await fetch(window.location.href, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const now = main.querySelector("#queue, p.empty");
      const next = fresh.querySelector("main #queue, main p.empty");
      if (!now || !next) return;
      now.replaceWith(document.adoptNode(next));
      const link = main.querySelector(`#queue a[href="/console/tickets/${ticket}"]`);
      if (link) link.closest("tr").classList.add("alert-new");
    } catch (e) {
      /* offline for a moment: the next event or a reload shows it */
    }
  }

  function handle(event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    const href = `/console/tickets/${data.ticket}`;
    let title, body;
    if (data.type === "new_ticket") {
      title = `New ticket H-${data.ticket}: ${data.reason_label}`;
      body = `${data.channel || "?"} · ${data.language || "?"}`;
      if (window.location.pathname === "/console") refreshQueue(data.ticket);
    } else if (data.type === "shopper_wrote") {
      // Already reading that ticket: its transcript shows the message live.
      if (window.location.pathname === href && document.visibilityState === "visible") return;
      title = `H-${data.ticket}: the shopper wrote`;
      body = "A new message on your ticket";
    } else {
      return;
    }
    show(title, href);
    if (firstTab(event.lastEventId)) {
      notify(title, body, href, `ticket-${data.ticket}`);
      beep();
    }
  }

  // --- the stream ------------------------------------------------------------------------
  let source = null;
  let retryIn = 5000;

  function connect() {
    source = new EventSource("/console/events");
    source.onopen = () => {
      retryIn = 5000;
    };
    source.onmessage = handle;
    source.addEventListener("logout", () => source.close()); // the session ended
    source.onerror = () => {
      // Refused (too many tabs, logged out): the browser gives up, so try again later.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, retryIn);
        retryIn = Math.min(retryIn * 2, 300000);
      }
    };
  }
  connect();
  if (logout) logout.addEventListener("submit", () => source && source.close());
})();
