// Saved replies in a ticket's reply box: "/" at the start of the box opens a list of them,
// filtered by name as the agent types ("/ship" finds "Shipping delay"); arrow keys and Enter,
// or a click, put the version in the shopper's language into the box, with the placeholders
// the verified order could fill already filled; Escape closes the list. The versions come from
// the ticket's saved-replies endpoint, so the page carries no order details for this.
(function () {
  const form = document.getElementById("reply");
  const box = document.getElementById("reply-text");
  const list = document.getElementById("saved-reply-list");
  if (!form || !box || !list || !form.dataset.savedReplies) return;
  const status = document.getElementById("saved-reply-status");
  const select = document.getElementById("saved-reply");
  const PLACEHOLDER = /\{(order_number|tracking_link|first_name)\}/;
  let replies = null; // the ticket's versions, once loaded
  let loading = null;
  let shown = [];
  let active = -1;
  let dismissed = false; // Escape: stay closed until the box no longer starts with "/"

  box.setAttribute("aria-autocomplete", "list");
  box.setAttribute("aria-controls", list.id);
  box.setAttribute("aria-expanded", "false");

  function load() {
    if (!loading) {
      loading = fetch(form.dataset.savedReplies, { headers: { Accept: "application/json" } })
        .then((response) => {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then((data) => {
          replies = data.saved_replies;
          filledSelect();
          if (!list.hidden) refresh();
        })
        .catch(() => {
          loading = null; // try again when the agent next types "/"
          if (!list.hidden) say("Saved replies could not be loaded.");
        });
    }
    return loading;
  }

  // The "Insert a saved reply" menu offers the same versions: it inserts the filled ones too.
  function filledSelect() {
    if (!select) return;
    for (const option of select.options) {
      const reply = replies.find((r) => String(r.id) === option.dataset.id);
      if (reply) option.value = reply.text;
    }
  }

  function say(text) {
    if (status) status.textContent = text;
  }

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  // Every typed word in the name; names that start with the first word come first.
  function matching(query) {
    const words = fold(query).split(/\s+/).filter(Boolean);
    const first = words[0] || "";
    const ranked = [];
    for (const reply of replies) {
      const name = fold(reply.name);
      if (!words.every((word) => name.includes(word))) continue;
      const rank = name.startsWith(first) ? 0 : name.split(/\s+/).some((w) => w.startsWith(first)) ? 1 : 2;
      ranked.push([rank, reply]);
    }
    ranked.sort((a, b) => a[0] - b[0] || a[1].name.localeCompare(b[1].name));
    return ranked.map(([, reply]) => reply);
  }

  // What follows a "/" that starts the box, on its first line only; null when there is none.
  function query() {
    const value = box.value;
    return value.startsWith("/") && !value.includes("\n") ? value.slice(1) : null;
  }

  function refresh() {
    const typed = query();
    if (typed === null) {
      dismissed = false;
      close();
      return;
    }
    if (dismissed) return;
    if (replies === null) {
      load();
      show([], "Loading saved replies…");
      return;
    }
    show(matching(typed), replies.length ? "No saved reply matches." : "No saved replies yet.");
  }

  function show(found, empty) {
    shown = found;
    list.replaceChildren();
    found.forEach((reply, index) => {
      const item = document.createElement("li");
      item.id = `saved-reply-option-${reply.id}`;
      item.setAttribute("role", "option");
      item.dataset.index = String(index);
      const name = document.createElement("span");
      name.className = "name";
      name.dir = "auto";
      name.textContent = reply.name;
      const language = document.createElement("span");
      language.className = "lang";
      language.textContent = reply.language;
      const preview = document.createElement("span");
      preview.className = "preview";
      preview.dir = "auto";
      preview.textContent = reply.text;
      item.append(name, language, preview);
      list.append(item);
    });
    if (!found.length) {
      const none = document.createElement("li");
      none.className = "none";
      none.setAttribute("role", "presentation");
      none.textContent = empty;
      list.append(none);
    }
    list.hidden = false;
    box.setAttribute("aria-expanded", "true");
    active = found.length ? 0 : -1;
    highlight();
    say(found.length ? `${found.length} saved ${found.length === 1 ? "reply" : "replies"}` : empty);
  }

  function close() {
    list.hidden = true;
    box.setAttribute("aria-expanded", "false");
    box.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight() {
    list.querySelectorAll("[role=option]").forEach((item, index) => {
      item.setAttribute("aria-selected", index === active ? "true" : "false");
      if (index === active) {
        box.setAttribute("aria-activedescendant", item.id);
        item.scrollIntoView({ block: "nearest" });
      }
    });
    if (active < 0) box.removeAttribute("aria-activedescendant");
  }

  // The box gets the version; the first placeholder the order could not fill is selected, so
  // the agent types over it rather than sending it.
  function insert(reply) {
    box.value = reply.text;
    dismissed = true;
    close();
    box.focus();
    const gap = PLACEHOLDER.exec(reply.text);
    if (gap) {
      box.setSelectionRange(gap.index, gap.index + gap[0].length);
      say(`Inserted “${reply.name}”. Replace ${gap[0]} before sending.`);
    } else {
      box.setSelectionRange(box.value.length, box.value.length);
      say(`Inserted “${reply.name}”.`);
    }
  }

  box.addEventListener("input", refresh);
  box.addEventListener("focus", refresh);
  box.addEventListener("blur", close);
  box.addEventListener("keydown", (event) => {
    if (list.hidden || event.isComposing) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!shown.length) return;
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + shown.length) % shown.length;
      highlight();
    } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      if (active < 0) return;
      event.preventDefault();
      insert(shown[active]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      dismissed = true;
      close();
      say("");
    }
  });
  list.addEventListener("mousedown", (event) => event.preventDefault()); // focus stays in the box
  list.addEventListener("mousemove", (event) => {
    const item = event.target.closest("[role=option]");
    if (item && Number(item.dataset.index) !== active) {
      active = Number(item.dataset.index);
      highlight();
    }
  });
  list.addEventListener("click", (event) => {
    const item = event.target.closest("[role=option]");
    if (item) insert(shown[Number(item.dataset.index)]);
  });
  load();
})();
