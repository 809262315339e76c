// The open queue refreshes itself unless someone is typing a search.
(function () {
  const table = document.getElementById("queue");
  if (!table || table.dataset.refresh !== "yes") return;
  setInterval(() => {
    if (document.activeElement && document.activeElement.type === "search") return;
    window.location.reload();
  }, 15000);
})();
