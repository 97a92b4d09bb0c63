// The models page: the registry's names, and for the one chosen (?name=) its versions with tags and lineage, aliases
// with their A/B splits, shadows, live scores with the paired outcomes the promotion gate reads and what the gate would
// decide on them now, retraining jobs with their progress and the audit trail, all from the grid's JSON endpoints,
// polled every few seconds.
"use strict";

(() => {
  const refreshEvery = 5000;
  const auditShown = 50;
  const jobsShown = 20;
  const chosen = new URLSearchParams(location.search).get("name");
  const status = document.getElementById("status");
  const refreshed = document.getElementById("refreshed");

  function row(cells, key) {
    const tr = document.createElement("tr");
    if (key !== undefined) {
      tr.dataset.key = key;
    }
    tr.append(...cells.map(UI.cell));
    return tr;
  }

  function fill(id, rows, columns) {
    const body = document.querySelector(`#${id} tbody`);
    if (rows.length === 0) {
      const td = UI.cell("none");
      td.colSpan = columns;
      const tr = document.createElement("tr");
      tr.className = "empty";
      tr.append(td);
      body.replaceChildren(tr);
    } else {
      body.replaceChildren(...rows);
    }
  }

  // What each version does now, from the deployment: the aliases naming it, the splits serving it, a shadow.
  function roles(model) {
    const byVersion = new Map();
    const add = (version, role) => byVersion.set(version, [...(byVersion.get(version) || []), role]);
    for (const [alias, target] of Object.entries(model.aliases)) {
      add(target.version, `alias ${alias}`);
      if (target.split) {
        add(target.split.version, `split of ${alias} (${UI.number(target.split.weight * 100, 0)}%)`);
      }
    }
    for (const shadow of model.shadows) {
      add(shadow, "shadow");
    }
    return byVersion;
  }

  function tags(tagged) {
    const entries = Object.entries(tagged);
    return entries.length === 0 ? "-" : entries.map(([key, value]) => `${key}=${value}`).join(", ");
  }

  // Lineage without its reference profile (bins for every feature: too long for a cell), the version it replaces first.
  function lineage(given) {
    if (given === null || typeof given !== "object") {
      return given === null ? "-" : String(given);
    }
    const { profile, ...rest } = given;
    const text = JSON.stringify(rest);
    return given.replaces ? `replaces ${given.replaces}; ${text}` : text;
  }

  function text(value) {
    return value === null || value === undefined ? "-" : typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function showModel(model) {
    const byVersion = roles(model);
    fill("versions", model.versions.map(v => row([
      v.version, (byVersion.get(v.version) || ["-"]).join(", "), v.kind, v.label || "-", v.createdAt, tags(v.tags),
      v.hasProfile ? "yes" : "no", lineage(v.lineage)], v.version)), 8);
    fill("aliases", Object.entries(model.aliases).map(([alias, target]) => row([
      alias, target.version,
      target.split ? `${target.split.version} for ${UI.number(target.split.weight * 100, 1)}% of assets` : "-",
      target.autoPromote ? "on" : "off"], alias)), 4);
    document.getElementById("shadows").textContent = model.shadows.length === 0 ? "none" : model.shadows.join(", ");
  }

  function showScores(scores) {
    fill("scores", scores.versions.map(v => row([
      v.version, v.role, v.label, String(v.outcomes), String(v.hits), UI.number(v.accuracy, 4), UI.number(v.logLoss, 4),
      UI.number(v.brier, 4), UI.number(v.squaredError, 6)], v.version)), 9);
    fill("pairs", scores.pairs.map(p => row([
      p.champion, p.challenger, String(p.pairs), String(p.bothHit), String(p.championOnlyHits), String(p.challengerOnlyHits),
      UI.number(p.meanLossDifference, 4)], `${p.champion}/${p.challenger}`)), 7);
    // The gate's own statistics, as a promotion would record them; a statistic it did not reach is absent or null.
    fill("gate", scores.gate.map(g => {
      const s = g.statistics;
      const known = name => s[name] !== undefined && s[name] !== null;
      const mcnemar = known("mcnemarP") ? `b ${s.b}, c ${s.c}, p ${UI.number(s.mcnemarP, 4)}` : "-";
      const dm = known("dmP") ? `HLN ${UI.number(s.hlnStatistic, 3)}, one-sided p ${UI.number(s.dmP, 4)}` : "-";
      const effect = known("meanLossDifference") && g.pairs > 0
        ? `mean loss difference ${UI.number(s.meanLossDifference, 4)} (${UI.number(s.improvement * 100, 2)}% of the champion's), ` +
          `hit rate ${UI.number((s.c - s.b) / g.pairs * 100, 2)} points on the pairs`
        : "-";
      return row([g.alias, g.champion, g.challenger, g.verdict, `${g.pairs} of ${g.minPairs} needed`, mcnemar, dm, effect,
        UI.number(g.alpha, 3), g.reason], `${g.alias}/${g.challenger}`);
    }), 10);
  }

  function progress(job) {
    const p = job.progress;
    const parts = [`${p.barsRead} bars`, `${p.rows} rows`];
    if (p.folds > 0) {
      parts.push(`fold ${p.foldsDone}/${p.folds}`);
    }
    if (p.rounds > 0) {
      parts.push(`round ${p.roundsDone}/${p.rounds}`);
    }
    return parts.join(", ");
  }

  function showJobs(jobs) {
    fill("jobs", jobs.jobs.map(j => row([
      j.createdAt, j.id, j.trigger, j.state, progress(j), text(j.version), text(j.detail)], j.id)), 7);
  }

  function showAudit(audit) {
    // Newest first: the trail answers oldest first.
    fill("audit", audit.records.slice().reverse().map(r => row([
      String(r.sequence), r.at, r.action, text(r.version), text(r.client), text(r.detail)], String(r.sequence))), 6);
  }

  function showNames(names) {
    const nav = document.getElementById("names");
    nav.replaceChildren(...names.map(name => {
      const a = document.createElement("a");
      a.href = `/ui/models?name=${encodeURIComponent(name)}`;
      a.textContent = name;
      if (name === chosen) {
        a.setAttribute("aria-current", "page");
      }
      return a;
    }));
  }

  async function refresh() {
    try {
      const list = await UI.getJson("/models");
      const names = list.models.map(m => m.name).sort();
      showNames(names);
      const model = list.models.find(m => m.name === chosen);
      if (!chosen) {
        status.textContent = names.length === 0 ? "No model is registered." : `${names.length} model name${names.length === 1 ? "" : "s"}: choose one.`;
      } else if (!model) {
        status.textContent = `No model named "${chosen}" is registered.`;
        document.getElementById("model").hidden = true;
      } else {
        const path = `/models/${encodeURIComponent(chosen)}`;
        const [scores, jobs, audit] = await Promise.all([
          UI.getJson(`${path}/scores`), UI.getJson(`${path}/retrain?limit=${jobsShown}`), UI.getJson(`${path}/audit?limit=${auditShown}`)]);
        showModel(model);
        showScores(scores);
        showJobs(jobs);
        showAudit(audit);
        status.textContent = `${chosen}: ${model.versions.length} version${model.versions.length === 1 ? "" : "s"}`;
        document.getElementById("model").hidden = false;
      }
      refreshed.textContent = new Date().toISOString().slice(11, 19);
    } catch (error) {
      status.textContent = error.message;
    }
  }

  refresh();
  setInterval(refresh, refreshEvery);
})();
