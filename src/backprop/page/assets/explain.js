/* The steps of `backprop explain` computed from BackpropMath's iterations: each equation with
   its symbols, its numbers substituted, its value and the drawing's elements it involves; and
   numbers and symbols written as backprop's text renderer writes them.  window.BackpropExplain */
(function () {
  "use strict";
  const SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹", SUB = "₀₁₂₃₄₅₆₇₈₉";
  const sup = (n) => String(n).split("").map((c) => SUP[+c]).join("");
  const sub = (units) => units.map((u) => String(u + 1).split("").map((c) => SUB[+c]).join("")).join("");

  /* ---- the steps: the same equations, in the same order, as backprop.explain.steps ---- */
  const S = (name, layer, units) => ({ s: name, l: layer, u: units || [] });
  const N = (value) => ({ n: value });
  const O = (text) => ({ o: text });
  const T = (text) => ({ t: text });
  const PLUS = O("+"), TIMES = O("·"), MINUS = O("-"), OPEN = O("("), CLOSE = O(")");

  function stepsOf(it, t, net, y, lr, full) {
    const L = net.layers.length, steps = [];
    const add = (section, layer, units, symbol, formula, substituted, value, keys, relation) =>
      steps.push({ iteration: t, section, layer, units, symbol, formula, substituted, value,
        keys, relation: relation || "=" });
    for (let l = 1; l <= L; l++) {
      const act = net.layers[l - 1];
      for (let i = 0; i < it.z[l].length; i++) {
        const formula = [], substituted = [], keys = [`unit-${l}-${i}`, `bias-${l}-${i}`];
        it.W[l][i].forEach((w, j) => {
          if (j) { formula.push(PLUS); substituted.push(PLUS); }
          formula.push(S("w", l, [i, j]), TIMES, S("a", l - 1, [j]));
          substituted.push(N(w), TIMES, N(it.a[l - 1][j]));
          keys.push(`edge-${l}-${i}-${j}`, `unit-${l - 1}-${j}`);
        });
        formula.push(PLUS, S("b", l, [i])); substituted.push(PLUS, N(it.b[l][i]));
        add("forward", l, [i], S("z", l, [i]), formula, substituted, it.z[l][i], keys);
        let f, s;
        if (act.activation === "softmax") {
          f = [T("exp"), OPEN, S("z", l, [i]), CLOSE, O("/"), T(`Σₘ exp(z${sup(l)}ₘ)`)];
          s = [T("exp"), OPEN, N(it.z[l][i]), CLOSE, O("/"), OPEN];
          it.z[l].forEach((v, m) => { if (m) s.push(PLUS); s.push(T("exp"), OPEN, N(v), CLOSE); });
          s.push(CLOSE);
        } else {
          f = [T(act.symbol), OPEN, S("z", l, [i]), CLOSE];
          s = [T(act.symbol), OPEN, N(it.z[l][i]), CLOSE];
        }
        add("forward", l, [i], S("a", l, [i]), f, s, it.a[l][i], [`unit-${l}-${i}`]);
      }
    }
    const outputs = it.a[L].map((_, k) => `unit-${L}-${k}`);
    add("error", L, [], S("E"), [T(net.loss.text)], [], it.E, outputs);
    if (!full) return steps;
    it.delta[L].forEach((d, k) => {
      let f, s;
      if (it.canonical) {
        f = [S("o", null, [k]), MINUS, S("y", null, [k])];
        s = [N(it.a[L][k]), MINUS, N(y[k])];
      } else if (it.fprime[L]) {
        f = [T("f'"), OPEN, S("z", L, [k]), CLOSE, TIMES, S("dJ/do", null, [k])];
        s = [N(it.fprime[L][k]), TIMES, N(it.g[k])];
      } else {
        f = [S("o", null, [k]), OPEN, S("g", null, [k]), MINUS, T("Σₘ gₘ oₘ"), CLOSE];
        s = [N(it.a[L][k]), TIMES, OPEN, N(it.g[k]), MINUS, N(it.weighted), CLOSE];
      }
      add("output_delta", L, [k], S("delta", L, [k]), f, s, d, [`unit-${L}-${k}`]);
    });
    for (let l = L - 1; l >= 1; l--) {
      it.delta[l].forEach((d, j) => {
        const f = [T("f'"), OPEN, S("z", l, [j]), CLOSE, TIMES, OPEN];
        const s = [N(it.fprime[l][j]), TIMES, OPEN];
        const keys = [`unit-${l}-${j}`];
        it.W[l + 1].forEach((row, k) => {
          if (k) { f.push(PLUS); s.push(PLUS); }
          f.push(S("w", l + 1, [k, j]), TIMES, S("delta", l + 1, [k]));
          s.push(N(row[j]), TIMES, N(it.delta[l + 1][k]));
          keys.push(`edge-${l + 1}-${k}-${j}`, `unit-${l + 1}-${k}`);
        });
        f.push(CLOSE); s.push(CLOSE);
        add("hidden_delta", l, [j], S("delta", l, [j]), f, s, d, keys);
      });
    }
    for (let l = L; l >= 1; l--) {
      it.gradW[l].forEach((row, i) => row.forEach((g, j) => {
        add("gradient", l, [i, j], S("dE/dw", l, [i, j]),
          [S("delta", l, [i]), TIMES, S("a", l - 1, [j])],
          [N(it.delta[l][i]), TIMES, N(it.a[l - 1][j])], g,
          [`edge-${l}-${i}-${j}`, `unit-${l}-${i}`, `unit-${l - 1}-${j}`]);
      }));
      it.gradb[l].forEach((g, i) => add("gradient", l, [i], S("dE/db", l, [i]),
        [S("delta", l, [i])], [], g, [`bias-${l}-${i}`, `unit-${l}-${i}`]));
    }
    for (let l = L; l >= 1; l--) {
      const layer = net.layers[l - 1];
      if (layer.train_weights) it.W[l].forEach((row, i) => row.forEach((w, j) => {
        add("update", l, [i, j], S("w", l, [i, j]), [],
          [N(w), MINUS, S("eta"), TIMES, N(it.gradW[l][i][j])], w - lr * it.gradW[l][i][j],
          [`edge-${l}-${i}-${j}`], "←");
      }));
      if (layer.train_bias) it.b[l].forEach((v, i) => {
        add("update", l, [i], S("b", l, [i]), [], [N(v), MINUS, S("eta"), TIMES, N(it.gradb[l][i])],
          v - lr * it.gradb[l][i], [`bias-${l}-${i}`], "←");
      });
    }
    return steps;
  }

  /* ---- writing numbers and symbols as the text renderer does ---- */
  function number(value, digits) {
    if (!Number.isFinite(value)) return String(value);
    if (value === 0) return "0";
    const exponent = Math.floor(Math.log10(Math.abs(Number(value.toPrecision(digits)))));
    if (exponent < -4 || exponent >= digits) {
      const [mantissa, power] = value.toExponential(digits - 1).split("e");
      const trimmed = mantissa.includes(".") ? mantissa.replace(/\.?0+$/, "") : mantissa;
      const sign = power[0] === "-" ? "-" : "+";
      return `${trimmed}e${sign}${power.replace(/^[+-]/, "").padStart(2, "0")}`;
    }
    const fixed = value.toFixed(Math.max(0, digits - 1 - exponent));
    return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
  }

  const NAMES = { delta: "δ", "dE/dw": "∂E/∂w", "dE/db": "∂E/∂b", eta: "η", "dJ/do": "∂J/∂o" };
  function symbol(token) {
    const name = NAMES[token.s] || token.s;
    return name + (token.l === null || token.l === undefined ? "" : sup(token.l)) + sub(token.u);
  }

  function write(tokens, digits) {
    let text = "";
    tokens.forEach((token, n) => {
      if ("n" in token) {
        const shown = number(token.n, digits), previous = tokens[n - 1];
        const bracket = token.n < 0 && previous && "o" in previous && previous.o !== "(";
        text += bracket ? `(${shown})` : shown;
      } else if ("s" in token) text += symbol(token);
      else if ("o" in token) text += ["+", "-", "/"].includes(token.o) ? ` ${token.o} ` : token.o;
      else text += token.t;
    });
    return text.replace(/\( /g, "(").replace(/ \)/g, ")");
  }

  /* symbol = formula = substituted = value; an update w ← w − η·g = w' writes w and w' with
     the digits (up to maxDigits, what float64 carries) it takes to tell them apart. */
  function equation(step, digits, maxDigits) {
    const head = symbol(step.symbol);
    if (step.relation === "←" && step.substituted.length) {
      const [before, ...rest] = step.substituted;
      const same = (n) => number(before.n, n) === number(step.value, n);
      let wide = digits;
      while (wide < (maxDigits || 16) && same(wide)) wide += 1;
      let text = `${head} ← ${number(before.n, wide)}${write(rest, digits)} = ${number(step.value, wide)}`;
      const moved = rest.some((token) => "n" in token && token.n !== 0);
      if (moved && same(wide)) {
        text += before.n !== step.value
          ? `  (a change below the ${wide} digits shown)` : "  (a step too small to change the value)";
      }
      return text;
    }
    const parts = [];
    if (step.formula.length) parts.push(write(step.formula, digits));
    if (step.substituted.length) parts.push(write(step.substituted, digits));
    parts.push(number(step.value, digits));
    return `${head} ${step.relation} ${parts.join(" = ")}`;
  }

  window.BackpropExplain = { stepsOf, number, symbol, write, equation };
})();
