// The console's "try a message" box: POST /api/explain and show the answer as tables.
(function () {
  const box = document.getElementById("try");
  const form = document.getElementById("try-form");
  const result = document.getElementById("try-result");
  if (!box || !form) return;
  const labels = {
    canned_intent: "Canned intent (verifies the order first if it is about one)",
    handoff: "Hand off to a person",
    offer_handoff: "Offer a person",
    faq_answer: "Answer from the FAQ",
    faq_suggestions: "Suggest FAQ entries",
    fallback: "Say it does not know",
  };

  function table(caption, headers, rows) {
    const t = document.createElement("table");
    t.className = "queue";
    const c = document.createElement("caption");
    c.textContent = caption;
    t.append(c);
    const head = t.createTHead().insertRow();
    headers.forEach((h) => { const th = document.createElement("th"); th.textContent = h; head.append(th); });
    const body = t.createTBody();
    rows.forEach((r) => {
      const row = body.insertRow();
      r.forEach((v) => { row.insertCell().textContent = v; });
    });
    return t;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.textContent = "Thinking…";
    try {
      const response = await fetch("/api/explain", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": box.dataset.csrf, accept: "application/json" },
        body: JSON.stringify({ text: form.text.value }),
      });
      const data = await response.json();
      result.textContent = "";
      if (!response.ok) { result.textContent = data.error || "Could not explain."; return; }
      const decision = document.createElement("p");
      decision.className = "decision";
      decision.textContent = "Decision: " + (labels[data.decision] || data.decision);
      result.append(decision);
      result.append(table("Intent ranking", ["intent", "confidence"],
        data.intent_ranking.map((r) => [r.name, r.confidence.toFixed(3)])));
      if (data.entities.length) {
        result.append(table("Entities", ["entity", "value"], data.entities.map((e) => [e.entity, e.value])));
      }
      result.append(table(`FAQ matches (decision: ${data.faq.decision})`, ["entry", "question", "score"],
        data.faq.top.map((m) => [m.id, m.question, m.score.toFixed(3)])));
    } catch (error) {
      result.textContent = "Could not reach the gateway.";
    }
  });
})();
