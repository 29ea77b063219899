// Starts Swagger UI (vendored from the swagger-ui-dist npm package) on #api-reference, for the
// OpenAPI document its data-spec-url names. A file of its own: the CSP allows no inline script.
(function () {
  // What the Content-Security-Policy refused, if anything (the browser tests read it).
  window.cspViolations = [];
  document.addEventListener("securitypolicyviolation", function (e) {
    window.cspViolations.push(e.violatedDirective + " " + e.blockedURI);
  });
  function start() {
    var el = document.getElementById("api-reference");
    if (!el || !window.SwaggerUIBundle) return;
    window.ui = window.SwaggerUIBundle({
      url: el.getAttribute("data-spec-url"),
      domNode: el,
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      validatorUrl: null,
      tryItOutEnabled: false,
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
