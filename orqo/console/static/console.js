// Live refresh of the deliveries list: every few seconds, fetch the first page's rows and swap
// them in. The page works without this script; only new deliveries stop appearing by themselves.
(function () {
  "use strict";
  var body = document.getElementById("delivery-rows");
  if (!body || !body.dataset.liveUrl) { return; }
  var url = body.dataset.liveUrl;
  var status = document.getElementById("live-status");
  var seen = {};
  Array.prototype.forEach.call(body.querySelectorAll("tr.delivery"), function (row) {
    seen[row.dataset.id] = true;
  });

  function refresh() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        // Anything but the fragment (the sign-in page after the session ended): stop.
        if (!response.ok || response.headers.get("X-Orqo-Fragment") !== "deliveries") {
          throw new Error("session ended or server error");
        }
        return response.text();
      })
      .then(function (html) {
        body.innerHTML = html;
        Array.prototype.forEach.call(body.querySelectorAll("tr.delivery"), function (row) {
          if (!seen[row.dataset.id]) { row.classList.add("fresh"); seen[row.dataset.id] = true; }
        });
        window.setTimeout(refresh, 3000);
      })
      .catch(function () {
        if (status) { status.textContent = "Live refresh stopped: reload the page."; }
      });
  }
  window.setTimeout(refresh, 3000);
}());

// Copy buttons (the App page's webhook URL): shown only when this script runs; without it the
// URL stays in a readonly input to select and copy by hand.
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("button.copy[data-copy]"), function (button) {
    var input = document.getElementById(button.dataset.copy);
    if (!input) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      input.select();
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          if (document.execCommand("copy")) { done(); }
        });
      } else if (document.execCommand("copy")) {
        done();
      }
    });
  });
}());
