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
