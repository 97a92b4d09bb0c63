// The backtest reports page: the report folders the grid lists, and one report (?report=NAME) shown with its plots
// as images and its Markdown as text. Every name is put in as text; a report's files open from the grid, sandboxed.
"use strict";

(() => {
  const asked = new URLSearchParams(location.search).get("report");
  const status = document.getElementById("status");

  const fileUrl = (report, file) => `/ui/reports/${encodeURIComponent(report)}/${encodeURIComponent(file)}`;

  function row(report) {
    const tr = document.createElement("tr");
    tr.dataset.key = report.name;
    const name = document.createElement("td");
    const open = document.createElement("a");
    open.href = `/ui/reports?report=${encodeURIComponent(report.name)}`;
    open.textContent = report.name;
    name.append(open);
    const files = document.createElement("td");
    for (const file of report.files) {
      const link = document.createElement("a");
      link.href = fileUrl(report.name, file.name);
      link.textContent = file.name;
      files.append(link, " ");
    }
    tr.append(name, UI.cell(report.modified.replace("T", " ").replace("Z", "")), files);
    return tr;
  }

  async function show(report) {
    document.getElementById("report").hidden = false;
    document.getElementById("report-name").textContent = report.name;
    const plots = document.getElementById("plots");
    for (const file of report.files.filter(f => /\.(svg|png)$/i.test(f.name))) {
      const img = document.createElement("img");
      img.src = fileUrl(report.name, file.name);
      img.alt = file.name;
      plots.append(img);
    }
    const markdown = report.files.find(f => /\.md$/i.test(f.name));
    if (markdown) {
      const response = await fetch(fileUrl(report.name, markdown.name));
      document.getElementById("markdown").textContent = response.ok ? await response.text() : `${markdown.name}: HTTP ${response.status}`;
    }
  }

  async function load() {
    try {
      const listing = await UI.getJson("/ui/reports");
      if (listing.directory === null) {
        status.textContent = `No reports directory is set: set ${listing.setting} to the folder that marketintel backtest --report writes report folders into, and restart the grid.`;
        return;
      }
      document.querySelector("#reports tbody").replaceChildren(...listing.reports.map(row));
      status.textContent = `${listing.reports.length} report${listing.reports.length === 1 ? "" : "s"} in ${listing.directory}`;
      if (asked !== null) {
        const report = listing.reports.find(r => r.name === asked);
        if (report) {
          await show(report);
        } else {
          status.textContent = `There is no report '${asked}' in ${listing.directory}`;
        }
      }
    } catch (error) {
      status.textContent = error.message;
    }
  }

  load();
})();
