// Starts Swagger UI on #swagger-ui with the OpenAPI document named by its data-url attribute.
// A file of its own (not an inline script) so the documentation's Content-Security-Policy needs no 'unsafe-inline'.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
