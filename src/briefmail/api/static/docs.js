// Starts Swagger UI on /api/v1/docs. A file, not an inline script, so the page works
// under a Content-Security-Policy without 'unsafe-inline'.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
