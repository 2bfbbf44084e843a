// The segment form's live count: posts the form as it stands to the preview endpoint when a field changes.
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  var out = document.getElementById("segment-count");
  if (!form || !out || !window.fetch) { return; }
  var timer = null;
  function refresh() {
    fetch(form.dataset.previewUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        out.textContent = body.error ? body.error.message : (out.dataset.label || "Customers now:") + " " + body.count;
      })
      .catch(function () { out.textContent = ""; });
  }
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
})();
