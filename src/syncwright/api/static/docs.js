// The interactive API docs: the package's own Swagger UI (at /docs/assets) over /openapi.json.
// A file rather than an inline script, so that the Content-Security-Policy of every page holds.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
