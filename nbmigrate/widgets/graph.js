// Front end of nbmigrate's GraphWidget: draws the SVG the kernel made, maps clicks on nodes back
// to revision ids, and sends button presses to Python. All state lives in the model's traits.

function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function field(label, value, { pre = false } = {}) {
  const shown = value === null || value === undefined || value === "" ? "—" : String(value);
  return h("div", { class: "nbm-gw-field" }, [
    h("span", { class: "nbm-gw-key", text: label }),
    pre ? h("pre", { class: "nbm-gw-code", text: shown }) : h("span", { text: shown }),
  ]);
}

function render({ model, el }) {
  const toolbar = h("div", { class: "nbm-gw-toolbar" });
  const select = h("select", { class: "nbm-gw-select", "aria-label": "Revision" });
  const summary = h("span", { class: "nbm-gw-summary" });
  const spinner = h("span", { class: "nbm-gw-busy", text: "Running…" });
  toolbar.append(h("label", { text: "Revision " }, [select]), summary, spinner);

  const svgBox = h("div", { class: "nbm-gw-svg" });
  const side = h("div", { class: "nbm-gw-side" });
  const detailsBox = h("div", { class: "nbm-gw-details" });
  const upgradeBtn = h("button", { class: "nbm-gw-btn", type: "button", text: "Upgrade to here" });
  const downgradeBtn = h("button", { class: "nbm-gw-btn", type: "button", text: "Downgrade to here" });
  const actions = h("div", { class: "nbm-gw-actions" }, [upgradeBtn, downgradeBtn]);
  const pendingBox = h("div", { class: "nbm-gw-pending" });
  const errorBox = h("pre", { class: "nbm-gw-error", role: "alert" });
  const resultBox = h("div", { class: "nbm-gw-result" });
  side.append(detailsBox, actions, pendingBox, errorBox, resultBox);

  const legend = h("div", { class: "nbm-gw-legend" });
  const root = h("div", { class: "nbm-gw" }, [
    toolbar,
    h("div", { class: "nbm-gw-main" }, [svgBox, side]),
    legend,
  ]);
  el.append(root);

  const send = (content) => model.send(content);

  function setSelected(rev) {
    model.set("selected", rev);
    model.save_changes();
  }

  function nodeFor(rev) {
    if (!rev) return null;
    return svgBox.querySelector(`[id="${CSS.escape("rev-" + rev)}"]`);
  }

  function markSelected() {
    for (const old of svgBox.querySelectorAll(".nbm-gw-selected")) {
      old.classList.remove("nbm-gw-selected");
    }
    const node = nodeFor(model.get("selected"));
    if (node) node.classList.add("nbm-gw-selected");
  }

  function drawSvg() {
    // The SVG comes from graphviz with every label escaped; it holds no scripts.
    svgBox.innerHTML = model.get("svg");
    markSelected();
  }

  function drawOptions() {
    const current = model.get("selected");
    select.replaceChildren(h("option", { value: "", text: "— choose a revision —" }));
    for (const rev of model.get("revisions")) {
      const option = h("option", { value: rev.id, text: `${rev.label} [${rev.state}]` });
      select.append(option);
    }
    select.value = current || "";
  }

  function drawDetails() {
    const d = model.get("details") || {};
    detailsBox.replaceChildren();
    if (!d.id) {
      detailsBox.append(h("div", { class: "nbm-gw-hint", text: "Click a revision in the graph, or choose one above." }));
    } else {
      detailsBox.append(
        h("div", { class: "nbm-gw-title" }, [
          h("code", { text: d.id }),
          h("span", { class: `nbm-gw-state nbm-gw-state-${d.state}`, text: d.state }),
        ]),
        field("Message", d.message),
        field("Kinds", (d.kinds || []).join(", ")),
        field("Branch labels", (d.branch_labels || []).join(", ")),
        field("Revises", (d.down_revisions || []).join(", ") || "<base>"),
        field("Depends on", (d.dependencies || []).join(", ")),
        field("File", d.path),
        field("Docstring", d.doc, { pre: true }),
        field("upgrade()", d.upgrade, { pre: true }),
        field("downgrade()", d.downgrade, { pre: true }),
      );
    }
    drawButtons();
    select.value = model.get("selected") || "";
    markSelected();
  }

  function drawButtons() {
    const d = model.get("details") || {};
    const busy = model.get("busy");
    const waiting = model.get("needs_confirm");
    // Only offer moves that go somewhere: up to a pending revision, down to an applied one.
    upgradeBtn.disabled = busy || waiting || d.state !== "pending";
    downgradeBtn.disabled = busy || waiting || d.state !== "applied";
    upgradeBtn.title = d.id ? `%migrate upgrade ${d.id}` : "";
    downgradeBtn.title = d.id ? `%migrate downgrade ${d.id}` : "";
    spinner.style.display = busy ? "" : "none";
  }

  function drawPending() {
    const line = model.get("pending_line");
    pendingBox.replaceChildren();
    drawButtons();
    if (!line) return;
    pendingBox.append(h("code", { class: "nbm-gw-line", text: line }));
    if (model.get("needs_confirm")) {
      const ok = h("button", { class: "nbm-gw-btn nbm-gw-danger", type: "button", text: "Confirm" });
      const no = h("button", { class: "nbm-gw-btn", type: "button", text: "Cancel" });
      ok.disabled = model.get("busy");
      ok.addEventListener("click", () => send({ action: "confirm" }));
      no.addEventListener("click", () => send({ action: "cancel" }));
      pendingBox.append(
        h("div", { class: "nbm-gw-warn", text: model.get("warning") || "Run it?" }),
        h("div", { class: "nbm-gw-actions" }, [ok, no]),
      );
    }
  }

  function drawError() {
    const text = model.get("error");
    errorBox.textContent = text;
    errorBox.style.display = text ? "" : "none";
  }

  function drawResult() {
    // Result objects render their own self-contained HTML (nbmigrate.render).
    resultBox.innerHTML = model.get("result_html");
  }

  function drawSummary() {
    summary.textContent = model.get("summary");
    legend.innerHTML = model.get("legend_html");
  }

  svgBox.addEventListener("click", (event) => {
    const node = event.target.closest("g.node");
    if (!node || !svgBox.contains(node)) return;
    const id = node.id || "";
    if (id.startsWith("rev-")) setSelected(id.slice(4));
    else if (id.startsWith("run-") && model.get("can_expand")) send({ action: "expand", rev: id.slice(4) });
  });
  select.addEventListener("change", () => setSelected(select.value));
  upgradeBtn.addEventListener("click", () => {
    const rev = model.get("selected");
    if (rev) send({ action: "upgrade", rev });
  });
  downgradeBtn.addEventListener("click", () => {
    const rev = model.get("selected");
    if (rev) send({ action: "downgrade", rev });
  });

  const listeners = [
    ["change:svg", drawSvg],
    ["change:revisions", drawOptions],
    ["change:selected", markSelected],
    ["change:details", drawDetails],
    ["change:pending_line", drawPending],
    ["change:needs_confirm", drawPending],
    ["change:warning", drawPending],
    ["change:busy", drawPending],
    ["change:error", drawError],
    ["change:result_html", drawResult],
    ["change:summary", drawSummary],
    ["change:legend_html", drawSummary],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);

  drawSvg();
  drawOptions();
  drawDetails();
  drawPending();
  drawError();
  drawResult();
  drawSummary();
  const stopHiding = hideStaticCopy(el);

  return () => {
    stopHiding();
    for (const [event, fn] of listeners) model.off(event, fn);
  };
}

// In a notebook the kernel publishes a static copy of the graph just before the widget (see
// GraphWidget._ipython_display_), so that a saved or exported notebook shows the graph where no
// widget can run. While this live view is on the page, that copy in the same cell is hidden.
function hideStaticCopy(el) {
  let tries = 0;
  let timer = null;
  const hide = () => {
    const area = el.isConnected ? el.closest(".jp-OutputArea, .output_area, .output, .cell-output") : null;
    if (area) {
      for (const copy of area.querySelectorAll(".nbm-graph-static")) {
        (copy.closest(".jp-OutputArea-child") || copy).style.display = "none";
      }
      return;
    }
    // The view may be rendered before it is attached to the page: look again shortly.
    if (tries++ < 40) timer = setTimeout(hide, 25);
  };
  hide();
  return () => clearTimeout(timer);
}

export default { render };
