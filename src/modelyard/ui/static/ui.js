// modelyard dashboard: small progressive enhancements; every page works without it.
(function () {
  "use strict";
  var base = document.body.dataset.base || "";

  function toast(text, bad) {
    var box = document.getElementById("toast");
    if (!box) return;
    var msg = document.createElement("div");
    msg.className = "msg" + (bad ? " bad" : "");
    msg.textContent = text;
    box.appendChild(msg);
    setTimeout(function () { msg.remove(); }, 6000);
  }

  // trials nested under their parent run: show or hide them
  document.querySelectorAll("button.toggle[data-parent]").forEach(function (button) {
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      button.textContent = (open ? "▾" : "▸") + button.textContent.slice(1);
      document.querySelectorAll("tr.child-of-" + button.dataset.parent).forEach(function (row) {
        row.hidden = !open;
      });
    });
  });

  // compare: enabled with 2 to 5 runs selected
  var compare = document.getElementById("compare");
  if (compare) {
    var boxes = document.querySelectorAll('input[name="ids"][form="compare-form"]');
    var hint = document.getElementById("compare-hint");
    var update = function () {
      var n = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      compare.disabled = n < 2 || n > 5;
      hint.textContent = n === 0 ? "select 2 to 5 runs" : n + " selected" + (n > 5 ? " (at most 5)" : "");
    };
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
  }

  // promote / roll back: move an alias through the API (admin key), then reload
  document.querySelectorAll('button[data-action="alias"]').forEach(function (button) {
    button.addEventListener("click", function () {
      var d = button.dataset;
      var reasonBox = document.getElementById("reason");
      var reason = (reasonBox && reasonBox.value.trim()) || d.reason || "";
      if (!window.confirm("Point " + d.alias + " of " + d.model + " at v" + d.version + "?")) return;
      button.disabled = true;
      fetch(base + "/api/models/" + encodeURIComponent(d.model) + "/aliases", {
        method: "POST", credentials: "same-origin",
        headers: {"content-type": "application/json", "x-modelyard-ui": "1"},
        body: JSON.stringify({alias: d.alias, version: Number(d.version), reason: reason})
      }).then(function (r) {
        return r.json().then(function (body) { return {ok: r.ok, body: body}; });
      }).then(function (res) {
        if (!res.ok) { toast(res.body.detail || "the change was refused", true); button.disabled = false; return; }
        toast(d.alias + " → v" + d.version);
        window.location.reload();
      }).catch(function (err) { toast(String(err), true); button.disabled = false; });
    });
  });
})();
