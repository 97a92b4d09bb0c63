// One asset (/ui/asset?symbol=X): its latest prediction (GET /predict), its recent closes with the served version's
// prediction after each bar (the server's SVG price chart), its features (GET /features), the drift of
// each series against its version's reference with the histograms side by side (GET /drift and the server's SVG
// charts), and its bar quality (GET /drift's quality part). Every value goes in as text, never as markup.
"use strict";

(() => {
  const symbol = new URLSearchParams(location.search).get("symbol") || "";
  const asset = encodeURIComponent(symbol);
  const status = document.getElementById("status");

  function row(...cells) {
    const tr = document.createElement("tr");
    tr.append(...cells.map(c => UI.cell(c)));
    return tr;
  }

  async function prediction() {
    const target = document.getElementById("prediction");
    try {
      const p = await UI.getJson(`/predict/${asset}`);
      target.textContent = `${UI.number(p.prediction, 4)} by ${p.model}:${p.version}, after the bar of ${p.asOf}`;
    } catch (error) {
      target.textContent = error.message;
    }
  }

  async function features() {
    const f = await UI.getJson(`/features/${asset}`);
    document.getElementById("features-as-of").textContent = `As of ${f.asOf} (UTC).`;
    const names = Object.keys(f).filter(name => name !== "asOf");
    document.querySelector("#features tbody").replaceChildren(...names.map(name => row(name, UI.number(f[name], 6))));
  }

  function priceChart() {
    const figure = document.getElementById("price-chart");
    const image = document.createElement("img");
    image.src = `/ui/charts/price/${asset}.svg`;
    image.alt = `${symbol}: closes of the latest bars and the prediction after each`;
    image.width = 720;
    image.height = 360;
    image.onerror = () => figure.replaceChildren(UI.paragraph("No bars to chart."));
    figure.replaceChildren(image);
  }

  function chart(name) {
    const figure = document.createElement("figure");
    const image = document.createElement("img");
    image.src = `/ui/charts/drift/${asset}/${encodeURIComponent(name)}.svg`;
    image.alt = `${name}: reference and live histograms`;
    image.width = 720;
    image.height = 360;
    // A window is stored every flush interval: until the first, the chart is a 404 and the page says why.
    image.onerror = () => figure.replaceChildren(UI.paragraph(`${name}: no stored window to chart yet.`));
    const caption = document.createElement("figcaption");
    caption.textContent = name;
    figure.dataset.series = name;
    figure.append(image, caption);
    return figure;
  }

  function drift(d) {
    const version = d.model ? `${d.model}:${d.version}` : "no served version";
    document.getElementById("drift-status").textContent =
      `${version}; ${d.status}; window ${d.count} of ${d.window} bars; ${d.drifting ? "drifting" : "not drifting"}.`;
    const series = d.prediction ? [...d.features, d.prediction] : d.features;
    document.querySelector("#drift tbody").replaceChildren(...series.map(s => {
      const tr = row(s.name, UI.number(s.psi, 4), UI.number(s.js, 4), UI.number(s.wasserstein, 4),
        UI.number(s.pValue, 4), UI.number(s.missingRate, 3), s.drifting ? "yes" : "no");
      tr.dataset.series = s.name;
      tr.lastChild.className = s.drifting ? "drifting yes" : "drifting";
      return tr;
    }));
    document.getElementById("charts").replaceChildren(...(d.status === "ok" || d.status === "warming-up" ? series.map(s => chart(s.name)) : []));

    const q = d.quality;
    document.querySelector("#quality tbody").replaceChildren(
      row("Bars", String(q.bars)),
      row("Usual interval", q.usualIntervalMs === null ? "not learned yet" : `${q.usualIntervalMs / 1000} s`),
      row("Gaps", String(q.gaps)),
      row("Stale runs", `${q.staleRuns}${q.currentStaleBars > 0 ? ` (stale now for ${q.currentStaleBars} bars)` : ""}`),
      row("Spikes", String(q.spikes)),
      row("Rejected bars", String(q.rejected)));
    const item = text => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    };
    document.getElementById("findings").replaceChildren(...(q.findings.length ? q.findings : ["none"]).map(item));
  }

  async function load() {
    document.getElementById("title").textContent = symbol || "Asset";
    document.title = `MarketIntel console: ${symbol}`;
    if (!symbol) {
      status.textContent = "No asset named: open this page from the assets table (/ui/asset?symbol=X).";
      return;
    }
    priceChart();
    try {
      await Promise.all([prediction(), features(), UI.getJson(`/drift/${asset}`).then(drift)]);
      status.textContent = "Loaded.";
    } catch (error) {
      status.textContent = error.message;
    }
  }

  load();
})();
