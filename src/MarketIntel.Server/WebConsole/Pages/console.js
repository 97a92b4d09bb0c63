// What every console page shares: fetching the grid's JSON and showing its errors.
"use strict";

const UI = {
  // GET a JSON path of the grid; rejects with the grid's own error message.
  async getJson(path) {
    const response = await fetch(path, { headers: { accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(body.error || `${path}: HTTP ${response.status}`);
    }
    return body;
  },

  // A cell holding text only: symbols and model names are data, never markup.
  cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  },

  // A cell holding a link to a console page, its text as text.
  link(text, href) {
    const td = document.createElement("td");
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    td.append(a);
    return td;
  },

  // A paragraph holding text only.
  paragraph(text) {
    const p = document.createElement("p");
    p.textContent = text;
    return p;
  },

  number(value, digits) {
    return value === null || value === undefined ? "-" : Number(value).toFixed(digits);
  },
};
