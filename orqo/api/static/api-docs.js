// Starts Swagger UI on the API docs page (orqo/api/docs_page.py). A file, not an inline
// script, so that the page's Content-Security-Policy can allow scripts from orqo only.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // No online validator badge: the page talks to orqo only.
    validatorUrl: null,
    // The bearer token typed under "Authorize" stays in this tab only (not localStorage).
    persistAuthorization: false
  });
});
