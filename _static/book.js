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

window.addEventListener("DOMContentLoaded", markNumbers);
window.addEventListener("load", () => {
  markWideTables();
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(markWideTables);
});
window.addEventListener("resize", markWideTables);
