// Mark the `.wide-table` boxes whose table is wider than the column, so that CSS shows the scroll hint
// only where there is something to scroll to.
function markWideTables() {
  for (const box of document.querySelectorAll(".wide-table")) {
    const table = box.querySelector("table");
    const wide = Math.max(box.scrollWidth, table ? table.getBoundingClientRect().width : 0);
    const overflowing = wide > box.clientWidth + 1;
    box.classList.toggle("is-overflowing", overflowing);
    let hint = box.previousElementSibling;
    if (!(hint && hint.classList.contains("wide-table-hint"))) {
      hint = document.createElement("div");
      hint.className = "wide-table-hint";
      hint.textContent = "↔ a wide table: scroll it sideways";
      box.before(hint);
    }
    hint.hidden = !overflowing;
  }
}
// Table cells that hold only a number (digits, signs, exponent, %, ±, brackets) never wrap: class `num`.
const NUMBER = /^[\s\d.,%eE+\-−±×\[\]()–/]+$/;
function markNumbers() {
  for (const cell of document.querySelectorAll("main td, main th")) {
    const text = cell.textContent.trim();
    if (text && text.length <= 40 && /\d/.test(text) && NUMBER.test(text)) cell.classList.add("num");
  }
}

// Inside the text of a table cell, a number with a sign or an exponent ("-0.75", "1.8e-16") is kept
// on one line too (a browser may break after its hyphen): wrapped in a `span.num`.
const INLINE_NUMBER = /[-−]?\d[\d.,]*(?:[eE][-+−]?\d+)?/g;
function keepInlineNumbers() {
  const skip = "script, style, code, pre, .math, mjx-container, .num";
  for (const cell of document.querySelectorAll("main td, main th")) {
    if (cell.classList.contains("num")) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (!node.parentElement.closest(skip) && /\d[eE][-+−]?\d|[-−]\d/.test(node.data)) nodes.push(node);
    }
    for (const node of nodes) {
      const parts = node.data.split(INLINE_NUMBER);
      const numbers = node.data.match(INLINE_NUMBER) || [];
      const fragment = document.createDocumentFragment();
      parts.forEach((text, i) => {
        if (text) fragment.append(text);
        if (i < numbers.length) {
          const number = numbers[i];
          if (/[eE]|^[-−]/.test(number)) {
            const span = document.createElement("span");
            span.className = "num";
            span.textContent = number;
            fragment.append(span);
          } else fragment.append(number);
        }
      });
      node.replaceWith(fragment);
    }
  }
}

window.addEventListener("DOMContentLoaded", markNumbers);
window.addEventListener("DOMContentLoaded", keepInlineNumbers);
window.addEventListener("load", () => {
  markWideTables();
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(markWideTables);
});
window.addEventListener("resize", markWideTables);
