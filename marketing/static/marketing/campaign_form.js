// The campaign form shows the schedule fields of the chosen kind only; the server checks them all the same.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  if (!form) { return; }
  var kind = form.querySelector("[name=kind]");
  if (!kind) { return; }
  function show() {
    form.querySelectorAll("[data-kinds]").forEach(function (box) {
      box.hidden = box.dataset.kinds.split(" ").indexOf(kind.value) === -1;
    });
  }
  kind.addEventListener("change", show);
  show();
})();
