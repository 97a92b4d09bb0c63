// The assets table: one page of the grid's active assets (GET /assets), updated live from /ui/events, which sends
// each new prediction of the page's assets.
"use strict";

(() => {
  const size = 50;
  const params = new URLSearchParams(location.search);
  let search = params.get("search") || "";
  let page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  let events = null;
  let updates = 0;

  const body = document.querySelector("#assets tbody");
  const status = document.getElementById("status");
  const live = document.getElementById("live");
  document.getElementById("search").value = search;

  function query() {
    return `search=${encodeURIComponent(search)}&page=${page}&size=${size}`;
  }

  function row(asset) {
    const tr = document.createElement("tr");
    tr.dataset.asset = asset.asset;
    tr.append(
      UI.link(asset.asset, `/ui/asset?symbol=${encodeURIComponent(asset.asset)}`),
      UI.cell(asset.latestBar || "-"),
      UI.cell(asset.version ? `${asset.model}:${asset.version}` : "-"),
      UI.cell(UI.number(asset.prediction, 4)),
      UI.cell(asset.drifting ? "yes" : "no"));
    tr.children[0].className = "asset";
    tr.children[1].className = "latest-bar";
    tr.children[2].className = "version";
    tr.children[3].className = "prediction";
    tr.children[4].className = asset.drifting ? "drifting yes" : "drifting";
    return tr;
  }

  function update(prediction) {
    const tr = [...body.rows].find(r => r.dataset.asset === prediction.asset);
    if (!tr) {
      return;
    }
    tr.querySelector(".latest-bar").textContent = prediction.asOf;
    tr.querySelector(".version").textContent = prediction.version ? `${prediction.model}:${prediction.version}` : "-";
    tr.querySelector(".prediction").textContent = UI.number(prediction.prediction, 4);
    tr.classList.remove("updated");
    void tr.offsetWidth;  // restarts the highlight's animation
    tr.classList.add("updated");
    updates += 1;
    live.textContent = `open, ${updates} update${updates === 1 ? "" : "s"}`;
  }

  function listen(count) {
    if (events) {
      events.close();
      events = null;
    }
    if (count === 0) {
      live.textContent = "no assets to watch";
      return;
    }
    live.textContent = "connecting";
    events = new EventSource(`/ui/events?${query()}`);
    updates = 0;
    events.onopen = () => { live.textContent = "open"; };
    events.onerror = () => { live.textContent = "reconnecting"; };
    events.onmessage = message => update(JSON.parse(message.data));
  }

  async function load() {
    history.replaceState(null, "", `/ui?search=${encodeURIComponent(search)}&page=${page}`);
    status.textContent = "Loading...";
    try {
      const result = await UI.getJson(`/assets?${query()}`);
      body.replaceChildren(...result.assets.map(row));
      const pages = Math.max(1, Math.ceil(result.total / result.size));
      status.textContent = `${result.total} active asset${result.total === 1 ? "" : "s"}${search ? ` matching "${search}"` : ""}`;
      document.getElementById("page-of").textContent = `page ${result.page} of ${pages}`;
      document.getElementById("previous").disabled = page <= 1;
      document.getElementById("next").disabled = page >= pages;
      listen(result.assets.length);
    } catch (error) {
      status.textContent = error.message;
      body.replaceChildren();
      listen(0);
    }
  }

  document.getElementById("search-form").addEventListener("submit", event => {
    event.preventDefault();
    search = document.getElementById("search").value.trim();
    page = 1;
    load();
  });
  document.getElementById("previous").addEventListener("click", () => { page -= 1; load(); });
  document.getElementById("next").addEventListener("click", () => { page += 1; load(); });
  load();
})();
