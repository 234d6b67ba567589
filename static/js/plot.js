/* The one plotting path for every distribution on the site: the question page's results and the editor's live
 * preview. Draws stored distributions (the API's shape: a 201-point CDF on the question's grid, tail masses, summary)
 * on the question's own axis with d3 (static/vendor/d3-*): density or CDF, tail masses as labelled bars beyond each
 * open bound, the median and the 90% interval marked, several named curves (some faint), a hover/tap readout, and
 * optional draggable quantile handles. Nothing here computes a distribution: every number comes from the engine.
 *
 * Axis (pages.plot_axis): {scale: "linear"|"log"|"date", lower, upper (internal units: days since 1970-01-01 on a
 * date scale), open_lower, open_upper, unit, tail_below, tail_above}. The grid point i sits at u = i / 200, and
 * x = lower * (upper / lower) ** u on a log scale, lower + u * (upper - lower) otherwise.
 */
(function () {
  "use strict";

  const N_POINTS = 201;
  const DAY_MS = 86400000;
  // Colours all have >= 4.5:1 contrast on white (WCAG AA for text), and each has its own dash pattern, so a curve is
  // told apart without colour too. The same key has the same look on every page.
  const STYLES = {
    posterior: { colour: "#b2182b", dash: null },
    prior: { colour: "#4d4d4d", dash: "8 4" },
    saved: { colour: "#4d4d4d", dash: "2 3" },
    aggregate: { colour: "#2166ac", dash: "12 3 3 3" },
    yours: { colour: "#1b7837", dash: "3 3" },
    draft: { colour: "#762a83", dash: null },
    exact: { colour: "#8c510a", dash: "6 2 2 2" },
    // Every prediction beneath the results: thin and translucent; the viewer's own is drawn stronger in green.
    crowd: { colour: "#595959", dash: null },
    crowdMine: { colour: "#1b7837", dash: null },
  };
  let instances = 0;

  // --- the question's axis -------------------------------------------------------------------------------------

  function isoDays(text) {
    // An ISO date (YYYY-MM-DD) as days since 1970-01-01, NaN for anything else.
    if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return NaN;
    return Date.parse(text + "T00:00:00Z") / DAY_MS;
  }

  /** A value in question units (a number, or an ISO date on a date question) in internal units. */
  function internal(axis, x) {
    if (axis.scale === "date") return typeof x === "number" ? x : isoDays(x);
    if (typeof x === "number") return x;
    const text = String(x).trim();
    return text === "" ? NaN : Number(text);
  }

  /** u in [0, 1] across the range (outside it beyond the bounds), NaN when x is not a value on this axis. */
  function uOf(axis, x) {
    const v = internal(axis, x);
    if (!Number.isFinite(v)) return NaN;
    if (axis.scale === "log") return v > 0 ? Math.log(v / axis.lower) / Math.log(axis.upper / axis.lower) : -Infinity;
    return (v - axis.lower) / (axis.upper - axis.lower);
  }

  /** The value at u, in question units (an ISO date on a date question). */
  function xOf(axis, u) {
    if (axis.scale === "log") return axis.lower * Math.pow(axis.upper / axis.lower, u);
    const v = axis.lower + u * (axis.upper - axis.lower);
    return axis.scale === "date" ? new Date(Math.round(v) * DAY_MS).toISOString().slice(0, 10) : v;
  }

  /** A number as people read and type it: 3 significant figures, 1.82e11 rather than 182000000000. */
  function formatNumber(v, digits) {
    digits = digits || 3;
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(digits)));
    const [mantissa, exponent] = v.toExponential(digits - 1).split("e");
    return mantissa.replace(/\.?0+$/, "") + "e" + Number(exponent);
  }

  /** A summary value (number, ISO date, or null = beyond the range) in the question's words. */
  function formatValue(axis, v, where) {
    if (v === null || v === undefined) {
      return where === "below" ? axis.tail_below : where === "above" ? axis.tail_above : "beyond the range";
    }
    return typeof v === "number" ? formatNumber(v) : String(v);
  }

  /** Which side a summary quantile beyond the range lies on: the probability below the range covers it or not. */
  function beyond(series, p) {
    return p <= series.mass_below ? "below" : "above";
  }

  function percent(m) {
    if (m > 0 && m < 0.001) return "<0.1%";
    return (m * 100).toFixed(m >= 0.1 ? 0 : 1) + "%";
  }

  function styleOf(series) {
    if (series.style === "crowd" && series.mine) return STYLES.crowdMine;
    return STYLES[series.style || series.key] || STYLES.draft;
  }

  function describe(axis, s) {
    const sum = s.summary || {};
    const parts = ["median " + formatValue(axis, sum.median, beyond(s, 0.5)),
      "p5 " + formatValue(axis, sum.p5, beyond(s, 0.05)), "p95 " + formatValue(axis, sum.p95, beyond(s, 0.95))];
    if (axis.open_lower) parts.push(percent(s.mass_below) + " " + axis.tail_below);
    if (axis.open_upper) parts.push(percent(s.mass_above) + " " + axis.tail_above);
    return parts.join(", ");
  }

  // --- ticks ---------------------------------------------------------------------------------------------------

  function ticks(axis, width) {
    // [{u, label, sup?}] that fit in `width` pixels, about one every 56 px.
    const most = Math.max(2, Math.floor(width / 56));
    if (axis.scale === "log") {
      const lo = Math.ceil(Math.log10(axis.lower) - 1e-9);
      const hi = Math.floor(Math.log10(axis.upper) + 1e-9);
      const step = Math.max(1, Math.ceil((hi - lo + 1) / most));
      const out = [];
      for (let e = lo; e <= hi; e++) {
        if ((e - lo) % step === 0) out.push({ u: uOf(axis, Math.pow(10, e)), label: "10", sup: String(e) });
      }
      return out;
    }
    if (axis.scale === "date") {
      const y0 = new Date(axis.lower * DAY_MS).getUTCFullYear();
      const y1 = new Date(axis.upper * DAY_MS).getUTCFullYear();
      const step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000].find((k) => (y1 - y0) / k + 1 <= most) || 1000;
      const out = [];
      for (let y = Math.ceil(y0 / step) * step; y <= y1; y += step) {
        const u = uOf(axis, String(y).padStart(4, "0") + "-01-01");
        if (u >= -1e-9 && u <= 1 + 1e-9) out.push({ u: u, label: String(y) });
      }
      return out;
    }
    return d3.scaleLinear([axis.lower, axis.upper], [0, 1]).ticks(most)
      .map((v) => ({ u: uOf(axis, v), label: formatNumber(v) }));
  }

  function wrapWords(text, size) {
    // Lines of at most ~size characters, split at spaces ("after 2100-12-31 or never" in a narrow gutter).
    const lines = [];
    for (const word of String(text).split(/\s+/)) {
      const last = lines[lines.length - 1];
      if (last !== undefined && (last + " " + word).length <= size) lines[lines.length - 1] = last + " " + word;
      else lines.push(word);
    }
    return lines;
  }

  // --- the plot ------------------------------------------------------------------------------------------------

  /**
   * A plot in `container`. options: {axis, label (what the plot shows, for screen readers), onHandle(id, x, done)}.
   * update({series, handles}) draws: series [{key, label, cdf, mass_below, mass_above, summary, faint?, primary?,
   * style?}] and handles [{id, label, x}] (x in question units) that the person can drag or move with arrow keys.
   */
  function Plot(container, options) {
    this.axis = options.axis;
    this.onHandle = options.onHandle || null;
    this.mode = "density";
    this.series = [];
    this.handles = [];
    this.dragging = null;
    const id = "plot" + ++instances;
    this.root = d3.select(container).classed("plot", true);
    this.root.selectAll("*").remove();
    const switcher = this.root.append("fieldset").attr("class", "plot-mode");
    switcher.append("legend").text("Show");
    for (const [value, text] of [["density", "Density"], ["cdf", "Cumulative (CDF)"]]) {
      const label = switcher.append("label");
      label.append("input").attr("type", "radio").attr("name", id + "-mode").attr("value", value)
        .property("checked", value === this.mode)
        .on("change", () => { this.mode = value; this.render(); });
      label.append("span").text(" " + text);
    }
    this.svg = this.root.append("svg").attr("xmlns", "http://www.w3.org/2000/svg")
      .attr("role", options.onHandle ? "group" : "img").attr("aria-label", options.label || "distributions")
      .attr("width", "100%").attr("data-testid", "plot-svg");
    this.layers = {};
    for (const name of ["axis", "tails", "curves", "marks", "hover", "handles"]) {
      this.layers[name] = this.svg.append("g").attr("class", "layer-" + name);
    }
    this.readout = this.root.append("p").attr("class", "plot-readout").attr("aria-live", "polite")
      .attr("data-testid", "plot-readout");
    this.legend = this.root.append("ul").attr("class", "plot-legend").attr("data-testid", "plot-legend");
    this.width = 0;
    if (window.ResizeObserver) {
      new ResizeObserver(() => {
        const w = Math.round(container.clientWidth);
        if (w && w !== this.width) this.render();
      }).observe(container);
    }
  }

  Plot.prototype.update = function (data) {
    this.series = (data.series || []).filter((s) => s && Array.isArray(s.cdf) && s.cdf.length === N_POINTS);
    this.handles = data.handles || [];
    this.render();
  };

  Plot.prototype.geometry = function () {
    const W = Math.max(280, Math.round(this.root.node().clientWidth || 640));
    const narrow = W < 520;
    const withHandles = this.handles.length > 0;
    const gutter = narrow ? 50 : 66;
    const g = {
      W: W, narrow: narrow,
      H: (narrow ? 220 : 250) + (withHandles ? 36 : 0),
      left: 8 + (this.axis.open_lower ? gutter + 8 : 0),
      right: W - 8 - (this.axis.open_upper ? gutter + 8 : 0),
      top: 30, gutter: gutter,
    };
    // Room under the axis for the tick labels and the tail captions (up to three lines in a gutter).
    const sides = [this.axis.open_lower && this.axis.tail_below, this.axis.open_upper && this.axis.tail_above];
    const lines = Math.max(1, ...sides.filter(Boolean).map((label) => Math.min(3, wrapWords(label, narrow ? 9 : 12).length)));
    const under = Math.max(withHandles ? 84 : 36, 22 + 13 * lines);
    g.H += under - (withHandles ? 72 : 36);
    g.bottom = g.H - under;
    g.handleY = g.bottom + 48;
    g.x = d3.scaleLinear([0, 1], [g.left, g.right]);
    return g;
  };

  Plot.prototype.render = function () {
    const axis = this.axis;
    const g = this.geometry();
    this.width = g.W;
    this.g = g;
    this.svg.attr("viewBox", `0 0 ${g.W} ${g.H}`);
    const visible = this.series;
    // Density per unit of u, flat within each of the 200 bins (the CDF is linear between grid points).
    const dens = visible.map((s) => d3.range(N_POINTS - 1).map((i) => Math.max(0, (s.cdf[i + 1] - s.cdf[i]) * (N_POINTS - 1))));
    const peak = d3.max(dens.flat()) || 1;
    // The top eighth stays free for the interval marks.
    const y = this.mode === "cdf" ? d3.scaleLinear([0, 1], [g.bottom, g.top + 22])
      : d3.scaleLinear([0, peak], [g.bottom, g.top + 22]);
    this.y = y;
    this.dens = dens;
    this.drawAxis(g, y);
    this.drawTails(g);
    this.drawCurves(g, y, dens);
    this.drawMarks(g);
    this.drawHover(g, y, dens);
    this.drawHandles(g);
    this.drawLegend();
    const shown = visible.filter((s) => !s.faint).map((s) => s.label + ": " + describe(axis, s));
    this.svg.attr("data-mode", this.mode);
    this.svg.selectAll("title.plot-title").remove();
    this.svg.insert("title", ":first-child").attr("class", "plot-title")
      .text(shown.length ? shown.join("; ") : "No distribution to draw yet");
  };

  Plot.prototype.drawAxis = function (g, y) {
    const layer = this.layers.axis;
    layer.selectAll("*").remove();
    layer.append("line").attr("x1", g.left).attr("x2", g.right).attr("y1", g.bottom).attr("y2", g.bottom)
      .attr("stroke", "#333");
    for (const t of ticks(this.axis, g.right - g.left)) {
      const x = g.x(t.u);
      layer.append("line").attr("x1", x).attr("x2", x).attr("y1", g.bottom).attr("y2", g.bottom + 5).attr("stroke", "#333");
      // The ticks at the ends keep inside the range, clear of the tail labels beside it.
      const anchor = t.u < 0.03 ? "start" : t.u > 0.97 ? "end" : "middle";
      const text = layer.append("text").attr("x", x).attr("y", g.bottom + 18).attr("text-anchor", anchor)
        .attr("class", "tick").attr("data-testid", "plot-tick").text(t.label);
      if (t.sup) text.append("tspan").attr("dy", -6).attr("font-size", "0.75em").text(t.sup);
    }
    const ylabel = this.mode === "cdf" ? "P(X ≤ x)" : g.narrow ? "density" : "probability density";
    layer.append("text").attr("x", g.left).attr("y", 14).attr("class", "axis-label").text(ylabel);
    if (this.mode === "cdf") {
      for (const v of [0, 0.5, 1]) {
        layer.append("line").attr("x1", g.left).attr("x2", g.right).attr("y1", y(v)).attr("y2", y(v))
          .attr("stroke", "#ddd");
      }
    }
    if (this.axis.unit) {
      layer.append("text").attr("x", g.right).attr("y", 14).attr("text-anchor", "end")
        .attr("class", "axis-label").text(this.axis.unit + (this.axis.scale === "log" ? " (log scale)" : ""));
    }
  };

  Plot.prototype.drawTails = function (g) {
    // A bar per series beyond each open bound, its height the probability there (full height = 100%).
    const layer = this.layers.tails;
    layer.selectAll("*").remove();
    const axis = this.axis;
    // The crowd's many faint curves get no bar each (a hairline apiece); their tails are in their titles.
    const barred = this.series.filter((s) => !(s.faint && s.style === "crowd"));
    const n = barred.length;
    const full = g.bottom - (g.top + 22);
    const sides = [];
    if (axis.open_lower) sides.push({ side: "below", x0: 8, label: axis.tail_below, mass: (s) => s.mass_below });
    if (axis.open_upper) sides.push({ side: "above", x0: g.W - 8 - g.gutter, label: axis.tail_above, mass: (s) => s.mass_above });
    for (const side of sides) {
      layer.append("line").attr("x1", side.x0).attr("x2", side.x0 + g.gutter).attr("y1", g.bottom).attr("y2", g.bottom)
        .attr("stroke", "#333");
      const lines = wrapWords(side.label, g.narrow ? 9 : 12);
      const caption = layer.append("text").attr("x", side.x0 + g.gutter / 2).attr("y", g.bottom + 14)
        .attr("text-anchor", "middle").attr("class", "tail-label").attr("data-testid", "plot-tail-label");
      lines.slice(0, 3).forEach((line, i) => caption.append("tspan").attr("x", side.x0 + g.gutter / 2)
        .attr("dy", i ? "1.1em" : 0).text(line));
      if (!n) continue;
      const bw = g.gutter / n;
      barred.forEach((s, i) => {
        const m = side.mass(s);
        const st = styleOf(s);
        const h = Math.max(m > 0 ? 1 : 0, m * full);
        const bar = layer.append("rect").attr("x", side.x0 + i * bw + 1).attr("width", Math.max(2, bw - 2))
          .attr("y", g.bottom - h).attr("height", h).attr("fill", st.colour).attr("fill-opacity", s.faint ? 0.15 : 0.35)
          .attr("stroke", st.colour).attr("stroke-dasharray", st.dash).attr("stroke-width", 1.5)
          .attr("data-testid", "plot-tail").attr("data-series", s.key).attr("data-side", side.side).attr("data-mass", m);
        bar.append("title").text(`${s.label}: ${percent(m)} ${side.label}`);
        if (bw >= 44 || s.primary || n === 1) {  // the other bars say theirs in their titles and the legend
          layer.append("text").attr("x", side.x0 + i * bw + bw / 2).attr("y", g.bottom - h - 4)
            .attr("text-anchor", "middle").attr("class", "tail-mass").attr("fill", st.colour)
            .attr("data-testid", "plot-tail-mass").attr("data-series", s.key).text(percent(m));
        }
      });
    }
  };

  Plot.prototype.drawCurves = function (g, y, dens) {
    const layer = this.layers.curves;
    layer.selectAll("*").remove();
    const step = 1 / (N_POINTS - 1);
    this.series.forEach((s, k) => {
      const st = styleOf(s);
      let points;
      let line;
      if (this.mode === "cdf") {
        points = s.cdf.map((c, i) => [g.x(i * step), y(c)]);
        line = d3.line();
      } else {
        // The density is flat within each of the 200 bins of u; drawn as a smooth curve through the bins' midpoints
        // (monotone between them, so it adds no bump the bins do not have), held flat to the edges of the range.
        const last = dens[k].length - 1;
        points = [[g.x(0), y(dens[k][0])]];
        dens[k].forEach((d, i) => { points.push([g.x((i + 0.5) * step), y(d)]); });
        points.push([g.x((last + 1) * step), y(dens[k][last])]);
        line = d3.line().curve(d3.curveMonotoneX);
      }
      if (!s.faint) {
        const base = this.mode === "cdf" ? y(0) : g.bottom;
        const area = d3.area().curve(this.mode === "cdf" ? d3.curveLinear : d3.curveMonotoneX)
          .x((p) => p[0]).y0(base).y1((p) => p[1]);
        layer.append("path").attr("d", area(points)).attr("fill", st.colour).attr("fill-opacity", 0.08)
          .attr("stroke", "none");
      }
      const path = layer.append("path").attr("d", line(points)).attr("fill", "none").attr("stroke", st.colour)
        .attr("stroke-width", s.faint ? (s.mine ? 2 : 1.2) : 2.5).attr("stroke-dasharray", st.dash)
        .attr("stroke-opacity", s.faint && !s.mine ? 0.45 : 1)
        .attr("stroke-linejoin", "round").attr("class", s.faint ? "curve faint" : "curve")
        .attr("data-testid", "plot-curve").attr("data-series", s.key).attr("data-faint", s.faint ? "true" : "false");
      path.append("title").text(s.label + ": " + describe(this.axis, s));
    });
  };

  Plot.prototype.drawMarks = function (g) {
    // The median (a vertical line) and the 90% interval (a bar along the top) of every curve that is not faint.
    const layer = this.layers.marks;
    layer.selectAll("*").remove();
    const axis = this.axis;
    const strong = this.series.filter((s) => !s.faint);
    strong.forEach((s, k) => {
      const st = styleOf(s);
      const sum = s.summary || {};
      const yBar = g.top + 4 + 6 * k;
      const ends = [["p5", 0.05, 0], ["p95", 0.95, 1]].map(([key, p, edge]) => {
        const u = sum[key] === null || sum[key] === undefined ? (beyond(s, p) === "below" ? 0 : 1) : uOf(axis, sum[key]);
        return g.x(Math.min(1, Math.max(0, Number.isFinite(u) ? u : edge)));
      });
      layer.append("line").attr("x1", ends[0]).attr("x2", ends[1]).attr("y1", yBar).attr("y2", yBar)
        .attr("stroke", st.colour).attr("stroke-width", 4).attr("stroke-dasharray", st.dash)
        .attr("data-testid", "plot-interval").attr("data-series", s.key)
        .append("title").text(`${s.label}: 90% interval, from p5 ${formatValue(axis, sum.p5, beyond(s, 0.05))} to ` +
          `p95 ${formatValue(axis, sum.p95, beyond(s, 0.95))}`);
      const median = sum.median;
      if (median === null || median === undefined) {
        // The median lies beyond the range: said on that side's tail bar.
        const side = beyond(s, 0.5);
        const x = side === "below" ? 8 + g.gutter / 2 : g.W - 8 - g.gutter / 2;
        layer.append("text").attr("x", x).attr("y", yBar + 4).attr("text-anchor", "middle").attr("class", "median-label")
          .attr("fill", st.colour).attr("data-testid", "plot-median").attr("data-series", s.key)
          .attr("data-value", "").attr("data-where", side).text("median");
        return;
      }
      const u = uOf(axis, median);
      const x = g.x(u);
      const mark = layer.append("line").attr("x1", x).attr("x2", x).attr("y1", yBar).attr("y2", g.bottom)
        .attr("stroke", st.colour).attr("stroke-width", 1.5).attr("stroke-dasharray", "4 3")
        .attr("data-testid", "plot-median").attr("data-series", s.key).attr("data-value", String(median))
        .attr("data-u", u);
      mark.append("title").text(`${s.label}: median ${formatValue(axis, median)}`);
      if (s.primary || strong.length === 1) {
        // Below every interval bar, on a white halo, so neither a bar nor a curve runs through the words.
        layer.append("text").attr("x", x + 4).attr("y", g.top + 14 + 6 * strong.length).attr("class", "median-label")
          .attr("fill", st.colour).attr("stroke", "#fff").attr("stroke-width", 3).attr("paint-order", "stroke")
          .text("median " + formatValue(axis, median));
      }
    });
  };

  Plot.prototype.drawHover = function (g, y, dens) {
    // Hover or tap anywhere on the plot: the readout names the nearest curve there and its median.
    const layer = this.layers.hover;
    layer.selectAll("*").remove();
    const plot = this;
    const nearest = function (event) {
      const [px, py] = d3.pointer(event, this);
      const u = Math.min(1, Math.max(0, g.x.invert(px)));
      const i = Math.min(N_POINTS - 2, Math.floor(u * (N_POINTS - 1)));
      let best = null;
      plot.series.forEach((s, k) => {
        const yy = plot.mode === "cdf" ? y(s.cdf[i] + (s.cdf[i + 1] - s.cdf[i]) * (u * (N_POINTS - 1) - i)) : y(dens[k][i]);
        const d = Math.abs(yy - py);
        if (!best || d < best.d) best = { d: d, s: s };
      });
      plot.layers.curves.selectAll("path.curve").classed("hovered", false);
      if (!best) return;
      plot.layers.curves.selectAll("path.curve").filter(function () { return this.dataset.series === best.s.key; })
        .classed("hovered", true);
      plot.readout.text(`${best.s.label}: median ${formatValue(plot.axis, (best.s.summary || {}).median, beyond(best.s, 0.5))}` +
        ` (at ${formatValue(plot.axis, xOf(plot.axis, u))})`);
    };
    layer.append("rect").attr("x", g.left).attr("y", g.top).attr("width", g.right - g.left)
      .attr("height", g.bottom - g.top).attr("fill", "transparent").attr("data-testid", "plot-hover")
      .on("pointermove", nearest).on("pointerdown", nearest)
      .on("pointerleave", () => plot.layers.curves.selectAll("path.curve").classed("hovered", false));
  };

  Plot.prototype.drawHandles = function (g) {
    // One handle per typed quantile, in a lane under the axis; dragged, or moved with the arrow keys when focused.
    const plot = this;
    const axis = this.axis;
    const placed = this.handles.map((h) => Object.assign({}, h, { u: uOf(axis, h.x) }))
      .filter((h) => Number.isFinite(h.u) && h.u >= 0 && h.u <= 1)
      .map((h, index) => Object.assign(h, { index: index }));
    const neighbours = (d) => {
      // A handle stays strictly between its neighbours: quantiles stay in increasing order.
      const i = placed.findIndex((h) => h.id === d.id);
      const lo = i > 0 ? placed[i - 1].u + 1e-3 : 0;
      const hi = i < placed.length - 1 ? placed[i + 1].u - 1e-3 : 1;
      return [lo, hi];
    };
    const move = (node, d, u, done) => {
      const [lo, hi] = neighbours(d);
      d.u = Math.min(hi, Math.max(lo, u));
      const x = xOf(axis, d.u);
      d3.select(node).attr("transform", `translate(${g.x(d.u)},0)`).attr("aria-valuenow", d.u.toFixed(4))
        .attr("aria-valuetext", formatValue(axis, x));
      if (plot.onHandle) plot.onHandle(d.id, x, done);
    };
    const joined = this.layers.handles.selectAll("g.handle").data(placed, (d) => d.id).join((enter) => {
      const h = enter.append("g").attr("class", "handle").attr("tabindex", 0).attr("role", "slider")
        .attr("aria-orientation", "horizontal").attr("aria-valuemin", 0).attr("aria-valuemax", 1)
        .attr("data-testid", "plot-handle");
      h.append("line").attr("class", "guide").attr("stroke", "#762a83").attr("stroke-dasharray", "2 3");
      h.append("circle").attr("class", "hit").attr("r", 16).attr("fill", "transparent");
      h.append("circle").attr("class", "knob").attr("r", 8).attr("fill", "#fff").attr("stroke", "#762a83")
        .attr("stroke-width", 2.5);
      h.append("text").attr("class", "handle-label").attr("text-anchor", "middle").attr("y", 24);
      return h;
    });
    joined.attr("data-handle", (d) => d.id).attr("aria-label", (d) => `${d.label}: drag, or use the arrow keys`)
      .attr("aria-valuenow", (d) => d.u.toFixed(4)).attr("aria-valuetext", (d) => formatValue(axis, d.x))
      .each(function (d) {
        const h = d3.select(this);
        if (plot.dragging !== d.id) h.attr("transform", `translate(${g.x(d.u)},0)`);
        h.select("line.guide").attr("y1", g.top + 22).attr("y2", g.handleY - 8);
        h.selectAll("circle").attr("cy", g.handleY);
        // Labels of neighbouring handles alternate in height, so two close quantiles stay readable.
        h.select("text").attr("y", g.handleY + 22 + (d.index % 2) * 12).text(d.short || d.label);
      })
      .call(d3.drag()
        // The gesture starts where the handle is drawn (the datum's x is a value in question units, not pixels).
        .subject(function (event, d) { return { x: g.x(d.u), y: g.handleY }; })
        .on("start", function (event, d) { plot.dragging = d.id; this.focus(); })
        .on("drag", function (event, d) { move(this, d, g.x.invert(event.x), false); })
        .on("end", function (event, d) { plot.dragging = null; move(this, d, g.x.invert(event.x), true); }))
      .on("keydown", function (event, d) {
        const steps = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10 };
        if (!(event.key in steps)) return;
        event.preventDefault();
        // One step is one bin of the grid (1/200 of the range); Shift or Page keys move ten.
        const k = steps[event.key] * (event.shiftKey ? 10 : 1);
        move(this, d, d.u + k / (N_POINTS - 1), true);
      });
  };

  Plot.prototype.drawLegend = function () {
    const axis = this.axis;
    this.legend.selectAll("*").remove();
    // The crowd's predictions share one legend line (hover or tap a curve to name its author and median).
    const crowd = this.series.filter((s) => s.style === "crowd");
    if (crowd.length) {
      const item = this.legend.append("li").attr("data-series", "crowd").attr("data-testid", "plot-legend-item");
      const swatch = item.append("svg").attr("width", 36).attr("height", 10).attr("aria-hidden", "true");
      swatch.append("line").attr("x1", 0).attr("x2", 36).attr("y1", 5).attr("y2", 5).attr("stroke", STYLES.crowd.colour)
        .attr("stroke-width", 1.2);
      item.append("strong").text(" Every prediction");
      const total = this.crowdTotal || crowd.length;
      const mine = crowd.some((s) => s.mine) ? "; yours is the solid green one, marked “(you)”" : "";
      item.append("span").text(` — ${crowd.length === total ? total : crowd.length + " newest of " + total}, ` +
        `drawn thin beneath${mine}. Hover or tap a curve to read its author and median.`);
    }
    for (const s of this.series.filter((x) => x.style !== "crowd")) {
      const st = styleOf(s);
      const item = this.legend.append("li").attr("data-series", s.key).attr("data-testid", "plot-legend-item");
      const swatch = item.append("svg").attr("width", 36).attr("height", 10).attr("aria-hidden", "true");
      swatch.append("line").attr("x1", 0).attr("x2", 36).attr("y1", 5).attr("y2", 5).attr("stroke", st.colour)
        .attr("stroke-width", s.faint ? 1.5 : 2.5).attr("stroke-dasharray", st.dash);
      item.append("strong").text(" " + s.label);
      item.append("span").text(" — " + describe(axis, s) + (s.faint ? " (drawn beneath)" : ""));
    }
  };

  /** Draw every `[data-plot]` container from the JSON script its attribute names (pages.results_plot). */
  function drawPagePlots() {
    document.querySelectorAll("[data-plot]").forEach((container) => {
      const source = document.getElementById(container.dataset.plot);
      if (!source) return;
      const data = JSON.parse(source.textContent);
      const plot = new Plot(container, { axis: data.axis, label: "Distributions of this question" });
      plot.crowdTotal = data.crowd_total || 0;
      plot.update({ series: data.series });
    });
  }

  window.FAPlot = { Plot: Plot, uOf: uOf, xOf: xOf, internal: internal, formatNumber: formatNumber,
    formatValue: formatValue, beyond: beyond, percent: percent, STYLES: STYLES };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawPagePlots);
  else drawPagePlots();
})();
