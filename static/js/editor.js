/* The distribution editor: one for the prior, the prediction and the posterior forms of the question page.
 *
 * The forms work without JavaScript (three percentiles and the tail masses, posted to the page). With it, this file
 * adds entry modes, builds the spec in the browser, and sends it to the API's preview (POST
 * /api/questions/{id}/preview/, the same validation as a stored distribution) as the person types: debounced, one
 * request at a time, the latest spec winning. The live plot (static/js/plot.js) and a summary show what would be
 * saved; the engine's refusals appear beside the field they name and keep the form from being sent; a lognormal that
 * misses a typed quantile is shown beside the exact shape through the points, and the person chooses. On submit the
 * final spec goes in the form's hidden `spec_json` field, which the server validates again.
 *
 * Every p is the total probability P(X <= x), the probability beyond the range included (DESIGN.md).
 */
(function () {
  "use strict";

  const P = window.FAPlot;
  const DEBOUNCE_MS = 250;
  const QUICK = [["p5", 0.05, "5th percentile", "5%"], ["p50", 0.5, "Median", "50%"], ["p95", 0.95, "95th percentile", "95%"]];
  const KIND_LABEL = { prior: "Your prior", prediction: "Your prediction", posterior: "Your posterior" };

  /** A small DOM builder: el("p", {class: "x"}, ["text", child]). */
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function labelled(id, label, attrs) {
    // A text input and its label, as one row.
    const input = el("input", Object.assign({ type: "text", id: id, autocomplete: "off" }, attrs || {}));
    return { row: el("p", {}, [el("label", { for: id, text: label }), input]), input: input };
  }

  /** One preview request at a time; requests are debounced, and an answer a newer spec has overtaken is dropped. */
  class Previewer {
    constructor(url, token, onResult) {
      this.url = url;
      this.token = token;
      this.onResult = onResult;
      this.wanted = null;
      this.busy = false;
      this.timer = null;
    }

    request(item, now) {
      this.wanted = item;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => { this.timer = null; this.pump(); }, now ? 0 : DEBOUNCE_MS);
    }

    cancel() {
      this.wanted = null;
      clearTimeout(this.timer);
      this.timer = null;
    }

    async pump() {
      if (this.busy || !this.wanted) return;
      const item = this.wanted;
      this.wanted = null;
      this.busy = true;
      let result;
      try {
        result = await this.run(item);
      } catch (error) {
        result = { main: { ok: false, status: 0, body: null }, exact: null };
      }
      this.busy = false;
      if (!this.wanted) this.onResult(item, result);
      else if (this.timer === null) this.pump();
    }

    async post(spec) {
      const response = await fetch(this.url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": this.token },
        body: JSON.stringify({ spec: spec }),
      });
      let body = null;
      try { body = await response.json(); } catch (error) { body = null; }
      return { ok: response.ok, status: response.status, body: body };
    }

    async run(item) {
      const main = await this.post(item.spec);
      let exact = null;
      // The fitted shape misses a typed point: preview the exact shape through the points too, to offer both.
      if (item.quantiles && main.ok && main.body && main.body.fit && main.body.fit.good === false) {
        exact = await this.post(Object.assign({}, item.spec, { shape: "exact" }));
      }
      return { main: main, exact: exact };
    }
  }

  class Editor {
    constructor(form, data) {
      this.form = form;
      this.data = data;
      this.axis = data.axis;
      this.kind = data.kind;
      this.prefix = data.kind;
      this.scale = this.axis.scale;
      this.fieldset = form.querySelector("fieldset");
      this.submit = form.querySelector("button[type=submit]");
      this.specInput = form.elements[this.prefix + "-spec_json"];
      this.quick = Object.fromEntries(QUICK.map(([name]) => [name, form.elements[this.prefix + "-" + name]]));
      this.massBelow = form.elements[this.prefix + "-mass_below"] || null;
      this.massAbove = form.elements[this.prefix + "-mass_above"] || null;
      this.choice = null;
      this.result = null;
      this.built = null;
      const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
      this.previewer = new Previewer(data.preview_url, token, (item, result) => this.answered(item, result));
      this.build();
      this.load(this.startSpec());
      this.changed(true);
    }

    // --- building the editor around the server's form ----------------------------------------------------------

    build() {
      const id = (name) => `${this.prefix}-ed-${name}`;
      this.root = el("div", { class: "editor", "data-testid": "editor" });
      const modes = [["quick", "Quick: 5th, 50th, 95th percentiles"], ["table", "Quantile table"],
        ["interval", "90% interval"],
        ["lognormal", this.scale === "linear" ? "Normal (mean, sd)" : "Lognormal (median, σ)"],
        ["histogram", "Histogram bins"], ["cdf", "Paste a 201-point CDF"]];
      if (this.scale === "log") modes.push(["trend", "Trend (doubling time)"]);
      this.modeBox = el("fieldset", { class: "editor-modes" }, [el("legend", { text: "How to give it" })]);
      this.modeInputs = {};
      for (const [value, text] of modes) {
        const input = el("input", { type: "radio", name: id("mode"), value: value, id: id("mode-" + value) });
        input.addEventListener("change", () => this.setMode(value, true));
        this.modeInputs[value] = input;
        this.modeBox.append(el("label", { for: id("mode-" + value) }, [input, " " + text]));
      }
      this.root.append(this.modeBox);
      this.root.append(el("p", { class: "muted", "data-testid": "percentile-rule",
        text: "Every p is the total probability P(X ≤ x): the probability beyond the range counts too." }));
      this.panels = {};
      const panel = (mode) => {
        const div = el("div", { class: "panel", "data-mode": mode, hidden: true });
        this.panels[mode] = div;
        this.root.append(div);
        return div;
      };

      // Quick: the server's own fields, moved in (they keep their names and what the server put in them).
      const quick = panel("quick");
      for (const [name] of QUICK) quick.append(this.quick[name].closest("p"));

      // Quantile table: any number of (p, x) rows.
      const table = panel("table");
      this.tableBody = el("tbody");
      table.append(el("table", { class: "editor-table", "data-testid": "quantile-table" }, [
        el("caption", { class: "muted", text: "p = P(X ≤ x), tails included, between 0 and 1" }),
        el("thead", {}, [el("tr", {}, [el("th", { text: "p" }), el("th", { text: "x" }), el("th")])]),
        this.tableBody]));
      const addRow = el("button", { type: "button", text: "Add a row" });
      addRow.addEventListener("click", () => { this.addRow("", ""); this.changed(); });
      table.append(addRow);

      // 90% interval: two quantiles (5% and 95%, tails included); two points fit exactly.
      const interval = panel("interval");
      this.intervalLow = labelled(id("low"), "5th percentile (P(X ≤ x) = 0.05)");
      this.intervalHigh = labelled(id("high"), "95th percentile (P(X ≤ x) = 0.95)");
      interval.append(this.intervalLow.row, this.intervalHigh.row);

      // Lognormal (median, sigma of ln X) on log and date scales; normal (mean, sd) on a linear one.
      const logn = panel("lognormal");
      if (this.scale === "linear") {
        this.lnCentre = labelled(id("mean"), "Mean");
        this.lnSpread = labelled(id("sd"), "Standard deviation");
      } else {
        this.lnCentre = labelled(id("median"), this.scale === "date" ? "Median (YYYY-MM-DD)" : "Median");
        this.lnSpread = labelled(id("sigma"), this.scale === "date" ? "σ of ln(years after the lower bound)" : "σ of ln X");
      }
      logn.append(this.lnCentre.row, this.lnSpread.row);

      // Histogram: probability per interval, flat within each.
      const hist = panel("histogram");
      this.binBody = el("tbody");
      hist.append(el("table", { class: "editor-table", "data-testid": "histogram-table" }, [
        el("caption", { class: "muted", text: "Probability in each interval; with the tail masses they sum to 1" }),
        el("thead", {}, [el("tr", {}, [el("th", { text: "from" }), el("th", { text: "to" }), el("th", { text: "p" }), el("th")])]),
        this.binBody]));
      const addBin = el("button", { type: "button", text: "Add a bin" });
      addBin.addEventListener("click", () => { this.addBin("", "", ""); this.changed(); });
      hist.append(addBin);

      // A CDF from elsewhere, on this question's grid.
      const cdf = panel("cdf");
      this.cdfText = el("textarea", { id: id("cdf"), rows: 4, cols: 40,
        placeholder: "201 numbers from 0 to 1, separated by commas or spaces" });
      cdf.append(el("p", {}, [el("label", { for: id("cdf"), text: "CDF at the 201 grid points (tail masses included)" }), this.cdfText]));

      if (this.scale === "log") {
        // X = value * 2^(t / d), d lognormal with the given 90% interval (months), t from `at` to the question's date.
        const trend = panel("trend");
        this.trendValue = labelled(id("value"), "Value on the trend");
        this.trendAt = labelled(id("at"), "Measured on (YYYY-MM-DD)");
        this.trendLow = labelled(id("dlow"), "Doubling time, 5th percentile (months)");
        this.trendHigh = labelled(id("dhigh"), "Doubling time, 95th percentile (months)");
        this.trendAtDate = labelled(id("atdate"), "The date the question is about (YYYY-MM-DD)",
          { placeholder: this.data.closes_at });
        this.trendAtDate.row.append(el("span", { class: "helptext",
          text: `empty: the question's closing date, ${this.data.closes_at}` }));
        trend.append(this.trendValue.row, this.trendAt.row, this.trendLow.row, this.trendHigh.row, this.trendAtDate.row);
      }

      // The tail masses (the server's fields), for every mode but a pasted CDF, which holds its own.
      this.tails = el("div", { class: "tails" });
      for (const input of [this.massBelow, this.massAbove]) if (input) this.tails.append(input.closest("p"));
      this.root.append(this.tails);

      // The choice between the fitted shape and the exact one, shown when the fit misses a typed point.
      const family = this.scale === "linear" ? "normal" : "lognormal";
      this.shapeBox = el("fieldset", { class: "shape-choice", hidden: true, "data-testid": "shape-choice" });
      this.shapeLegend = el("legend");
      this.shapeBox.append(this.shapeLegend);
      this.shapeInputs = {};
      for (const [value, text] of [["fitted", `${family} fit`], ["exact", "exact through my points"]]) {
        const input = el("input", { type: "radio", name: id("shape"), value: value, id: id("shape-" + value) });
        input.addEventListener("change", () => { this.choice = value; this.refresh(); });
        this.shapeInputs[value] = input;
        this.shapeBox.append(el("label", { for: id("shape-" + value) }, [input, " " + text]));
      }
      this.exactStatus = el("p", { class: "muted", "data-testid": "exact-status" });
      this.shapeBox.append(this.exactStatus);
      this.root.append(this.shapeBox);

      // The preview: what would be saved, before anything is.
      this.general = el("p", { class: "field-error", role: "alert", "data-testid": "editor-error" });
      this.status = el("p", { class: "muted", "aria-live": "polite", "data-testid": "editor-status" });
      this.median = el("dd", { "data-testid": "preview-median", text: "—" });
      this.interval = el("dd", { "data-testid": "preview-interval", text: "—" });
      this.tailsOut = el("dd", { "data-testid": "preview-tails", text: "—" });
      this.fitOut = el("dd", { "data-testid": "preview-fit", text: "—" });
      const unit = this.axis.unit ? ` (${this.axis.unit})` : "";
      const summary = el("dl", { class: "preview-summary", "data-testid": "preview-summary" }, [
        el("dt", { text: "Median" + unit }), this.median,
        el("dt", { text: "5th – 95th percentile (90%)" }), this.interval,
        el("dt", { text: "Beyond the range" }), this.tailsOut,
        el("dt", { text: "Fit" }), this.fitOut]);
      this.plotBox = el("div", { class: "editor-plot", "data-testid": "editor-plot" });
      this.root.append(el("div", { class: "preview", "aria-label": "preview" }, [this.general, this.status, summary, this.plotBox]));
      const legend = this.fieldset.querySelector("legend");
      legend.after(this.root);
      this.plot = new P.Plot(this.plotBox, {
        axis: this.axis, label: `${KIND_LABEL[this.kind]}, as it would be saved`,
        onHandle: (handleId, x, done) => this.handleMoved(handleId, x, done),
      });
      this.root.addEventListener("input", (event) => {
        if (event.target.type !== "radio") this.changed();
      });
      this.form.addEventListener("submit", (event) => this.submitting(event));
    }

    addRow(p, x) {
      const i = this.tableBody.children.length;
      const pIn = el("input", { type: "text", "aria-label": `row ${i + 1}: p`, value: p, size: 6, "data-role": "p" });
      const xIn = el("input", { type: "text", "aria-label": `row ${i + 1}: x`, value: x, size: 12, "data-role": "x" });
      const remove = el("button", { type: "button", "aria-label": `Remove row ${i + 1}`, text: "Remove" });
      const row = el("tr", {}, [el("td", {}, [pIn]), el("td", {}, [xIn]), el("td", {}, [remove])]);
      remove.addEventListener("click", () => { row.remove(); this.changed(); });
      this.tableBody.append(row);
    }

    addBin(lo, hi, p) {
      const i = this.binBody.children.length;
      const inputs = [["lo", lo, "from"], ["hi", hi, "to"], ["p", p, "p"]].map(([role, value, name]) =>
        el("input", { type: "text", "aria-label": `bin ${i + 1}: ${name}`, value: value, size: 10, "data-role": role }));
      const remove = el("button", { type: "button", "aria-label": `Remove bin ${i + 1}`, text: "Remove" });
      const row = el("tr", {}, inputs.map((input) => el("td", {}, [input])).concat([el("td", {}, [remove])]));
      remove.addEventListener("click", () => { row.remove(); this.changed(); });
      this.binBody.append(row);
    }

    setMode(mode, carry) {
      if (carry && this.mode && this.mode !== mode) this.carryOver(mode);
      this.mode = mode;
      this.modeInputs[mode].checked = true;
      for (const [name, div] of Object.entries(this.panels)) div.hidden = name !== mode;
      this.tails.hidden = mode === "cdf";
      if (carry) this.changed();
    }

    carryOver(mode) {
      // A new mode starts from what the quick fields say when it is still empty.
      const q = (name) => this.quick[name].value.trim();
      if (mode === "table" && ![...this.tableBody.querySelectorAll("input")].some((i) => i.value.trim())) {
        this.tableBody.replaceChildren();
        for (const [name, p] of QUICK) this.addRow(String(p), q(name));
      } else if (mode === "interval" && !this.intervalLow.input.value && !this.intervalHigh.input.value) {
        this.intervalLow.input.value = q("p5");
        this.intervalHigh.input.value = q("p95");
      } else if (mode === "lognormal" && !this.lnCentre.input.value && this.scale !== "linear") {
        this.lnCentre.input.value = q("p50");
      }
    }

    // --- starting values -----------------------------------------------------------------------------------------

    startSpec() {
      // A refused post comes back with the spec the person sent; otherwise the page says where to start from.
      const sent = this.specInput.value.trim();
      if (sent) {
        try { return JSON.parse(sent); } catch (error) { /* fall through to the saved one */ }
      }
      return this.data.start;
    }

    load(spec) {
      for (let i = 0; i < 3; i++) this.addRow("", "");
      for (let i = 0; i < 3; i++) this.addBin("", "", "");
      const mode = this.modeFor(spec);
      if (mode !== "quick" || (spec && spec.type === "quantiles")) {
        if (this.massBelow) this.massBelow.value = spec.mass_below === undefined ? "" : spec.mass_below;
        if (this.massAbove) this.massAbove.value = spec.mass_above === undefined ? "" : spec.mass_above;
      }
      if (spec && spec.shape === "exact") {
        this.choice = "exact";
        this.shapeInputs.exact.checked = true;
      }
      // Numbers as people type them (1e13, not 10000000000000), without losing a digit of what was saved.
      const text = (v) => (v === undefined || v === null ? "" : typeof v === "number" ? P.formatNumber(v, 15) : String(v));
      if (mode === "quick" && spec && spec.type === "quantiles") {
        for (const [name, p] of QUICK) {
          const point = spec.points.find((pt) => pt.p === p);
          this.quick[name].value = point ? text(point.x) : "";
        }
      } else if (mode === "table") {
        this.tableBody.replaceChildren();
        for (const point of spec.points) this.addRow(text(point.p), text(point.x));
      } else if (mode === "interval") {
        const [low, high] = spec.type === "lognormal" ? [spec.low, spec.high] : [spec.points[0].x, spec.points[1].x];
        this.intervalLow.input.value = text(low);
        this.intervalHigh.input.value = text(high);
      } else if (mode === "lognormal") {
        this.lnCentre.input.value = text(spec.type === "normal" ? spec.mean : spec.median);
        this.lnSpread.input.value = text(spec.type === "normal" ? spec.sd : spec.sigma);
      } else if (mode === "histogram") {
        this.binBody.replaceChildren();
        for (const bin of spec.bins) this.addBin(text(bin.lo), text(bin.hi), text(bin.p));
      } else if (mode === "cdf") {
        this.cdfText.value = spec.cdf.join(", ");
      } else if (mode === "trend") {
        this.trendValue.input.value = text(spec.value);
        this.trendAt.input.value = text(spec.at);
        this.trendLow.input.value = text((spec.doubling_months || {}).low);
        this.trendHigh.input.value = text((spec.doubling_months || {}).high);
        this.trendAtDate.input.value = text(spec.at_date);
      }
      this.setMode(mode, false);
    }

    modeFor(spec) {
      // The mode that shows a saved spec as typed; anything else starts from the quick fields the server filled in
      // from the stored summary (a mixture, say).
      if (!spec || typeof spec !== "object") return "quick";
      const quickP = QUICK.map(([, p]) => p);
      if (spec.type === "quantiles" && Array.isArray(spec.points)) {
        if (spec.points.every((pt) => pt && quickP.includes(pt.p))) return "quick";
        if (spec.points.length === 2 && spec.points[0].p === 0.05 && spec.points[1].p === 0.95) return "interval";
        return "table";
      }
      if (spec.type === "lognormal" && "low" in spec && "high" in spec) return "interval";
      if (spec.type === "lognormal" && this.scale !== "linear" && "median" in spec) return "lognormal";
      if (spec.type === "normal" && this.scale === "linear") return "lognormal";
      if (spec.type === "histogram" && Array.isArray(spec.bins)) return "histogram";
      if (spec.type === "cdf" && Array.isArray(spec.cdf)) return "cdf";
      if (spec.type === "trend" && this.scale === "log") return "trend";
      return "quick";
    }

    // --- the spec from the fields --------------------------------------------------------------------------------

    value(raw) {
      // What a field holds, for the spec: a number where it reads as one, else the text as typed (a date on a date
      // question), so the engine names the field and its rule.
      const text = raw.trim();
      if (this.scale === "date" && !/^[-+]?[0-9.]+(e[-+]?[0-9]+)?$/i.test(text)) return text;
      const number = Number(text);
      return text !== "" && Number.isFinite(number) ? number : text;
    }

    probability(raw) {
      const text = raw.trim();
      const number = Number(text);
      return text !== "" && Number.isFinite(number) ? number : text;
    }

    /** {spec, paths (spec path -> element), handles, quantiles, incomplete} from the current mode's fields. */
    read() {
      const paths = {};
      const handles = [];
      let spec = null;
      let incomplete = null;
      const points = (rows) => {
        const out = [];
        for (const row of rows) {
          paths[`points[${out.length}].p`] = row.pInput;
          paths[`points[${out.length}].x`] = row.xInput;
          out.push({ p: row.p, x: this.value(row.x) });
          if (row.handle) handles.push(Object.assign({ x: this.value(row.x) }, row.handle));
        }
        return out;
      };
      if (this.mode === "quick" || this.mode === "table" || this.mode === "interval") {
        let rows = [];
        if (this.mode === "quick") {
          for (const [name, p, label, short] of QUICK) {
            const input = this.quick[name];
            if (input.value.trim()) {
              rows.push({ p: p, x: input.value, xInput: input, pInput: input,
                handle: { id: name, label: `${label} (P(X ≤ x) = ${p})`, short: short, input: input } });
            }
          }
        } else if (this.mode === "interval") {
          rows = [[0.05, this.intervalLow.input, "5th percentile", "5%"], [0.95, this.intervalHigh.input, "95th percentile", "95%"]]
            .filter(([, input]) => input.value.trim())
            .map(([p, input, label, short]) => ({ p: p, x: input.value, xInput: input, pInput: input,
              handle: { id: input.id, label: label, short: short, input: input } }));
        } else {
          [...this.tableBody.children].forEach((tr, i) => {
            const pInput = tr.querySelector("[data-role=p]");
            const xInput = tr.querySelector("[data-role=x]");
            if (!pInput.value.trim() && !xInput.value.trim()) return;
            const p = this.probability(pInput.value);
            rows.push({ p: p, x: xInput.value, xInput: xInput, pInput: pInput,
              handle: { id: "row" + i, label: `row ${i + 1} (p = ${pInput.value.trim()})`, short: `p ${pInput.value.trim()}`, input: xInput } });
          });
        }
        if (rows.length < 2) incomplete = "Give at least two percentiles to see the shape.";
        spec = { type: "quantiles", points: points(rows) };
      } else if (this.mode === "lognormal") {
        const centre = this.lnCentre.input;
        const spread = this.lnSpread.input;
        if (!centre.value.trim() || !spread.value.trim()) incomplete = "Give both numbers to see the shape.";
        if (this.scale === "linear") {
          spec = { type: "normal", mean: this.value(centre.value), sd: this.probability(spread.value) };
          Object.assign(paths, { mean: centre, sd: spread });
        } else {
          spec = { type: "lognormal", median: this.value(centre.value), sigma: this.probability(spread.value) };
          Object.assign(paths, { median: centre, sigma: spread });
        }
        if (centre.value.trim()) handles.push({ id: centre.id, label: this.scale === "linear" ? "Mean" : "Median", short: "median", x: this.value(centre.value), input: centre });
      } else if (this.mode === "histogram") {
        const bins = [];
        paths.bins = this.binBody.closest("table");
        for (const tr of this.binBody.children) {
          const get = (role) => tr.querySelector(`[data-role=${role}]`);
          if (!["lo", "hi", "p"].some((role) => get(role).value.trim())) continue;
          for (const role of ["lo", "hi", "p"]) paths[`bins[${bins.length}].${role}`] = get(role);
          bins.push({ lo: this.value(get("lo").value), hi: this.value(get("hi").value), p: this.probability(get("p").value) });
        }
        if (!bins.length) incomplete = "Give at least one bin to see the shape.";
        spec = { type: "histogram", bins: bins };
      } else if (this.mode === "cdf") {
        const text = this.cdfText.value.trim();
        let values;
        try {
          values = JSON.parse(text);
        } catch (error) {
          values = text.split(/[\s,;[\]]+/).filter((v) => v !== "").map((v) => this.probability(v));
        }
        if (!text) incomplete = "Paste the 201 numbers to see the shape.";
        paths.cdf = this.cdfText;
        spec = { type: "cdf", cdf: values };
      } else if (this.mode === "trend") {
        const fields = { value: this.trendValue.input, at: this.trendAt.input, "doubling_months.low": this.trendLow.input,
          "doubling_months.high": this.trendHigh.input, at_date: this.trendAtDate.input, doubling_months: this.trendLow.input };
        Object.assign(paths, fields);
        if (!["value", "at", "doubling_months.low", "doubling_months.high"].every((key) => fields[key].value.trim())) {
          incomplete = "Give the value, its date and both doubling times to see the shape.";
        }
        spec = { type: "trend", value: this.probability(fields.value.value), at: fields.at.value.trim(),
          doubling_months: { low: this.probability(fields["doubling_months.low"].value),
            high: this.probability(fields["doubling_months.high"].value) } };
        if (fields.at_date.value.trim()) spec.at_date = fields.at_date.value.trim();
      }
      if (this.mode !== "cdf") {
        for (const [key, input] of [["mass_below", this.massBelow], ["mass_above", this.massAbove]]) {
          if (input && input.value.trim()) {
            spec[key] = this.probability(input.value);
            paths[key] = input;
          }
        }
      }
      return { spec: spec, paths: paths, handles: handles, incomplete: incomplete,
        quantiles: spec.type === "quantiles", key: JSON.stringify(spec) };
    }

    // --- typing, previews and errors -----------------------------------------------------------------------------

    changed(now) {
      const built = this.read();
      if (this.built && built.key === this.built.key && !now) {
        this.plot.update({ series: this.series(), handles: built.handles });
        return;
      }
      this.built = built;
      // What the server put beside the fields on a refused post no longer describes what is typed now.
      if (!now) this.root.querySelectorAll("ul.errorlist").forEach((list) => list.remove());
      if (built.incomplete) {
        this.previewer.cancel();
        this.clearErrors();
        this.result = null;
      } else {
        this.previewer.request(built, now);
      }
      this.refresh();
    }

    handleMoved(handleId, x, done) {
      const handle = (this.built ? this.built.handles : []).find((h) => h.id === handleId);
      if (!handle) return;
      handle.input.value = typeof x === "number" ? P.formatNumber(x) : x;
      this.changed();
    }

    answered(item, result) {
      this.result = { key: item.key, main: result.main, exact: result.exact, paths: item.paths };
      if (!this.poor()) this.choice = null;
      this.refresh();
    }

    poor() {
      const r = this.result;
      return !!(r && r.main.ok && r.main.body.fit && r.main.body.fit.good === false);
    }

    current() {
      // The answer for what is typed now, or null while it is on its way.
      return this.result && this.built && this.result.key === this.built.key ? this.result : null;
    }

    clearErrors() {
      this.root.querySelectorAll(".field-error[data-for]").forEach((node) => node.remove());
      this.root.querySelectorAll("[aria-invalid=true]").forEach((node) => {
        node.removeAttribute("aria-invalid");
        node.removeAttribute("aria-describedby");
      });
      this.general.textContent = "";
    }

    showErrors(body, paths) {
      // The engine's 400: {"spec": ["points[1].x: must be ..."]}; each message goes beside the field it names.
      const messages = [];
      for (const [key, list] of Object.entries(body || {})) {
        for (const message of Array.isArray(list) ? list : [list]) messages.push([key, String(message)]);
      }
      for (const [key, message] of messages) {
        const match = key === "spec" ? /^([A-Za-z_][\w[\].]*): ([\s\S]*)$/.exec(message) : null;
        let path = match ? match[1] : key;
        const rule = match ? match[2] : message;
        let target = null;
        if (match && /^points\[\d+\]\.p$/.test(path) && this.mode === "quick") {
          // The quick fields fix each p; a p refused for the probability beyond a bound is that bound's field.
          target = /mass_below/.test(rule) ? this.massBelow : /mass_above/.test(rule) ? this.massAbove : null;
        }
        while (!target && path) {
          target = paths[path] || null;
          const shorter = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
          if (shorter === path) break;
          path = shorter;
        }
        if (target) this.fieldError(target, rule);
        else this.general.textContent = (this.general.textContent ? this.general.textContent + " " : "") +
          (match ? `${match[1]}: ${rule}` : key === "spec" || key === "detail" ? message : `${key}: ${message}`);
      }
    }

    fieldError(target, message) {
      const existing = this.root.querySelector(`.field-error[data-for="${target.id || target.dataset.errorId}"]`);
      if (existing) { existing.textContent += " " + message; return; }
      if (!target.id) target.dataset.errorId = target.dataset.errorId || `${this.prefix}-err-${Math.random().toString(36).slice(2)}`;
      const id = (target.id || target.dataset.errorId) + "-live-error";
      const note = el("span", { class: "field-error", id: id, "data-for": target.id || target.dataset.errorId,
        "data-testid": "field-error", text: message });
      target.setAttribute("aria-invalid", "true");
      target.setAttribute("aria-describedby", id);
      target.after(note);
    }

    // --- what is shown ---------------------------------------------------------------------------------------------

    chosen(r) {
      // The distribution that would be saved: the exact shape once chosen (and previewed), else the fitted one.
      if (this.choice === "exact" && r.exact && r.exact.ok) return r.exact.body;
      return r.main.body;
    }

    series() {
      const label = KIND_LABEL[this.kind];
      const out = (this.data.overlays || []).map((s) => Object.assign({}, s, { faint: true }));
      const r = this.current() || (this.built && this.built.incomplete ? null : this.lastGood);
      if (r && r.main.ok) {
        const exact = r.exact && r.exact.ok ? r.exact.body : null;
        const fittedName = this.scale === "linear" ? "normal fit" : "lognormal fit";
        out.push(Object.assign({}, r.main.body, { key: "draft", label: exact ? `${label}: ${fittedName}` : `${label} (not saved yet)`,
          primary: this.choice !== "exact" }));
        if (exact) out.push(Object.assign({}, exact, { key: "exact", label: `${label}: exact through your points`,
          primary: this.choice === "exact" }));
      }
      return out;
    }

    refresh() {
      const r = this.current();
      const built = this.built;
      if (r && r.main.ok) this.lastGood = r;
      this.clearErrors();
      if (r && !r.main.ok) {
        if (r.main.status === 400) this.showErrors(r.main.body, r.paths);
        else this.general.textContent = `The preview is unavailable (${r.main.status ? "HTTP " + r.main.status : "no connection"}); ` +
          "the server checks the form when you save.";
      }
      // The summary.
      const body = r && r.main.ok ? this.chosen(r) : null;
      if (body) {
        const s = body.summary;
        this.median.textContent = P.formatValue(this.axis, s.median, P.beyond(body, 0.5));
        this.interval.textContent = `${P.formatValue(this.axis, s.p5, P.beyond(body, 0.05))} – ${P.formatValue(this.axis, s.p95, P.beyond(body, 0.95))}`;
        const tails = [];
        if (this.axis.open_lower) tails.push(`${P.percent(body.mass_below)} ${this.axis.tail_below}`);
        if (this.axis.open_upper) tails.push(`${P.percent(body.mass_above)} ${this.axis.tail_above}`);
        this.tailsOut.textContent = tails.length ? tails.join(", ") : "none (both bounds are closed)";
        this.fitOut.textContent = this.describeFit(r);
      } else {
        for (const node of [this.median, this.interval, this.tailsOut, this.fitOut]) node.textContent = "—";
      }
      // The choice of shape, when the fit misses a typed point.
      const poor = !!(r && this.poor());
      this.shapeBox.hidden = !poor;
      if (poor) {
        const fit = r.main.body.fit;
        const family = fit.family || "lognormal";
        this.shapeLegend.textContent = `The ${family} fit misses what you typed (by up to ${(100 * fit.max_abs_p_residual).toFixed(1)} ` +
          "points of probability). Which shape do you keep?";
        this.shapeInputs.fitted.checked = this.choice === "fitted";
        this.shapeInputs.exact.checked = this.choice === "exact";
        if (r.exact && r.exact.ok) this.exactStatus.textContent = `Exact through your points: median ${P.formatValue(this.axis, r.exact.body.summary.median, P.beyond(r.exact.body, 0.5))}.`;
        else if (r.exact) this.exactStatus.textContent = "The exact shape is not available: " + this.messageOf(r.exact);
        else this.exactStatus.textContent = "";
      }
      // The state line and the submit button.
      let state;
      const ready = this.ready();
      if (built && built.incomplete) state = built.incomplete;
      else if (!r) state = "Checking…";
      else if (!r.main.ok) state = r.main.status === 400 ? "Fix the fields marked to save." : "";
      else if (poor && !this.choice) state = "Choose a shape to save.";
      else if (poor && this.choice === "exact" && !(r.exact && r.exact.ok)) state = "The exact shape cannot be saved; choose the fit or change the points.";
      else state = "This is what will be saved.";
      this.status.textContent = state;
      if (this.submit) {
        this.submit.disabled = !ready;
        this.submit.setAttribute("aria-disabled", ready ? "false" : "true");
      }
      this.plot.update({ series: this.series(), handles: built ? built.handles : [] });
    }

    describeFit(r) {
      const fit = r.main.body.fit;
      if (!fit) return "taken as given (no fit)";
      const misses = (fit.residuals || []).map((res) => `${P.formatValue(this.axis, res.x)} at ${(100 * res.p).toFixed(1)}%: ` +
        `the fit puts ${(100 * res.fitted_p).toFixed(1)}%`);
      const head = `${fit.family} fit, largest miss ${(100 * fit.max_abs_p_residual).toFixed(1)} points of probability` +
        (fit.good ? " (good)" : " (poor)");
      const notes = (r.main.body.notes || []).join(" ");
      return [head, fit.good ? "" : misses.join("; "), notes].filter(Boolean).join(". ");
    }

    messageOf(answer) {
      if (answer.status === 400 && answer.body) return Object.values(answer.body).flat().join(" ");
      return answer.status ? `HTTP ${answer.status}` : "no connection";
    }

    ready() {
      const r = this.current();
      if (!r || (this.built && this.built.incomplete)) return false;
      // The preview could not answer (network, server): the server still checks everything when the form is sent.
      if (!r.main.ok) return r.main.status === 0 || r.main.status >= 500;
      if (this.poor()) {
        if (!this.choice) return false;
        if (this.choice === "exact") return !!(r.exact && r.exact.ok);
      }
      return true;
    }

    finalSpec() {
      const spec = Object.assign({}, this.built.spec);
      if (spec.type === "quantiles" && this.poor() && this.choice === "exact") spec.shape = "exact";
      return spec;
    }

    submitting(event) {
      if (!this.ready()) {
        event.preventDefault();
        this.status.textContent = this.status.textContent || "Wait for the preview before saving.";
        return;
      }
      this.specInput.value = JSON.stringify(this.finalSpec());
    }
  }

  function start() {
    if (!P || !window.d3 || !window.fetch) return; // the forms work as they are
    document.querySelectorAll("form[data-editor]").forEach((form) => {
      const source = document.getElementById(form.dataset.editor);
      if (source) new Editor(form, JSON.parse(source.textContent));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
