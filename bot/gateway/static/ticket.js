// Live transcript: new messages (the shopper writing while an agent reads) appear without reload.
(function () {
  const ticket = document.getElementById("ticket");
  const list = document.getElementById("transcript");
  if (!ticket || !list) return;
  let last = Number(ticket.dataset.last || 0);

  function render(m) {
    const item = document.createElement("li");
    item.className = "msg " + m.sender;
    item.dataset.id = m.id;
    const who = document.createElement("span");
    who.className = m.agent ? "who name" : "who";
    who.textContent = m.agent || m.sender;
    const time = document.createElement("time");
    time.dateTime = m.time;
    time.textContent = m.time.slice(11, 19); // UTC, like the rest of the page
    const text = document.createElement("p");
    text.dir = "auto";
    text.textContent = m.text;
    item.append(who, time, text);
    if (m.payload && m.payload !== m.text) {
      // A button: what Rasa acted on, beside what the shopper saw.
      const sent = document.createElement("p");
      sent.className = "payload";
      const code = document.createElement("code");
      code.textContent = m.payload;
      sent.append("Rasa was sent ", code);
      item.append(sent);
    }
    list.append(item);
  }

  async function poll() {
    try {
      const response = await fetch(`/console/tickets/${ticket.dataset.ticket}/messages?after=${last}`, {
        headers: { Accept: "application/json" },
      });
      if (response.ok) {
        const data = await response.json();
        for (const m of data.messages) {
          if (!list.querySelector(`[data-id="${m.id}"]`)) render(m);
          last = Math.max(last, m.id);
        }
      }
    } catch (e) {
      /* offline for a moment: try again next time */
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
  const text = document.getElementById("reply-text");
  if (text) {
    // Ctrl/Cmd+Enter sends the reply.
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) text.form.requestSubmit();
    });
  }

  // A saved reply (in the shopper's language where it has a version) goes into the reply box.
  const saved = document.getElementById("saved-reply");
  const box = document.getElementById("reply-text");
  if (saved && box) {
    saved.addEventListener("change", () => {
      if (!saved.value) return;
      box.value = box.value ? box.value + "\n" + saved.value : saved.value;
      saved.value = "";
      box.focus();
    });
  }
})();
